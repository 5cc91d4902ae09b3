import test from 'ava';
import { ensureWebBuild, launchBrowser, openPage, PC, shot } from '../helpers/browser.ts';
import { startTestServer } from '../helpers/server.ts';
import { startCasDouble, startOidcProvider, TEST_PUBLIC_URL } from '../helpers/sso.ts';

test.before(async () => {
  await ensureWebBuild();
});

test('with CAS on and passwords off, the staff login shows only 统一身份认证登录, and it signs a host in', async (t) => {
  // The CAS double's login page stands in for the campus portal: it logs the browser in as `wang`.
  const cas = await startCasDouble({ wang: { employeeNumber: 'T1001' } }, { defaultUser: 'wang' });
  const server = await startTestServer('pglite', {
    env: { STAFF_SSO: 'cas', CAS_BASE_URL: cas.baseUrl, CAS_STAFF_ATTRIBUTE: 'employeeNumber', PUBLIC_URL: TEST_PUBLIC_URL, STAFF_LOCAL_PASSWORDS: 'false' },
  });
  const { browser, close } = await launchBrowser();
  try {
    const [host] = await server.db.knex('staff').where('username', 'like', 'host-%').orderBy('id').limit(1);
    await server.db.knex('staff').where({ id: host.id }).update({ staff_no: 'T1001' });
    const { page, errors } = await openPage(browser, server.url, PC);
    // PUBLIC_URL is a name the browser cannot resolve: send the provider's redirect to the test server.
    await page.route(`${TEST_PUBLIC_URL}/**`, (route) =>
      route.fulfill({ status: 302, headers: { location: server.url + route.request().url().slice(TEST_PUBLIC_URL.length) } }),
    );
    await page.goto(`${server.url}/staff/`);
    const button = page.locator('#sso-login');
    await button.waitFor();
    t.is((await button.textContent())?.trim(), '统一身份认证登录');
    t.is(await page.locator('#f-password').count(), 0);
    await shot(page, 'staff-sso-login');
    await button.click();
    await page.waitForURL(`${server.url}/staff/**`).catch(async (err) => {
      throw new Error(`${err.message}\n${await page.content()}`);
    });
    await page.waitForSelector('a[data-list="mine"]');
    t.is(await page.locator('#sso-login').count(), 0);
    await shot(page, 'staff-sso-signed-in');
    // The 401s of /api/staff/me before the sign-in are expected; nothing the CSP refused.
    t.deepEqual(errors.filter((e) => /Content Security Policy|EvalError|Refused to/i.test(e)), []);
  } finally {
    await close();
    await server.close();
    await cas.close();
  }
});

test("with OIDC on, 统一身份认证登录 leads through the provider's login and consent screens and signs a host in", async (t) => {
  // A real OpenID provider (oidc-provider) with its development login and consent screens as the campus portal.
  const provider = await startOidcProvider({ alice: { preferred_username: 'T1001', name: '王老师' } });
  const server = await startTestServer('pglite', {
    env: { STAFF_SSO: 'oidc', OIDC_ISSUER: provider.issuer, OIDC_CLIENT_ID: provider.clientId, OIDC_CLIENT_SECRET: provider.clientSecret, PUBLIC_URL: TEST_PUBLIC_URL },
  });
  // the browser keeps the session cookie by the real clock: the server's must not be days behind it
  server.clock.set(new Date());
  const { browser, close } = await launchBrowser();
  try {
    const [host] = await server.db.knex('staff').where('username', 'like', 'host-%').orderBy('id').limit(1);
    await server.db.knex('staff').where({ id: host.id }).update({ staff_no: 'T1001' });
    const { page, errors } = await openPage(browser, server.url, PC);
    // PUBLIC_URL is a name the browser cannot resolve: send the provider's redirect to the test server.
    await page.route(`${TEST_PUBLIC_URL}/**`, (route) =>
      route.fulfill({ status: 302, headers: { location: server.url + route.request().url().slice(TEST_PUBLIC_URL.length) } }),
    );
    await page.goto(`${server.url}/staff/`);
    const button = page.locator('#sso-login');
    await button.waitFor();
    t.is((await button.textContent())?.trim(), '统一身份认证登录');
    t.is(await page.locator('#f-password').count(), 1, 'passwords stay on beside SSO');
    await button.click();

    // the provider's own pages: a login form, then the consent to share the claims with visitflow
    await page.waitForURL(`${provider.issuer}/**`);
    await page.fill('input[name="login"]', 'alice');
    await page.fill('input[name="password"]', 'any');
    await shot(page, 'staff-sso-oidc-provider-login');
    await page.click('button[type="submit"]');
    await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
    await page.click('button[type="submit"]');

    await page.waitForURL(`${server.url}/staff/**`).catch(async (err) => {
      throw new Error(`${err.message}\n${page.url()}\n${(await page.content()).slice(0, 1000)}`);
    });
    await page.waitForSelector('a[data-list="mine"]');
    t.is(await page.locator('#sso-login').count(), 0);
    t.is((await server.db.knex('staff').where({ id: host.id }).first()).sso_subject, `oidc:${provider.issuer}#alice`);
    t.is((await server.db.knex('audit_log').where({ action: 'staff.sso.login', target_id: String(host.id) })).length, 1);
    await shot(page, 'staff-sso-oidc-signed-in');
    // The 401s of /api/staff/me before the sign-in are expected; nothing the CSP of our pages refused.
    t.deepEqual(errors.filter((e) => /Content Security Policy|EvalError|Refused to/i.test(e)), []);
  } finally {
    await close();
    await server.close();
    await provider.close();
  }
});
