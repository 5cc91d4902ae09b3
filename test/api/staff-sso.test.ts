import test from 'ava';
import { adminClient, ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';
import { providerLogin, startCasDouble, startOidcProvider, TEST_PUBLIC_URL } from '../helpers/sso.ts';

/** Two demo hosts and a leader get staff numbers and e-mails, as a directory import would give them. */
async function directoryKeys(server: TestServer) {
  const [host, otherHost] = await server.db.knex('staff').where('username', 'like', 'host-%').orderBy('id').limit(2);
  const [leader] = await server.db.knex('staff').where('username', 'like', 'leader-%').orderBy('id').limit(1);
  await server.db.knex('staff').where({ id: host.id }).update({ staff_no: 'T1001', email: 'wang@example.edu.cn' });
  await server.db.knex('staff').where({ id: otherHost.id }).update({ staff_no: 'T1002', active: false });
  await server.db.knex('staff').where({ id: leader.id }).update({ staff_no: 'T1003', email: 'leader.cs@example.edu.cn' });
  return { host, otherHost, leader };
}

/** The callback as the browser calls it (the provider sent it to PUBLIC_URL; the test server is elsewhere). */
const local = (location: string) => {
  const url = new URL(location);
  if (url.origin !== TEST_PUBLIC_URL) throw new Error(`not sent back to PUBLIC_URL: ${location}`);
  return url.pathname + url.search;
};

for (const kind of await testBackends()) {
  test.serial(`${kind}: OIDC sign-in links the directory by the claim, then by the subject; refusals are clear`, async (t) => {
    const provider = await startOidcProvider({
      alice: { preferred_username: 'T1001', name: '王老师' },
      carol: { preferred_username: 'Leader.CS@Example.edu.cn' },
      stranger: { preferred_username: 'T9999' },
      retired: { preferred_username: 'T1002' },
    });
    const server = await startTestServer(kind, {
      env: {
        STAFF_SSO: 'oidc',
        OIDC_ISSUER: provider.issuer,
        OIDC_CLIENT_ID: provider.clientId,
        OIDC_CLIENT_SECRET: provider.clientSecret,
        OIDC_STAFF_CLAIM: 'preferred_username',
        PUBLIC_URL: TEST_PUBLIC_URL,
        STAFF_LOCAL_PASSWORDS: 'false',
      },
    });
    try {
      const { host, otherHost, leader } = await directoryKeys(server);
      const signIn = async (login: string, next = '/staff/') => {
        const client = new ApiClient(server.url);
        const start = await client.get(`/api/staff/sso/start?next=${encodeURIComponent(next)}`);
        t.is(start.status, 302);
        const authorize = new URL(start.headers.get('location')!);
        t.is(authorize.origin, provider.issuer);
        t.is(authorize.searchParams.get('code_challenge_method'), 'S256');
        t.truthy(authorize.searchParams.get('nonce'));
        const callback = await providerLogin(authorize.toString(), login);
        return { client, callback, res: await client.get(local(`${TEST_PUBLIC_URL}${callback}`)) };
      };

      // The login screens learn that SSO is on and passwords are off.
      const anonymous = new ApiClient(server.url);
      t.deepEqual((await anonymous.get('/api/staff/sso')).body, { mode: 'oidc', localPasswords: false });
      const password = await anonymous.post('/api/staff/login', { username: host.username, password: 'Demo@2026' });
      t.is(password.status, 403);
      t.is(password.body.error.code, 'LOCAL_LOGIN_DISABLED');
      t.regex(password.body.error.message, /统一身份认证/);

      // First sign-in: linked by staff number, a staff session as the password login gives.
      const first = await signIn('alice');
      t.is(first.res.status, 302);
      t.is(first.res.headers.get('location'), '/staff/');
      const me = await first.client.get('/api/staff/me');
      t.is(me.status, 200);
      t.is(me.body.staff.id, host.id);
      t.is((await first.client.get('/api/tasks')).status, 200);
      const linked = await server.db.knex('staff').where({ id: host.id }).first();
      t.is(linked.sso_subject, `oidc:${provider.issuer}#alice`);
      t.true((await server.db.knex('audit_log').where({ action: 'staff.sso.link', target_id: String(host.id) })).length === 1);

      // The same code and state again: refused, no session.
      const replay = new ApiClient(server.url);
      const replayed = await first.client.get(first.callback);
      t.is(replayed.status, 400);
      t.is(replayed.body.error.code, 'SSO_STATE_INVALID');
      t.is((await replay.get(first.callback)).status, 400);

      // Second sign-in: found by the stored subject even once the staff number has changed.
      await server.db.knex('staff').where({ id: host.id }).update({ staff_no: 'T1001-renumbered' });
      const second = await signIn('alice', '/admin/');
      t.is(second.res.status, 302);
      t.is(second.res.headers.get('location'), '/admin/');
      t.is((await second.client.get('/api/staff/me')).body.staff.id, host.id);

      // A value with an @ links by e-mail, whatever its case.
      const byMail = await signIn('carol', 'https://evil.example/');
      t.is(byMail.res.headers.get('location'), '/staff/');
      t.is((await byMail.client.get('/api/staff/me')).body.staff.id, leader.id);

      // Nobody in the directory with that number: refused with a code and a Chinese message, no session.
      const stranger = await signIn('stranger');
      t.is(stranger.res.status, 403);
      t.is(stranger.res.body.error.code, 'SSO_STAFF_NOT_FOUND');
      t.regex(stranger.res.body.error.message, /工作人员名录/);
      t.is(stranger.client.cookie('vf_staff'), undefined);
      t.is((await stranger.client.get('/api/staff/me')).status, 401);
      t.true((await server.db.knex('audit_log').where({ action: 'staff.sso.refused' })).length >= 1);

      // A deactivated staff member is refused; a browser gets a page saying so.
      const retiredClient = new ApiClient(server.url);
      const start = await retiredClient.get('/api/staff/sso/start');
      const callback = await providerLogin(start.headers.get('location')!, 'retired');
      const page = await retiredClient.request('GET', callback, undefined, { accept: 'text/html,application/xhtml+xml' });
      t.is(page.status, 403);
      t.regex(page.headers.get('content-type') ?? '', /text\/html/);
      t.regex(page.body, /已停用/);
      t.regex(page.body, /SSO_STAFF_INACTIVE/);
      t.is(retiredClient.cookie('vf_staff'), undefined);
      t.is((await server.db.knex('staff').where({ id: otherHost.id }).first()).sso_subject, null);

      // A callback whose state is not the one this browser started with is refused before the code is used.
      const forged = new ApiClient(server.url);
      const forgedStart = await forged.get('/api/staff/sso/start');
      const forgedCallback = new URL(await providerLogin(forgedStart.headers.get('location')!, 'alice'), TEST_PUBLIC_URL);
      forgedCallback.searchParams.set('state', 'not-the-state-i-started-with');
      const badState = await forged.get(forgedCallback.pathname + forgedCallback.search);
      t.is(badState.status, 400);
      t.is(badState.body.error.code, 'SSO_STATE_INVALID');
      t.is((await forged.get('/api/staff/me')).status, 401);
      // No started sign-in at all (a link sent to a colleague): refused too.
      const noCookie = await new ApiClient(server.url).get('/api/staff/sso/callback?code=x&state=y');
      t.is(noCookie.status, 400);
      t.is(noCookie.body.error.code, 'SSO_STATE_INVALID');
    } finally {
      await server.close();
      await provider.close();
    }
  });

  test.serial(`${kind}: an admin unlinks a wrongly linked SSO account: its sessions end, it is audited, the right account links next`, async (t) => {
    const provider = await startOidcProvider({ alice: { preferred_username: 'T1001' }, bob: { preferred_username: 'T2001' } });
    const server = await startTestServer(kind, {
      env: { STAFF_SSO: 'oidc', OIDC_ISSUER: provider.issuer, OIDC_CLIENT_ID: provider.clientId, OIDC_CLIENT_SECRET: provider.clientSecret, PUBLIC_URL: TEST_PUBLIC_URL },
    });
    try {
      const { host } = await directoryKeys(server);
      const signIn = async (login: string) => {
        const client = new ApiClient(server.url);
        const start = await client.get('/api/staff/sso/start?next=/staff/');
        const res = await client.get(local(`${TEST_PUBLIC_URL}${await providerLogin(start.headers.get('location')!, login)}`));
        return { client, res };
      };
      const alice = await signIn('alice');
      t.is((await alice.client.get('/api/staff/me')).body.staff.id, host.id);

      const admin = await adminClient(server);
      const listed = async () => (await ok(admin.get(`/api/admin/staff?q=${host.username}`))).staff.find((s: any) => s.id === host.id);
      t.true((await listed()).ssoLinked);
      const unlinked = await ok(admin.post(`/api/admin/staff/${host.id}/sso-unlink`));
      t.false(unlinked.staff.ssoLinked);
      t.false((await listed()).ssoLinked);
      t.is((await server.db.knex('staff').where({ id: host.id }).first()).sso_subject, null);
      t.is((await alice.client.get('/api/staff/me')).status, 401, "the unlinked account's session ended");
      const [entry] = await server.db.knex('audit_log').where({ action: 'staff.sso.unlink', target_id: String(host.id) });
      t.truthy(entry, 'audited');
      const before = typeof entry.before === 'string' ? JSON.parse(entry.before) : entry.before;
      t.is(before.subject, `oidc:${provider.issuer}#alice`);
      t.is(entry.actor_name, (await ok(admin.get('/api/staff/me'))).staff.name);
      const again = await admin.post(`/api/admin/staff/${host.id}/sso-unlink`);
      t.is(again.status, 409);
      t.is(again.body.error.code, 'SSO_NOT_LINKED');
      t.is((await admin.post('/api/admin/staff/999999/sso-unlink')).status, 404);

      // the directory now names the host by the right staff number: that account links, the old one no longer does
      await ok(admin.request('PUT', `/api/admin/staff/${host.id}`, { staffNo: 'T2001' }));
      const bob = await signIn('bob');
      t.is((await bob.client.get('/api/staff/me')).body.staff.id, host.id);
      t.is((await server.db.knex('staff').where({ id: host.id }).first()).sso_subject, `oidc:${provider.issuer}#bob`);
      const old = await signIn('alice');
      t.is(old.res.status, 403);
      t.is(old.res.body.error.code, 'SSO_STAFF_NOT_FOUND');
    } finally {
      await server.close();
      await provider.close();
    }
  });

  test.serial(`${kind}: CAS sign-in validates the ticket once, links by attribute, refuses unknown and inactive staff`, async (t) => {
    const cas = await startCasDouble({
      zhang: { employeeNumber: 'T1001', mail: 'wang@example.edu.cn' },
      nobody: { employeeNumber: 'T9998' },
      retired: { employeeNumber: 'T1002' },
    });
    const server = await startTestServer(kind, {
      env: { STAFF_SSO: 'cas', CAS_BASE_URL: cas.baseUrl, CAS_STAFF_ATTRIBUTE: 'employeeNumber', PUBLIC_URL: TEST_PUBLIC_URL },
    });
    try {
      const { host } = await directoryKeys(server);
      /** The browser at CAS: logs in as `user`, comes back with a ticket. */
      const atCas = async (client: ApiClient, user: string) => {
        const start = await client.get('/api/staff/sso/start');
        t.is(start.status, 302);
        const login = new URL(start.headers.get('location')!);
        t.is(login.searchParams.get('service'), `${TEST_PUBLIC_URL}/api/staff/sso/callback`);
        login.searchParams.set('as', user);
        const back = await fetch(login, { redirect: 'manual' });
        return local(back.headers.get('location')!);
      };

      t.deepEqual((await new ApiClient(server.url).get('/api/staff/sso')).body, { mode: 'cas', localPasswords: true });

      const client = new ApiClient(server.url);
      const callback = await atCas(client, 'zhang');
      const res = await client.get(callback);
      t.is(res.status, 302);
      t.is(res.headers.get('location'), '/staff/');
      t.is((await client.get('/api/staff/me')).body.staff.id, host.id);
      t.is((await client.get('/api/tasks')).status, 200);
      t.is((await server.db.knex('staff').where({ id: host.id }).first()).sso_subject, 'cas:zhang');
      t.deepEqual(cas.validations, ['/cas/p3/serviceValidate']);

      // The same ticket with a freshly started sign-in: CAS tickets are single-use, so refused.
      const thief = new ApiClient(server.url);
      await thief.get('/api/staff/sso/start');
      const replay = await thief.get(callback);
      t.is(replay.status, 401);
      t.is(replay.body.error.code, 'SSO_REJECTED');
      t.is((await thief.get('/api/staff/me')).status, 401);

      // Second sign-in by the same CAS user.
      const again = new ApiClient(server.url);
      t.is((await again.get(await atCas(again, 'zhang'))).status, 302);
      t.is((await again.get('/api/staff/me')).body.staff.id, host.id);

      const nobody = new ApiClient(server.url);
      const unknown = await nobody.get(await atCas(nobody, 'nobody'));
      t.is(unknown.status, 403);
      t.is(unknown.body.error.code, 'SSO_STAFF_NOT_FOUND');

      const retired = new ApiClient(server.url);
      const inactive = await retired.get(await atCas(retired, 'retired'));
      t.is(inactive.status, 403);
      t.is(inactive.body.error.code, 'SSO_STAFF_INACTIVE');
      t.is((await retired.get('/api/staff/me')).status, 401);

      // A ticket brought without a sign-in started in this browser.
      const noFlow = await new ApiClient(server.url).get('/api/staff/sso/callback?ticket=ST-1-x');
      t.is(noFlow.status, 400);
      t.is(noFlow.body.error.code, 'SSO_STATE_INVALID');

      // Local passwords stay on unless switched off.
      t.is((await new ApiClient(server.url).post('/api/staff/login', { username: host.username, password: 'Demo@2026' })).status, 200);
    } finally {
      await server.close();
      await cas.close();
    }
  });

  test.serial(`${kind}: an administrator gives staff numbers and e-mails (CSV import, edit) that SSO then links by`, async (t) => {
    const cas = await startCasDouble({ qian: { employeeNumber: 'T3001' }, sun: { mail: 'Sun@Example.edu.cn' } });
    const server = await startTestServer(kind, {
      env: { STAFF_SSO: 'cas', CAS_BASE_URL: cas.baseUrl, CAS_STAFF_ATTRIBUTE: 'employeeNumber', PUBLIC_URL: TEST_PUBLIC_URL },
    });
    try {
      const admin = await adminClient(server);
      const csv = `用户名,姓名,手机号,单位代码,角色,初始密码,工号,邮箱
host-cs2,钱老师,13811112222,CS,接待人,Start@2026,T3001,qian@example.edu.cn
leader-cs2,孙主任,13811113333,CS,leader,Start@2026,T3001,not-an-email
`;
      const refused = await admin.post('/api/admin/staff/import', { csv });
      t.is(refused.status, 400);
      t.deepEqual(
        refused.body.error.details.map((e: any) => [e.row, e.field]),
        [
          [3, 'staffNo'],
          [3, 'email'],
        ],
      );
      const fixed = csv.replace('T3001,not-an-email', 'T3002,Sun@Example.edu.cn');
      t.is((await ok(admin.post('/api/admin/staff/import', { csv: fixed }))).imported, 2);
      const { staff } = (await ok(admin.get('/api/admin/staff?q=cs2'))) as { staff: any[] };
      const qian = staff.find((s) => s.username === 'host-cs2');
      const sun = staff.find((s) => s.username === 'leader-cs2');
      t.like(qian, { staffNo: 'T3001', email: 'qian@example.edu.cn', ssoLinked: false });
      t.like(sun, { staffNo: 'T3002', email: 'sun@example.edu.cn' });
      const taken = await admin.request('PUT', `/api/admin/staff/${sun.id}`, { staffNo: 'T3001' });
      t.is(taken.status, 409);
      t.is(taken.body.error.code, 'STAFF_NO_TAKEN');

      const client = new ApiClient(server.url);
      const login = new URL((await client.get('/api/staff/sso/start')).headers.get('location')!);
      login.searchParams.set('as', 'qian');
      const back = await fetch(login, { redirect: 'manual' });
      t.is((await client.get(local(back.headers.get('location')!))).status, 302);
      t.is((await client.get('/api/staff/me')).body.staff.id, qian.id);
      t.like(((await ok(admin.get('/api/admin/staff?q=cs2'))) as { staff: any[] }).staff.find((s) => s.id === qian.id), { ssoLinked: true });
    } finally {
      await server.close();
      await cas.close();
    }
  });
}
