import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { Knex } from 'knex';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEmbeddedEngine } from '../../engine-adapter/index.ts';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { openDatabase } from '../../server/db/database.ts';
import { seedDemoData } from '../../server/directory/demo-data.ts';
import { createLogger } from '../../server/logger.ts';
import { generateSecrets } from '../../server/secrets.ts';
import { createServices, type Deps } from '../../server/services.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import { applicationData, newVisitor } from '../helpers/flow.ts';
import { makeIdNumber, makeMobile } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * What the server answers when it cannot keep up (issue 16): a request that cannot get a database connection
 * in time, or cannot even get a turn, is answered 503 SERVER_BUSY with Retry-After, having changed nothing;
 * never a 500. And a genuine 500 is logged with its request id, without personal data.
 */

/** The server over its own small pool with a short acquire timeout, so that exhausting it takes one test step. */
async function smallPoolServer(admission?: Deps['admission']) {
  const testDb = await createTestDatabase('postgres');
  const db = await openDatabase({ kind: 'postgres', url: testDb.url!, pool: { min: 0, max: 2 }, acquireTimeoutMs: 1000 });
  const clock = new FakeClock('2026-12-01T02:00:00Z');
  const logs: any[] = [];
  const logger = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line)) });
  const config = loadConfig({ DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'visitflow-test-')), DB_POOL_MAX: '2' });
  const engine = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
  const services = createServices({ config, secrets: generateSecrets(), knex: db.knex, clock, logger, engine, admission });
  await seedDemoData(db.knex, services.directory);
  await services.deployments.deployBundled(fileURLToPath(new URL('../..', import.meta.url)));
  const server = http.createServer(createApp(services).callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const held: Knex.Transaction[] = [];
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    knex: db.knex,
    services,
    logs,
    /** Takes every pooled connection (as a stuck backlog of work would). */
    async exhaustPool() {
      for (let i = 0; i < 2; i++) held.push(await db.knex.transaction());
    },
    async releasePool() {
      for (const trx of held.splice(0)) await trx.rollback();
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      for (const trx of held.splice(0)) await trx.rollback().catch(() => {});
      await services.sms.stop();
      await services.applications.drainStarter();
      await engine.close();
      await db.close();
      await testDb.close();
      fs.rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

const applicationCount = async (knex: Knex) => Number((await knex('applications').count({ n: '*' }))[0].n);

function assertBusy(t: any, res: { status: number; body: any; headers: Headers }) {
  t.is(res.status, 503, JSON.stringify(res.body));
  t.is(res.body.error.code, 'SERVER_BUSY');
  t.regex(res.body.error.message, /[\u4e00-\u9fff]/, 'a Chinese message, like every API error');
  t.true(Number(res.headers.get('retry-after')) >= 1, 'Retry-After says when to come back');
}

const postgres = (await testBackends()).includes('postgres');

(postgres ? test : test.skip)('postgres: a request that cannot get a database connection in time answers 503 + Retry-After, not 500', async (t) => {
  const server = await smallPoolServer();
  try {
    const { client } = await newVisitor({ url: server.url } as any);
    const data = await applicationData(client);
    await server.exhaustPool();
    const form = await client.get('/api/applications/form');
    assertBusy(t, form);
    const submit = await client.post('/api/applications', { data });
    assertBusy(t, submit);
    const tasks = await client.get('/api/tasks');
    t.not(tasks.status, 500);
    const busy = server.logs.filter((l) => l.msg === 'server busy');
    t.true(busy.length >= 2, 'each busy answer is logged');
    t.true(busy.every((l) => typeof l.requestId === 'string' && l.level === 40));
    t.false(server.logs.some((l) => l.level >= 50), 'a busy database is not an internal error');

    await server.releasePool();
    t.is(await applicationCount(server.knex), 0, 'the refused submission stored nothing');
    t.is((await client.get('/api/applications/form')).status, 200);
    t.is((await client.post('/api/applications', { data })).status, 201, 'trying again later works');
    t.is(await applicationCount(server.knex), 1);
  } finally {
    await server.close();
  }
});

(postgres ? test : test.skip)('postgres: past the requests it can take, the server turns new ones away at once, before they change anything', async (t) => {
  const server = await smallPoolServer({ concurrency: 1, queue: 1, maxWaitMs: 20_000 });
  try {
    const { client } = await newVisitor({ url: server.url } as any);
    const data = await applicationData(client);
    const admission = server.services.admission;
    await server.exhaustPool();
    // One request runs (stuck waiting for a connection), one waits for its turn: the next is one too many.
    const running = client.get('/api/applications/form');
    while (admission.stats().active < 1) await new Promise((r) => setTimeout(r, 10));
    const waiting = client.get('/api/applications/form');
    while (admission.stats().waiting < 1) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    const shed = await client.post('/api/applications', { data });
    assertBusy(t, shed);
    t.true(performance.now() - started < 900, 'answered at once, not after the connection wait');
    t.is(admission.stats().waiting, 1, 'the waiting request kept its place');
    // The pool frees up before the running request gives up: both finish normally.
    await server.releasePool();
    t.is((await running).status, 200);
    t.is((await waiting).status, 200);
    t.is(await applicationCount(server.knex), 0, 'the turned-away submission stored nothing');
    t.is((await client.post('/api/applications', { data })).status, 201);
    t.is(await applicationCount(server.knex), 1);
    t.is(admission.stats().active, 0);
  } finally {
    await server.close();
  }
});

(postgres ? test : test.skip)('postgres: a request that waited too long for its turn is turned away with 503', async (t) => {
  const server = await smallPoolServer({ concurrency: 1, queue: 10, maxWaitMs: 100 });
  try {
    const { client } = await newVisitor({ url: server.url } as any);
    await server.exhaustPool();
    const running = client.get('/api/applications/form');
    while (server.services.admission.stats().active < 1) await new Promise((r) => setTimeout(r, 10));
    assertBusy(t, await client.get('/api/applications/form'));
    await server.releasePool();
    t.is((await running).status, 200);
    t.is((await client.get('/healthz')).status, 200);
  } finally {
    await server.close();
  }
});

for (const kind of await testBackends()) {
  test(`${kind}: an internal error is answered 500 and logged with the request id, without clear ID numbers or mobiles`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const idNumber = makeIdNumber();
      const mobile = makeMobile();
      const { client } = await newVisitor(server);
      const fault = Object.assign(new Error(`lookup of ${idNumber} / ${mobile} failed`), { bindings: [idNumber, mobile], detail: `(${mobile})` });
      server.services.applications.startForm = async () => {
        throw fault;
      };
      const res = await client.get('/api/applications/form');
      t.is(res.status, 500);
      t.deepEqual(res.body, { error: { code: 'INTERNAL', message: '服务器内部错误，请稍后再试' } });
      const requestId = res.headers.get('x-request-id');
      t.truthy(requestId, 'the answer names the request, so that its log line can be found');
      const logged = server.logs.find((l) => l.level === 50 && l.requestId === requestId);
      t.truthy(logged, 'the error is logged with the request id');
      t.is(logged.path, '/api/applications/form');
      t.regex(logged.error.message, /lookup of .* failed/);
      t.is(logged.error.type, 'Error');
      t.truthy(logged.error.stack);
      const text = JSON.stringify(server.logs);
      t.false(text.includes(idNumber), 'no clear ID number in the logs');
      t.false(text.includes(mobile), 'no clear mobile in the logs');
    } finally {
      await server.close();
    }
  });
}
