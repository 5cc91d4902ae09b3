import test from 'ava';
import { Metrics } from '../../server/metrics/metrics.ts';

const metrics = () => new Metrics({ knex: {} as any, logger: {} as any, engine: 'embedded', defaultMetrics: false, workerIndex: 2 });

test('request latencies land in the right cumulative buckets, per method and route, whatever the status', async (t) => {
  const m = metrics();
  m.observeRequest('GET', '/api/x/:id', 200, 0.003);
  m.observeRequest('GET', '/api/x/:id', 404, 0.3);
  m.observeRequest('GET', '/api/x/:id', 200, 0.25); // a bound belongs to its bucket (le = less or equal)
  m.observeRequest('POST', '/api/y', 201, 20);
  m.observeRequest('BREW', '/api/y', 405, 0.001);
  const text = await m.process.metrics();
  const line = (s: string) => t.true(text.split('\n').includes(s), s);
  line('visitflow_http_requests_total{method="GET",route="/api/x/:id",status="200",worker="2"} 2');
  line('visitflow_http_requests_total{method="GET",route="/api/x/:id",status="404",worker="2"} 1');
  line('visitflow_http_requests_total{method="OTHER",route="/api/y",status="405",worker="2"} 1');
  line('visitflow_http_request_duration_seconds_bucket{method="GET",route="/api/x/:id",le="0.005",worker="2"} 1');
  line('visitflow_http_request_duration_seconds_bucket{method="GET",route="/api/x/:id",le="0.1",worker="2"} 1');
  line('visitflow_http_request_duration_seconds_bucket{method="GET",route="/api/x/:id",le="0.25",worker="2"} 2');
  line('visitflow_http_request_duration_seconds_bucket{method="GET",route="/api/x/:id",le="0.5",worker="2"} 3');
  line('visitflow_http_request_duration_seconds_bucket{method="GET",route="/api/x/:id",le="+Inf",worker="2"} 3');
  line('visitflow_http_request_duration_seconds_count{method="GET",route="/api/x/:id",worker="2"} 3');
  line('visitflow_http_request_duration_seconds_bucket{method="POST",route="/api/y",le="10",worker="2"} 0');
  line('visitflow_http_request_duration_seconds_bucket{method="POST",route="/api/y",le="+Inf",worker="2"} 1');
  line('visitflow_http_request_duration_seconds_sum{method="POST",route="/api/y",worker="2"} 20');
  t.is(text.match(/^# TYPE visitflow_http_request_duration_seconds histogram$/gm)?.length, 1);
});

test('when the database does not answer, the scrape still answers: database_up 0 and no stale or zero gauges', async (t) => {
  const warnings: string[] = [];
  const m = new Metrics({
    knex: (() => {
      throw new Error('connect ECONNREFUSED');
    }) as any,
    logger: { warn: (_: unknown, msg: string) => warnings.push(msg) } as any,
    engine: 'embedded',
    defaultMetrics: false,
  });
  const text = await m.database.metrics();
  t.true(text.split('\n').includes('visitflow_metrics_database_up 0'));
  t.false(/^visitflow_engine_incidents_open /m.test(text), 'no incident count is shown rather than a false 0');
  t.false(/^visitflow_sms_outbox_messages\{/m.test(text));
  t.is(warnings.length, 1, 'one read for the whole scrape');
});
