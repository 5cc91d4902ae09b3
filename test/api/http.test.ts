import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';
import { makeVisitor } from '../helpers/identities.ts';

for (const kind of await testBackends()) {
  test(`${kind}: health, readiness, unknown routes, malformed and oversized bodies get clear 4xx answers`, async (t) => {
    const server = await startTestServer(kind, { env: { BODY_MAX_BYTES: '2048' }, demo: false });
    try {
      const client = new ApiClient(server.url);
      t.is((await client.get('/healthz')).status, 200);
      t.deepEqual((await client.get('/readyz')).body, { status: 'ready', database: true });
      const missing = await client.get('/api/no-such-thing');
      t.is(missing.status, 404);
      t.is(missing.body.error.code, 'NOT_FOUND');
      const malformed = await client.request('POST', '/api/visitors/register', '{"name":', { 'content-type': 'application/json' });
      t.is(malformed.status, 400);
      t.is(malformed.body.error.code, 'MALFORMED_JSON');
      const big = await client.post('/api/visitors/register', { ...makeVisitor(), name: 'x'.repeat(5000) });
      t.is(big.status, 413);
      t.is(big.body.error.code, 'BODY_TOO_LARGE');
      const wrongTypes = await client.post('/api/visitors/register', { name: 1, organisation: [], idNumber: {}, mobile: true });
      t.is(wrongTypes.status, 400);
      t.is(wrongTypes.body.error.code, 'VALIDATION_FAILED');
      const arrayBody = await client.request('POST', '/api/visitors/login', '[1,2]', { 'content-type': 'application/json' });
      t.is(arrayBody.status, 400);
      const notJson = await client.request('POST', '/api/visitors/login', 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
      t.true(notJson.status >= 400 && notJson.status < 500);
      t.is(notJson.headers.get('x-content-type-options'), 'nosniff');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: state-changing requests without the CSRF token are refused`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const noToken = new ApiClient(server.url, { csrf: false });
      const res = await noToken.post('/api/visitors/register', makeVisitor());
      t.is(res.status, 403);
      t.is(res.body.error.code, 'CSRF_TOKEN_INVALID');
      // a cookie without the matching header is refused too
      await noToken.get('/api/csrf');
      t.truthy(noToken.cookie('vf_csrf'));
      const stillNo = await noToken.post('/api/visitors/register', makeVisitor());
      t.is(stillNo.status, 403);
      // a forged token (not signed by the server) is refused
      const forged = await noToken.request('POST', '/api/visitors/register', JSON.stringify(makeVisitor()), {
        'content-type': 'application/json',
        cookie: 'vf_csrf=abc.def',
        'x-csrf-token': 'abc.def',
      });
      t.is(forged.status, 403);
      t.is((await new ApiClient(server.url).post('/api/visitors/register', makeVisitor())).status, 201);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: repeated wrong staff passwords lock the account for a while, then the right one works again`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const client = new ApiClient(server.url);
      const unknown = await client.post('/api/staff/login', { username: 'nobody-here', password: 'wrong' });
      t.is(unknown.status, 401);
      for (let i = 0; i < 4; i++) {
        const bad = await client.post('/api/staff/login', { username: 'host-cs', password: `wrong-${i}` });
        t.is(bad.status, 401, 'still a plain refusal');
        t.is(bad.body.error.code, 'INVALID_CREDENTIALS');
      }
      const locked = await client.post('/api/staff/login', { username: 'HOST-CS', password: 'Demo@2026' });
      t.is(locked.status, 429, 'the right password is refused while the account is locked, whatever the case of the name');
      t.is(locked.body.error.code, 'LOGIN_LOCKED');
      t.regex(locked.body.error.message, /登录失败次数过多/);
      server.clock.advance(3_000);
      const ok = await client.post('/api/staff/login', { username: 'host-cs', password: 'Demo@2026' });
      t.is(ok.status, 200);
      // A success clears the account's count: one more mistake is a plain refusal again.
      t.is((await client.post('/api/staff/login', { username: 'host-cs', password: 'wrong' })).status, 401);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: staff log in with their own session, separate from a visitor's`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const client = new ApiClient(server.url);
      const bad = await client.post('/api/staff/login', { username: 'host-cs', password: 'wrong' });
      t.is(bad.status, 401);
      t.is(bad.body.error.code, 'INVALID_CREDENTIALS');
      const ok = await client.post('/api/staff/login', { username: 'host-cs', password: 'Demo@2026' });
      t.is(ok.status, 200);
      t.is(ok.body.staff.mobile, '138****1000');
      t.deepEqual(ok.body.staff.roles, ['host']);
      t.is((await client.get('/api/visitors/me')).status, 401, 'a staff session is not a visitor session');
      t.is((await client.get('/api/staff/me')).body.staff.username, 'host-cs');
      const campuses = await client.get('/api/directory/campuses');
      t.deepEqual(
        campuses.body.campuses.map((c: any) => c.name),
        ['主校区', '东校区', '南校区', '北校区', '农学院'],
      );
      const main = campuses.body.campuses[0];
      const depts = await client.get(`/api/directory/departments?campusId=${main.id}`);
      t.true(depts.body.departments.length >= 2);
      t.true(depts.body.departments.every((d: any) => d.campusId === main.id));
      t.is((await client.post('/api/staff/logout')).status, 204);
      t.is((await client.get('/api/staff/me')).status, 401);
    } finally {
      await server.close();
    }
  });
}
