import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { BpmnError, type WorkflowEngine } from '../../engine-adapter/contract.ts';

export interface MetricsOptions {
  knex: Knex;
  logger: Logger;
  engine: 'embedded' | 'zeebe';
  /** Label `worker` of this process's series (VISITFLOW_WORKER_INDEX of a forked server process, else 1). */
  workerIndex?: number;
  /** How long the database gauges are reused between scrapes (default 1 s). */
  cacheMs?: number;
  /** Node/process metrics of prom-client (default true). */
  defaultMetrics?: boolean;
  /** Requests in flight and waiting for a turn (the admission of this process). */
  admission?: () => { active: number; waiting: number };
}

/** Route label of a request no router matched: an API path (a 404 or 405), or a page, asset or probe. */
export const UNMATCHED_API = '(unmatched)';
export const NOT_API = '(static)';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Requests of one method, route and status: plain numbers, read only when scraped. */
interface RequestSeries {
  labels: { method: string; route: string; status: string };
  count: number;
  timing: Timing;
}

/** Latencies of one method and route: per-bucket counts (not cumulative), sum and count. */
interface Timing {
  method: string;
  route: string;
  buckets: Float64Array;
  sum: number;
  count: number;
}

type Sample = { value: number; labels: Record<string, string | number>; metricName?: string };

/**
 * What /metrics shows, in two registries:
 * - `process`: what this server process counts itself (HTTP requests and latencies, job outcomes, Node.js and
 *   process metrics), labelled `worker`. With WORKERS > 1 the primary gathers every worker's series (see
 *   cluster.ts); the label keeps them apart, so a restarted worker resets only its own counters.
 * - `database`: gauges read from the shared database at scrape time (SMS outbox, open incidents, waiting
 *   jobs). They are the same whichever worker reads them, so only the worker that answers the scrape does,
 *   at most once per `cacheMs`, and without a worker label.
 * Labels never carry a raw URL, an id or personal data: routes are the routers' path patterns.
 */
export class Metrics {
  readonly process = new Registry();
  readonly database = new Registry();
  private readonly jobs: Counter<'type' | 'result'>;
  /** The samples of the last database read; empty lists when it failed (left out rather than shown as 0). */
  private fromDatabase: { up: number; outbox: Sample[]; incidents: Sample[]; jobs: Sample[] } = { up: 0, outbox: [], incidents: [], jobs: [] };
  /** method -> route -> status -> its counters, so a request after the first of its kind allocates nothing. */
  private readonly series = new Map<string, Map<string, Map<number, RequestSeries>>>();
  private readonly timings: Timing[] = [];
  private readonly knex: Knex;
  private readonly logger: Logger;
  private readonly engine: 'embedded' | 'zeebe';
  private readonly cacheMs: number;
  private databaseRead?: { at: number; done: Promise<void> };

