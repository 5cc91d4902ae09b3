import test from 'ava';
import { ApiClient, startTestServer } from '../helpers/server.ts';
import { makeIdNumber, makeMobile, makeVisitor } from '../helpers/identities.ts';
import { testBackends } from '../helpers/database.ts';

for (const kind of await testBackends()) {
  test(`${kind}: register, me, logout and login with mobile + last 8 characters of the ID number`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const client = new ApiClient(server.url);
      const visitor = makeVisitor({ idNumber: makeIdNumber('19880512').replace(/.$/, '') });
      // recompute a valid number ending in X to check the case-insensitive password
      const reg = await client.post('/api/visitors/register', { ...visitor, idNumber: '11010519491231002x' });
      t.is(reg.status, 201, JSON.stringify(reg.body));
      t.deepEqual(reg.body.visitor.idNumber, '110***********002X');
      t.is(reg.body.visitor.mobile, `${visitor.mobile.slice(0, 3)}****${visitor.mobile.slice(-4)}`);
      t.is(reg.body.visitor.gender, 'F');
      t.is(reg.body.visitor.birthDate, '1949-12-31');
      t.regex(reg.headers.getSetCookie().join(), /vf_visitor=.+HttpOnly/i);
      t.regex(reg.headers.getSetCookie().join(), /samesite=lax/i);

      t.is((await client.get('/api/visitors/me')).status, 200);
      t.is((await client.post('/api/visitors/logout')).status, 204);
      const after = await client.get('/api/visitors/me');
      t.is(after.status, 401);
      t.is(after.body.error.code, 'VISITOR_LOGIN_REQUIRED');

      const login = await client.post('/api/visitors/login', { mobile: visitor.mobile, password: '1231002x' });
      t.is(login.status, 200, JSON.stringify(login.body));
      t.is((await client.get('/api/visitors/me')).body.visitor.name, '张三');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a mobile registered twice points to login; bad ID numbers get their own Chinese errors`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const client = new ApiClient(server.url);
      const visitor = makeVisitor();
      t.is((await client.post('/api/visitors/register', visitor)).status, 201);
      const again = await new ApiClient(server.url).post('/api/visitors/register', { ...visitor, idNumber: makeIdNumber() });
      t.is(again.status, 409);
      t.is(again.body.error.code, 'MOBILE_ALREADY_REGISTERED');
      t.regex(again.body.error.message, /已注册，请直接登录/);

      const cases: Array<[string, string]> = [
        ['1101051990030700', 'ID_LENGTH'],
        ['110105199002300011', 'ID_BIRTH_DATE'],
        ['110105194912310021', 'ID_CHECK_DIGIT'],
        ['11010519900307001A', 'ID_FORMAT'],
      ];
      for (const [idNumber, code] of cases) {
        const res = await new ApiClient(server.url).post('/api/visitors/register', makeVisitor({ idNumber }));
        t.is(res.status, 400, idNumber);
        t.is(res.body.error.code, code);
        t.regex(res.body.error.message, /身份证号/);
      }
      const badMobile = await new ApiClient(server.url).post('/api/visitors/register', makeVisitor({ mobile: '1234' }));
      t.is(badMobile.body.error.code, 'MOBILE_INVALID');
      const missing = await new ApiClient(server.url).post('/api/visitors/register', { mobile: makeMobile() });
      t.is(missing.status, 400);
      t.is(missing.body.error.code, 'VALIDATION_FAILED');
      t.regex(missing.body.error.message, /请填写/);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: ID number and mobile are not stored in clear; the password only as a slow hash`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const visitor = makeVisitor();
      t.is((await new ApiClient(server.url).post('/api/visitors/register', visitor)).status, 201);
      const rows = await server.db.knex('visitors').select('*');
      const dump = JSON.stringify(rows);
      t.false(dump.includes(visitor.idNumber));
      t.false(dump.includes(visitor.mobile));
      t.false(dump.includes(visitor.idNumber.slice(-8)));
      t.regex(rows[0].password_hash, /^scrypt\$/);
      // and the log never carried them either
      t.false(JSON.stringify(server.logs).includes(visitor.mobile));
      // the whole database, not only the visitors table
      const tables = await server.db.knex.raw(
        "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
      );
      for (const { table_name } of tables.rows) {
        const all = JSON.stringify(await server.db.knex(table_name).select('*'));
        t.false(all.includes(visitor.idNumber), table_name);
        t.false(all.includes(visitor.mobile), table_name);
      }
    } finally {
      await server.close();
    }
  });

  test(`${kind}: wrong passwords and unknown mobiles answer alike, then slow down and lock out`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const client = new ApiClient(server.url);
      const visitor = makeVisitor();
      await client.post('/api/visitors/register', visitor);
      const wrong = await client.post('/api/visitors/login', { mobile: visitor.mobile, password: '00000000' });
      const unknown = await client.post('/api/visitors/login', { mobile: makeMobile(), password: '00000000' });
      t.is(wrong.status, 401);
      t.deepEqual(wrong.body, unknown.body);

      // 3 free failures, then growing delays: the 4th failure locks the mobile for a while
      await client.post('/api/visitors/login', { mobile: visitor.mobile, password: '00000001' });
      await client.post('/api/visitors/login', { mobile: visitor.mobile, password: '00000002' });
      const fourth = await client.post('/api/visitors/login', { mobile: visitor.mobile, password: '00000003' });
      t.is(fourth.status, 401);
      const locked = await client.post('/api/visitors/login', { mobile: visitor.mobile, password: visitor.idNumber.slice(-8) });
      t.is(locked.status, 429);
      t.is(locked.body.error.code, 'LOGIN_LOCKED');
      t.regex(locked.body.error.message, /请.*后再试/);
      // even the right password is refused while locked; after the delay it works
      server.clock.advance(3_000);
      const ok = await client.post('/api/visitors/login', { mobile: visitor.mobile, password: visitor.idNumber.slice(-8) });
      t.is(ok.status, 200);

      // a sustained attack reaches the long lock-out
      for (let i = 0; i < 8; i++) {
        server.clock.advance(120_000);
        await client.post('/api/visitors/login', { mobile: visitor.mobile, password: `1000000${i}` });
      }
      server.clock.advance(120_000);
      const lockedOut = await client.post('/api/visitors/login', { mobile: visitor.mobile, password: visitor.idNumber.slice(-8) });
      t.is(lockedOut.status, 429);
      t.true(lockedOut.body.error.details.retryAfterSeconds > 10 * 60);
      server.clock.advance(16 * 60_000);
      t.is((await client.post('/api/visitors/login', { mobile: visitor.mobile, password: visitor.idNumber.slice(-8) })).status, 200);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the same IP trying many mobiles is locked out too`, async (t) => {
    const server = await startTestServer(kind, { demo: false });
    try {
      const client = new ApiClient(server.url);
      let last: any;
      for (let i = 0; i < 22; i++) last = await client.post('/api/visitors/login', { mobile: makeMobile(), password: '12345678' });
      t.is(last.status, 429);
      t.is(last.body.error.code, 'LOGIN_LOCKED');
    } finally {
      await server.close();
    }
  });
}
