import test from 'ava';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { testBackends } from '../helpers/database.ts';
import { approvedWithPass as approvedWithPassAt, PASS_WINDOW } from '../helpers/flow.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

const { start: WINDOW_START, end: WINDOW_END, during: DURING } = PASS_WINDOW;

async function staffClient(server: TestServer, username: string) {
  const client = new ApiClient(server.url);
  const res = await client.post('/api/staff/login', { username, password: DEMO_STAFF_PASSWORD });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  return client;
}

async function visitorClient(server: TestServer) {
  const client = new ApiClient(server.url);
  const visitor = makeVisitor();
  const res = await client.post('/api/visitors/register', visitor);
  if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
  return { client, id: res.body.visitor.id as number, idNumber: visitor.idNumber, mobile: visitor.mobile };
}

/** The approved application of `visitorId` with its pass, and the other campus (for wrong-campus checks). */
async function approvedWithPass(server: TestServer, visitorId: number) {
  const approved = await approvedWithPassAt(server, visitorId, { plate: '京A12345' });
  const east = await server.db.knex('campuses').where({ code: 'EAST' }).first();
  return { ...approved, passes: server.services.passes, eastId: east.id as number };
}

for (const kind of await testBackends()) {
  test(`${kind}: a visitor gets their own rotating pass; another visitor and anonymous callers do not`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const a = await visitorClient(server);
      const b = await visitorClient(server);
      const { application, pass, campusId } = await approvedWithPass(server, a.id);
      server.clock.set(DURING);

      const res = await a.client.get(`/api/applications/${application.id}/pass`);
      t.is(res.status, 200, JSON.stringify(res.body));
      t.is(res.headers.get('cache-control'), 'no-store');
      t.like(res.body.pass, {
        shortCode: pass.short_code,
        rotateSeconds: 30,
        validFrom: new Date(WINDOW_START).toISOString(),
        validUntil: new Date(WINDOW_END).toISOString(),
        campus: { id: campusId, name: '主校区' },
        plateNumber: '京A12345',
        status: 'active',
      });
      t.regex(res.body.pass.qr.payload, /^VF1\.[\w-]+\.[\w-]+$/);
      t.is(res.body.pass.qr.expiresAt, '2026-12-01T07:00:30.000Z');

      for (const path of [`/api/applications/${application.id}/pass`, '/api/applications/999999/pass', '/api/applications/abc/pass']) {
        const other = await b.client.get(path);
        t.is(other.status, 404, path);
        t.is(other.body.error.code, 'PASS_NOT_AVAILABLE');
      }
      const anonymous = await new ApiClient(server.url).get(`/api/applications/${application.id}/pass`);
      t.is(anonymous.status, 401);
      // staff are not visitors: even the guard cannot fetch a visitor's QR
      const guard = await staffClient(server, 'guard');
      t.is((await guard.get(`/api/applications/${application.id}/pass`)).status, 401);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: only guards and admins reach the gate endpoints`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const a = await visitorClient(server);
      const { pass, campusId } = await approvedWithPass(server, a.id);
      server.clock.set(DURING);
      const body = { code: pass.short_code, campusId };

      const anonymous = new ApiClient(server.url);
      const host = await staffClient(server, 'host-cs');
      for (const path of ['/api/gate/verify', `/api/gate/passes/${pass.id}/entry`, `/api/gate/passes/${pass.id}/exit`]) {
        const anon = await anonymous.post(path, body);
        t.is(anon.status, 401, path);
        t.is(anon.body.error.code, 'STAFF_LOGIN_REQUIRED');
        t.is((await a.client.post(path, body)).status, 401, path); // a visitor session is not a staff session
        const asHost = await host.post(path, body);
        t.is(asHost.status, 403, path);
        t.is(asHost.body.error.code, 'ROLE_REQUIRED');
      }
      t.is((await host.get('/api/gate/public-key')).status, 403);
      t.is(await server.db.knex('pass_events').count({ n: '*' }).then(([r]) => Number(r.n)), 0);

      for (const username of ['guard', 'admin']) {
        const res = await (await staffClient(server, username)).post('/api/gate/verify', body);
        t.is(res.status, 200, JSON.stringify(res.body));
        t.true(res.body.valid);
      }
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the guard verifies a scanned QR, sees masked details, records entry and exit`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const a = await visitorClient(server);
      const { application, pass, campusId, eastId } = await approvedWithPass(server, a.id);
      const guard = await staffClient(server, 'guard');
      server.clock.set(DURING);
      const scan = async () => (await a.client.get(`/api/applications/${application.id}/pass`)).body.pass.qr.payload as string;

      const payload = await scan();
      const ok = await guard.post('/api/gate/verify', { payload, campusId });
      t.is(ok.status, 200);
      t.true(ok.body.valid);
      t.like(ok.body.pass, {
        id: pass.id,
        visitorName: '张三',
        organisation: '个人',
        idNumber: `${a.idNumber.slice(0, 3)}***********${a.idNumber.slice(-4)}`,
        mobile: `${a.mobile.slice(0, 3)}****${a.mobile.slice(-4)}`,
        plateNumber: '京A12345',
        campus: { id: campusId, name: '主校区' },
        flowNumber: application.flow_number,
      });
      t.false(JSON.stringify(ok.body).includes(a.idNumber));
      t.false(JSON.stringify(ok.body).includes(a.mobile));

      const wrong = await guard.post('/api/gate/verify', { payload, campusId: eastId });
      t.like(wrong.body, { valid: false, reason: 'WRONG_CAMPUS', reasonParams: { campus: '主校区' } });

      const [prefix, claims, sig] = payload.split('.');
      const decoded = JSON.parse(Buffer.from(claims, 'base64url').toString());
      const forged = `${prefix}.${Buffer.from(JSON.stringify({ ...decoded, c: eastId })).toString('base64url')}.${sig}`;
      const tampered = await guard.post('/api/gate/verify', { payload: forged, campusId: eastId });
      t.is(tampered.status, 200);
      t.like(tampered.body, { valid: false, reason: 'SIGNATURE_INVALID' });
      t.is(tampered.body.pass, undefined);

      const entry = await guard.post(`/api/gate/passes/${pass.id}/entry`, { campusId });
      t.is(entry.status, 200, JSON.stringify(entry.body));
      t.like(entry.body.event, { passId: pass.id, kind: 'entry', at: '2026-12-01T07:00:00.000Z', campusId });
      server.clock.advance(90_000);
      const again = await guard.post('/api/gate/verify', { payload: await scan(), campusId });
      t.deepEqual(again.body.lastEvent, { kind: 'entry', at: '2026-12-01T07:00:00.000Z' });
      // the first QR is three steps old by now: a screenshot
      const stale = await guard.post('/api/gate/verify', { payload, campusId });
      t.like(stale.body, { valid: false, reason: 'QR_EXPIRED' });
      const exit = await guard.post(`/api/gate/passes/${pass.id}/exit`, { campusId });
      t.is(exit.status, 200);
      t.is(exit.body.event.kind, 'exit');
      t.is((await guard.post('/api/gate/verify', { code: pass.short_code, campusId })).body.lastEvent.kind, 'exit');

      const elsewhere = await guard.post(`/api/gate/passes/${pass.id}/entry`, { campusId: eastId });
      t.is(elsewhere.status, 409);
      t.like(elsewhere.body.error, { code: 'PASS_NOT_VALID', details: { reason: 'WRONG_CAMPUS', campus: '主校区' } });
      t.is((await guard.post('/api/gate/passes/999999/entry', { campusId })).status, 404);

      const unknown = await guard.post('/api/gate/verify', { code: 'ZZZZ-ZZZZ', campusId });
      t.like(unknown.body, { valid: false, reason: 'UNKNOWN_CODE' });
      t.regex(unknown.body.reasonText, /不存在/);

      const key = await guard.get('/api/gate/public-key');
      t.is(key.status, 200);
      t.regex(key.body.publicKeyPem, /BEGIN PUBLIC KEY/);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: revoked and out-of-window passes are refused at the gate`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const a = await visitorClient(server);
      const { application, pass, passes, campusId } = await approvedWithPass(server, a.id);
      let guard = await staffClient(server, 'guard');

      const early = await guard.post('/api/gate/verify', { code: pass.short_code, campusId });
      t.like(early.body, { valid: false, reason: 'NOT_YET_VALID' });
      t.true(Number.isInteger(early.body.reasonParams.earlyMinutes), 'the minutes come as a value too');
      t.regex(early.body.reasonText, /未到通行时间/);
      server.clock.set('2026-12-01T10:00:01Z');
      guard = await staffClient(server, 'guard'); // the evening shift: the morning staff session has expired
      t.like((await guard.post('/api/gate/verify', { code: pass.short_code, campusId })).body, { valid: false, reason: 'EXPIRED' });
      t.is((await guard.post(`/api/gate/passes/${pass.id}/entry`, { campusId })).status, 409);

      server.clock.set(DURING);
      await server.db.knex.transaction((trx) => passes.revokeForApplication(trx, application.id));
      const revoked = await guard.post('/api/gate/verify', { code: pass.short_code, campusId });
      t.like(revoked.body, { valid: false, reason: 'REVOKED' });
      t.regex(revoked.body.reasonText, /作废/);
      const mine = await a.client.get(`/api/applications/${application.id}/pass`);
      t.like(mine.body.pass, { status: 'revoked', qr: null });
    } finally {
      await server.close();
    }
  });

  test(`${kind}: gate bodies are validated with Chinese messages`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const guard = await staffClient(server, 'guard');
      const cases: Array<[string, unknown, RegExp]> = [
        ['/api/gate/verify', { code: 'ABCDEFGH' }, /校区/],
        ['/api/gate/verify', { campusId: 1 }, /二维码|通行码/],
        ['/api/gate/verify', { campusId: 1, code: 'ABCDEFGH', payload: 'VF1.a.b' }, /二选一/],
        ['/api/gate/verify', { campusId: 'main', code: 'ABCDEFGH' }, /校区/],
        ['/api/gate/passes/1/entry', {}, /校区/],
      ];
      for (const [path, body, message] of cases) {
        const res = await guard.post(path, body);
        t.is(res.status, 400, `${path} ${JSON.stringify(body)}`);
        t.is(res.body.error.code, 'VALIDATION_FAILED');
        t.regex(res.body.error.message, message);
      }
    } finally {
      await server.close();
    }
  });
}