  constructor(options: MetricsOptions) {
    this.knex = options.knex;
    this.logger = options.logger;
    this.engine = options.engine;
    this.cacheMs = options.cacheMs ?? 1000;
    this.process.setDefaultLabels({ worker: String(options.workerIndex ?? 1) });
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.process });

    // Kept as plain numbers by observeRequest and turned into samples only when scraped: prom-client's own
    // Counter/Histogram build a label key string per call (about 1.3 us per request measured, with garbage).
    this.process.registerMetric(
      this.scraped('visitflow_http_requests_total', 'HTTP requests answered, by method, route pattern and status', 'counter', () =>
        [...this.allSeries()].map((s) => ({ value: s.count, labels: s.labels })),
      ),
    );
    this.process.registerMetric(
      this.scraped(
        'visitflow_http_request_duration_seconds',
        'Time from a request arriving to its answer being ready, by method and route pattern',
        'histogram',
        () => this.timings.flatMap((t) => histogramSamples('visitflow_http_request_duration_seconds', t)),
      ),
    );
    this.jobs = new Counter({
      name: 'visitflow_engine_jobs_total',
      help: 'Service-task jobs run by this process, by job type and result (completed, failed: thrown and retried or raised as an incident, bpmn_error)',
      labelNames: ['type', 'result'],
      registers: [this.process],
    });
    const admission = options.admission;
    if (admission) {
      new Gauge({
        name: 'visitflow_http_api_requests_active',
        help: 'API requests this process is working on now',
        registers: [this.process],
        collect() {
          this.set(admission().active);
        },
      });
      new Gauge({
        name: 'visitflow_http_api_requests_waiting',
        help: 'API requests waiting for a turn in this process (turned away with 503 past the queue or the wait)',
        registers: [this.process],
        collect() {
          this.set(admission().waiting);
        },
      });
    }

    // Read from the database once per scrape (all four share one read, reused for cacheMs).
    const fromDb = (name: string, help: string, pick: (d: Metrics['fromDatabase']) => Sample[]) =>
      this.database.registerMetric(
        this.scraped(name, help, 'gauge', async () => {
          await this.readDatabase();
          return pick(this.fromDatabase);
        }),
      );
    fromDb(
      'visitflow_sms_outbox_messages',
      'SMS in the outbox not sent: pending (to be sent or retried) and failed (out of attempts)',
      (d) => d.outbox,
    );
    fromDb('visitflow_engine_incidents_open', 'Process incidents waiting for an administrator', (d) => d.incidents);
    fromDb(
      'visitflow_engine_jobs_waiting',
      'Jobs of the embedded engine not done yet, by type and state (open, activated: being run, failed: out of retries)',
      (d) => d.jobs,
    );
    fromDb(
      'visitflow_metrics_database_up',
      '1 when the database gauges of this scrape could be read, 0 when the database did not answer (they are left out)',
      (d) => [{ value: d.up, labels: {} }],
    );
  }

  /** Called once per request (the hot path): map look-ups and a few additions, no allocation once seen. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const m = METHODS.has(method) ? method : 'OTHER';
    let byRoute = this.series.get(m);
    if (!byRoute) this.series.set(m, (byRoute = new Map()));
    let byStatus = byRoute.get(route);
    if (!byStatus) byRoute.set(route, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (!s) s = this.newSeries(byStatus, m, route, status);
    s.count++;
    const t = s.timing;
    t.count++;
    t.sum += seconds;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]) i++;
    t.buckets[i]++;
  }

  private newSeries(byStatus: Map<number, RequestSeries>, method: string, route: string, status: number): RequestSeries {
    // All statuses of a method and route share one latency histogram.
    let timing = [...byStatus.values()][0]?.timing;
    if (!timing) {
      timing = { method, route, buckets: new Float64Array(BUCKETS.length + 1), sum: 0, count: 0 };
      this.timings.push(timing);
    }
    const s: RequestSeries = { labels: { method, route, status: String(status) }, count: 0, timing };
    byStatus.set(status, s);
    return s;
  }

  private *allSeries(): Generator<RequestSeries> {
    for (const byRoute of this.series.values()) for (const byStatus of byRoute.values()) yield* byStatus.values();
  }

  /** A metric of the registry whose samples are made at scrape time (prom-client calls get()). */
  private scraped(name: string, help: string, type: 'counter' | 'histogram' | 'gauge', values: () => Sample[] | Promise<Sample[]>) {
    const metric = { name, help, type, aggregator: 'sum' as const };
    return { ...metric, get: async () => ({ ...metric, values: await values() }), reset: () => {} } as unknown as Counter;
  }

  countJob(type: string, result: 'completed' | 'failed' | 'bpmn_error'): void {
    this.jobs.inc({ type, result });
  }

  /** The engine as the process workers see it: each handler's outcome is counted by job type. */
  countingJobs(engine: WorkflowEngine): WorkflowEngine {
    return new Proxy(engine, {
      get: (target, prop, receiver) => {
        if (prop !== 'registerWorker') {
          const value = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        const register: WorkflowEngine['registerWorker'] = (type, handler, options) =>
          target.registerWorker(
            type,
            async (job) => {
              try {
                const result = await handler(job);
                this.countJob(type, 'completed');
                return result;
              } catch (err) {
                this.countJob(type, err instanceof BpmnError ? 'bpmn_error' : 'failed');
                throw err;
              }
            },
            options,
          );
        return register;
      },
    });
  }

  /** One read of the database gauges for all four collect() calls of a scrape, reused for cacheMs. */
  private readDatabase(): Promise<void> {
    const now = Date.now();
    if (this.databaseRead && now - this.databaseRead.at < this.cacheMs) return this.databaseRead.done;
    const done = this.queryDatabase();
    this.databaseRead = { at: now, done };
    return done;
  }

  private async queryDatabase(): Promise<void> {
    try {
      const [outbox, incidents, jobs] = await Promise.all([
        this.knex('sms_outbox').whereIn('status', ['pending', 'failed']).select('status').count({ n: '*' }).groupBy('status'),
        this.knex(this.engine === 'embedded' ? 'engine_incidents' : 'zeebe_incidents')
          .where({ state: 'open' })
          .count({ n: '*' }),
        this.engine === 'embedded'
          ? this.knex('engine_waits')
              .where({ kind: 'job' })
              .select('job_type', 'state')
              .count({ n: '*' })
              .groupBy('job_type', 'state')
          : Promise.resolve([]),
      ]);
      const byStatus = new Map<string, number>([
        ['pending', 0],
        ['failed', 0],
      ]);
      for (const row of outbox as Array<{ status: string; n: number | string }>) byStatus.set(row.status, Number(row.n));
      this.fromDatabase = {
        up: 1,
        outbox: [...byStatus].map(([status, value]) => ({ value, labels: { status } })),
        incidents: [{ value: Number((incidents as Array<{ n: number | string }>)[0]?.n ?? 0), labels: {} }],
        jobs: (jobs as Array<{ job_type: string | null; state: string; n: number | string }>).map((row) => ({
          value: Number(row.n),
          labels: { type: row.job_type ?? '', state: row.state },
        })),
      };
    } catch (err) {
      // A scrape still answers (process metrics are worth having when the database is down); the gauges are left out, not shown as 0.
      this.logger.warn({ error: err instanceof Error ? err.message : String(err) }, 'metrics: reading the database gauges failed');
      this.fromDatabase = { up: 0, outbox: [], incidents: [], jobs: [] };
    }
  }
}

/** Prometheus histogram samples of one method and route: cumulative buckets, +Inf, sum and count. */
function histogramSamples(name: string, t: Timing): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < BUCKETS.length; i++) {
    cumulative += t.buckets[i];
    samples.push({ metricName: `${name}_bucket`, labels: { method: t.method, route: t.route, le: BUCKETS[i] }, value: cumulative });
  }
  samples.push({ metricName: `${name}_bucket`, labels: { method: t.method, route: t.route, le: '+Inf' }, value: t.count });
  samples.push({ metricName: `${name}_sum`, labels: { method: t.method, route: t.route }, value: t.sum });
  samples.push({ metricName: `${name}_count`, labels: { method: t.method, route: t.route }, value: t.count });
  return samples;
}
