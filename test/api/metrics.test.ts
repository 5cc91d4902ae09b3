import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, onlyTask, staffClient, submitApplication } from '../helpers/flow.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of await testBackends()) {
  test(`${kind}: /metrics counts requests by route pattern and status, shows the SMS outbox, and holds no personal data`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const client = new ApiClient(server.url);
      const visitor = makeVisitor();
      t.is((await client.post('/api/visitors/register', visitor)).status, 201);
      // the same route pattern for different ids; a visitor's own session cannot see someone else's application
      for (const id of [987654, 987655, 987656]) t.is((await client.get(`/api/applications/${id}`)).status, 404);
      t.is((await client.get(`/api/no-such-thing/${visitor.mobile}`)).status, 404);
      t.is((await client.get('/healthz')).status, 200);
      await client.get('/api/applications/form'); // also matches /api/applications/:id, which does not run
      const anonymous = new ApiClient(server.url);
      t.is((await anonymous.get('/api/tasks/42')).status, 401, "refused by the task router's role guard");
      t.is((await anonymous.get('/api/admin/settings')).status, 401);
      t.is((await anonymous.request('DELETE', '/api/applications/42')).status, 405);
      const before = await client.get('/metrics');
      t.is(before.status, 200);
      t.regex(before.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = before.body as string;
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'POST', route: '/api/visitors/register', status: '201' }), 1);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'GET', route: '/api/applications/:id', status: '404' }), 3);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' }), 1);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'GET', route: '/healthz', status: '200' }), 1);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'GET', route: '/api/applications/form' }), 1);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'GET', route: '/api/tasks/:id', status: '401' }), 1);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'GET', route: '/api/admin/settings', status: '401' }), 1);
      t.is(sample(text, 'visitflow_http_requests_total', { method: 'DELETE', route: '/api/applications/:id', status: '405' }), 1);
      t.false(text.includes('(?:'), 'no regular expression of a router guard as a route');
      t.is(sample(text, 'visitflow_http_request_duration_seconds_count', { method: 'GET', route: '/api/applications/:id' }), 3);
      t.is(sample(text, 'visitflow_http_request_duration_seconds_bucket', { route: '/api/applications/:id', le: '+Inf' }), 3);
      t.truthy(sample(text, 'process_resident_memory_bytes', { worker: '1' }), 'the default process metrics, labelled with the worker');
      t.is(sample(text, 'visitflow_metrics_database_up'), 1);
      t.is(sample(text, 'visitflow_engine_incidents_open'), 0);
      const pendingBefore = sample(text, 'visitflow_sms_outbox_messages', { status: 'pending' });
      t.is(typeof pendingBefore, 'number');
      t.false(/987654|987655|987656/.test(text), 'no raw URL with an id in a label');
      t.false(text.includes(visitor.mobile), 'no mobile');
      t.false(text.includes(visitor.idNumber), 'no ID number');

      // Two SMS queued, one of another given up: the outbox gauges follow (once the 1 s cache has passed).
      await server.services.sms.enqueue(server.db.knex, { dedupeKey: 'metrics:1', to: visitor.mobile, template: 'approved', body: '通过' });
      await server.services.sms.enqueue(server.db.knex, { dedupeKey: 'metrics:2', to: visitor.mobile, template: 'approved', body: '通过' });
      await server.db.knex('sms_outbox').where({ dedupe_key: 'metrics:2' }).update({ status: 'failed' });
      await wait(1100);
      const after = (await client.get('/metrics')).body as string;
      t.is(sample(after, 'visitflow_sms_outbox_messages', { status: 'pending' }), pendingBefore! + 1);
      t.is(sample(after, 'visitflow_sms_outbox_messages', { status: 'failed' }), 1);
      t.is(sample(after, 'visitflow_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }), 1, 'the first scrape is counted too');
      t.false(after.includes(visitor.mobile));
      await server.services.sms.deliverDue(100);
      await wait(1100);
      const delivered = (await client.get('/metrics')).body as string;
      t.is(sample(delivered, 'visitflow_sms_outbox_messages', { status: 'pending' }), 0);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a refusal's jobs show as waiting, then as completed by type`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      await submitApplication(server, client);
      const { client: host } = await staffClient(server, 'host-cs');
      const task = (await onlyTask(host)).tasks[0];
      t.is((await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse', opinion: '不同意' } })).status, 200);
      const scraper = new ApiClient(server.url);
      const waiting = (await scraper.get('/metrics')).body as string;
      t.true((sample(waiting, 'visitflow_engine_jobs_waiting', { type: 'application-status', state: 'open' }) ?? 0) >= 1, waiting);
      t.is(sample(waiting, 'visitflow_engine_jobs_total', { type: 'application-status', result: 'completed' }), undefined);
      await server.settle();
      await wait(1100);
      const done = (await scraper.get('/metrics')).body as string;
      t.is(sample(done, 'visitflow_engine_jobs_total', { type: 'application-status', result: 'completed' }), 1);
      t.is(sample(done, 'visitflow_engine_jobs_waiting', { type: 'application-status', state: 'open' }), undefined);
      t.is(sample(done, 'visitflow_engine_incidents_open'), 0);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a job handler that throws is counted as failed`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const metrics = server.services.metrics;
      // The process workers were registered through the counting engine: drive one handler through it.
      const counted = metrics.countingJobs({
        registerWorker: (_type: string, handler: (job: any) => Promise<unknown>) => {
          void handler({ key: '1' }).catch(() => {});
          void handler({ key: '2' }).catch(() => {});
        },
      } as any);
      let calls = 0;
      counted.registerWorker('metrics-test', async () => {
        calls++;
        if (calls === 2) throw new Error('provider down');
        return {};
      });
      await wait(10);
      const text = await metrics.process.metrics();
      t.is(sample(text, 'visitflow_engine_jobs_total', { type: 'metrics-test', result: 'completed' }), 1);
      t.is(sample(text, 'visitflow_engine_jobs_total', { type: 'metrics-test', result: 'failed' }), 1);
    } finally {
      await server.close();
    }
  });
}

test('pglite: without METRICS_TOKEN only direct local requests may scrape; with it, only the Bearer token', async (t) => {
  const open = await startTestServer('pglite', { demo: false });
  try {
    const client = new ApiClient(open.url);
    t.is((await client.get('/metrics')).status, 200, 'the test client is on loopback');
    const proxied = await client.request('GET', '/metrics', undefined, { 'x-forwarded-for': '203.0.113.9' });
    t.is(proxied.status, 403, 'a request a proxy forwarded is not local');
    t.is(proxied.body.error.code, 'METRICS_LOCAL_ONLY');
  } finally {
    await open.close();
  }
  const token = 'scrape-token-0123456789abcdef';
  const closed = await startTestServer('pglite', { demo: false, env: { METRICS_TOKEN: token } });
  try {
    const client = new ApiClient(closed.url);
    const none = await client.get('/metrics');
    t.is(none.status, 401);
    t.regex(none.headers.get('content-type') ?? '', /json/);
    t.is(none.body.error.code, 'METRICS_TOKEN_REQUIRED');
    t.is(none.headers.get('www-authenticate'), 'Bearer realm="metrics"');
    const wrong = await client.request('GET', '/metrics', undefined, { authorization: `Bearer ${token.slice(0, -1)}x` });
    t.is(wrong.status, 401);
    t.false(String(wrong.body).includes('visitflow_http_requests_total'));
    const right = await client.request('GET', '/metrics', undefined, { authorization: `Bearer ${token}` });
    t.is(right.status, 200);
    t.truthy(sample(right.body, 'visitflow_http_requests_total', { route: '/metrics', status: '401' }), 'refused scrapes are counted');
  } finally {
    await closed.close();
  }
});
