import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue, Registry } from 'prom-client';

/**
 * /metrics with WORKERS > 1. node:cluster hands each connection to one worker, so a scrape reaches one of
 * them; that worker asks the primary, which asks every worker that is listening for its own series (labelled
 * `worker`, so nothing is summed across processes) and sends back the union as Prometheus text. A worker that
 * does not answer within the time limit is left out of that scrape (visitflow_metrics_workers{answered="false"}).
 *
 * prom-client's AggregatorRegistry.clusterMetrics() is not used as is: it sums same-named series across
 * workers (a restarted worker would then look like a counter reset of the whole server) and waits for every
 * forked worker, including one still starting, which only answers once its server is up.
 */

const SCRAPE = 'visitflow:metrics:scrape';
const COLLECT = 'visitflow:metrics:collect';
const PART = 'visitflow:metrics:part';
const RESULT = 'visitflow:metrics:result';

type Message =
  | { type: typeof SCRAPE; id: number }
  | { type: typeof COLLECT; id: number }
  | { type: typeof PART; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] }
  | { type: typeof RESULT; id: number; text?: string; error?: string };

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as Message).type === 'string' && (value as Message).type.startsWith('visitflow:metrics:');
}

export const inClusterWorker = (): boolean => cluster.isWorker;

let answering: Registry | undefined;
let nextId = 0;
const waiting = new Map<number, (message: Message & { type: typeof RESULT }) => void>();

/** In a forked server process: answers the primary's collection requests with `registry`'s series. */
export function answerPrimary(registry: Registry): void {
  if (!cluster.isWorker) return;
  const first = answering === undefined;
  answering = registry;
  if (!first) return;
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === COLLECT) {
      void answering!.getMetricsAsJSON().then(
        (metrics) => {
          // Summing by the full label set (worker included) is a union: no two workers share a series.
          for (const m of metrics) (m as { aggregator: string }).aggregator = 'sum';
          process.send?.({ type: PART, id: message.id, metrics });
        },
        () => process.send?.({ type: PART, id: message.id, metrics: [] }),
      );
    } else if (message.type === RESULT) {
      waiting.get(message.id)?.(message);
    }
  });
}

/** In a forked server process: every listening worker's series, gathered by the primary. */
export function scrapeCluster(timeoutMs = 5000): Promise<string> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error('the primary process did not answer the metrics request'));
    }, timeoutMs);
    waiting.set(id, (message) => {
      clearTimeout(timer);
      waiting.delete(id);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.text ?? '');
    });
    process.send?.({ type: SCRAPE, id });
  });
}

/**
 * In the primary: serves the workers' scrape requests. `listening` lists the workers whose server is up
 * (a worker still starting has no metrics listener yet and is not asked).
 */
export function serveClusterMetrics(listening: () => Worker[], workerTimeoutMs = 2000): void {
  let nextCollect = 0;
  const primaryRegistry = new Registry();
  const workers = new Gauge({
    name: 'visitflow_metrics_workers',
    help: 'Server processes asked for this scrape, by whether they answered in time',
    labelNames: ['answered'],
    registers: [primaryRegistry],
  });
  const collections = new Map<number, (worker: Worker, metrics: MetricObjectWithValues<MetricValue<string>>[]) => void>();
  cluster.on('message', (from: Worker, message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === PART) {
      collections.get(message.id)?.(from, message.metrics);
      return;
    }
    if (message.type !== SCRAPE) return;
    const asked = listening().filter((w) => w.isConnected());
    const id = nextCollect++;
    const parts = new Map<number, MetricObjectWithValues<MetricValue<string>>[]>();
    const finish = async () => {
      collections.delete(id);
      clearTimeout(timer);
      try {
        workers.set({ answered: 'true' }, parts.size);
        workers.set({ answered: 'false' }, asked.length - parts.size);
        const answered = await primaryRegistry.getMetricsAsJSON();
        const text = await AggregatorRegistry.aggregate([...parts.values(), answered]).metrics();
        if (from.isConnected()) from.send({ type: RESULT, id: message.id, text });
      } catch (err) {
        if (from.isConnected()) from.send({ type: RESULT, id: message.id, error: err instanceof Error ? err.message : String(err) });
      }
    };
    const timer = setTimeout(() => void finish(), workerTimeoutMs);
    collections.set(id, (worker, metrics) => {
      if (!asked.includes(worker)) return;
      parts.set(worker.id, metrics);
      if (parts.size === asked.length) void finish();
    });
    for (const worker of asked) worker.send({ type: COLLECT, id });
    if (asked.length === 0) void finish();
  });
}
