import test from 'ava';
import { SessionCache } from '../../server/auth/session-cache.ts';
import type { Session } from '../../server/auth/session.service.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, staffClient } from '../helpers/flow.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * A server process keeps the sessions it has read (PostgreSQL only). Two server processes on one database, as
 * behind a load balancer: what ends or changes a session in one must hold in the other at once, and a process
 * that cannot hear the changes must read every session as before.
 */

/** Retries `check` for up to `ms` (a change notice travels through PostgreSQL to the other process). */
async function eventually(check: () => Promise<boolean>, ms = 3_000): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Statements about sessions that `server` sends while `fn` runs. */
async function sessionReads(server: TestServer, fn: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const count = (q: { sql: string }) => {
    if (/from "sessions"/.test(q.sql)) n++;
  };
  server.db.knex.on('query', count);
  try {
    await fn();
  } finally {
    server.db.knex.off('query', count);
  }
  return n;
}

/** Two server processes on one PostgreSQL database, as behind a load balancer. */
async function twoProcesses(run: (a: TestServer, b: TestServer) => Promise<void>) {
  const a = await startTestServer('postgres');
  const b = await startTestServer('postgres', { sameDatabaseAs: a });
  try {
    await run(a, b);
  } finally {
    await b.close();
    await a.close();
  }
}

const backends = await testBackends();

if (backends.includes('postgres')) {
  test('postgres: a session read once is not read again; logging out in one process ends it in the other at once', (t) =>
    twoProcesses(async (a, b) => {
      t.true(b.services.sessionChanges.listening);
      const { client } = await newVisitor(a);
      const atB = client.on(b.url);
      t.is((await atB.get('/api/visitors/me')).status, 200);
      t.is(await sessionReads(b, () => atB.get('/api/visitors/me')), 0, 'the second request is served without reading its session');

      // The cookie as it was before the logout, as a stolen copy would be.
      const stale = client.copy(b.url);
      t.is((await client.post('/api/visitors/logout')).status, 204);
      t.true(await eventually(async () => (await stale.get('/api/visitors/me')).status === 401), 'the other process refuses the ended session');
    }),
  );

  test("postgres: a staff member deactivated or given other roles in one process is treated so in the other", (t) =>
    twoProcesses(async (a, b) => {
      const { client: admin } = await staffClient(a, 'admin');
      const { client: host, staff } = await staffClient(a, 'host-cs');
      const hostAtB = host.on(b.url);
      t.is((await hostAtB.get('/api/tasks?list=mine')).status, 200);
      t.is(await sessionReads(b, () => hostAtB.get('/api/tasks?list=mine')), 0, 'kept between requests');

      t.is((await admin.request('PUT', `/api/admin/staff/${staff.id}`, { roles: ['guard'] })).status, 200);
      t.true(await eventually(async () => (await hostAtB.get('/api/tasks?list=mine')).status === 403), 'the new roles hold in the other process');

      t.is((await admin.post(`/api/admin/staff/${staff.id}/deactivate`)).status, 200);
      t.true(await eventually(async () => (await hostAtB.get('/api/staff/me')).status === 401), 'a deactivated account is signed out there too');
    }),
  );

  test('postgres: while the change notices cannot be heard, every request reads its session; then they are heard again', (t) =>
    twoProcesses(async (a, b) => {
      const { client } = await newVisitor(a);
      const atB = client.on(b.url);
      t.is((await atB.get('/api/visitors/me')).status, 200);
      // The listener's connection is cut (a database restart, a network fault).
      await a.db.knex.raw("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen %'");
      t.true(await eventually(async () => !b.services.sessionChanges.listening), 'the loss is noticed');
      t.is(await sessionReads(b, () => atB.get('/api/visitors/me')), 1, 'the session is read again while nothing can be heard');
      // A session ended with nobody listening is refused all the same.
      await a.db.knex('sessions').del();
      t.is((await atB.get('/api/visitors/me')).status, 401);
      t.true(await eventually(() => Promise.resolve(b.services.sessionChanges.listening), 10_000), 'the listener connects again');
    }),
  );
}

const session = (id: string, subjectId: number, kind: Session['kind'] = 'staff'): Session => ({
  id,
  kind,
  subjectId,
  expiresAt: new Date(Date.now() + 3600_000),
});

test('the cache keeps nothing until it hears changes, and drops what a change touches', (t) => {
  let now = 0;
  const cache = new SessionCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
  cache.put(cache.stamp(), { session: session('s1', 1), subject: null });
  t.is(cache.get('staff', 's1'), undefined, 'not listening: not kept');

  cache.setListening(true);
  cache.put(cache.stamp(), { session: session('s1', 1), subject: { roles: ['host'] } });
  cache.put(cache.stamp(), { session: session('s2', 2), subject: null });
  t.deepEqual(cache.get('staff', 's1')?.subject, { roles: ['host'] });
  t.is(cache.get('visitor', 's1'), undefined, 'a session of another kind is not a match');

  const stamp = cache.stamp();
  cache.changed('staff:1');
  t.is(cache.get('staff', 's1'), undefined, "that staff member's sessions are dropped");
  t.truthy(cache.get('staff', 's2'), 'the others stay');
  cache.put(stamp, { session: session('s1', 1), subject: { roles: ['host'] } });
  t.is(cache.get('staff', 's1'), undefined, 'what was read before the change is not put');

  cache.put(cache.stamp(), { session: session('s3', 3), subject: null });
  cache.put(cache.stamp(), { session: session('s4', 4), subject: null });
  t.is(cache.size, 2, 'at most maxEntries, the oldest going first');
  t.is(cache.get('staff', 's2'), undefined);

  now += 1001;
  t.is(cache.get('staff', 's4'), undefined, 'an entry older than the TTL is read again');

  cache.put(cache.stamp(), { session: session('s5', 5), subject: null });
  cache.changed('all');
  t.is(cache.size, 0, 'a purge drops everything');
  cache.put(cache.stamp(), { session: session('s6', 6), subject: null });
  cache.setListening(false);
  t.is(cache.size, 0, 'losing the listener drops everything');
});
