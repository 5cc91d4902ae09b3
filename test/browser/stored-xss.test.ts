import test from 'ava';
import type { Browser, Page } from 'playwright-core';
import { adminLogin } from '../helpers/admin-browser.ts';
import { bundledProcessXml, ok } from '../helpers/admin.ts';
import { ensureWebBuild, launchBrowser, PC, shot, staffLogin, type WatchedPage } from '../helpers/browser.ts';
import { applicationData, newVisitor, onlyTask, staffClient, tinyPng } from '../helpers/flow.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

/**
 * Text that visitors and administrators store (names, organisations, form fields, file names, BPMN names, a
 * directory CSV) is shown to staff and admins as text: on every page no payload runs (window.__xss stays unset,
 * no dialog opens, with the CSP bypassed so that an injection would run), none became markup (no element carries a
 * payload's handler or a javascript: link), and the payload is on the page as text, so the page did show it.
 */
const IMG = '<img src=x onerror=window.__xss=1>';
const SCRIPT = '<script>window.__xss=1</script>';
const SVG = '"><svg onload=window.__xss=1>';
const JS_URL = 'javascript:window.__xss=1';

const xmlAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The default process with payloads for the process name and the names of its elements. */
function payloadProcess(): string {
  const xml = bundledProcessXml()
    .replace('name="校外人员(车辆)临时进入校园通行申请"', `name="${xmlAttr(SVG)}"`)
    .replace('name="到访部门接待人意见"', `name="${xmlAttr(`接待人 ${IMG}`)}"`)
    .replace('name="部门主管领导意见"', `name="${xmlAttr(`领导 ${SCRIPT}`)}"`)
    .replace('name="生成通行证"', `name="${xmlAttr(JS_URL)}"`);
  if (xml.split('__xss').length < 5) throw new Error('the bundled process changed: update payloadProcess');
  return xml;
}

/** Everything a page lets a person read: its text and the values of its fields. */
async function shownText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const values = [...document.querySelectorAll('input, textarea, select')].map((e) => (e as HTMLInputElement).value);
    const svgText = [...document.querySelectorAll('svg text')].map((e) => e.textContent ?? '');
    return [document.body.innerText, ...values, ...svgText].join('\n');
  });
}

/** Elements a payload would have become: handlers naming __xss, scripts, javascript: links. */
async function injected(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    for (const el of document.querySelectorAll('*')) {
      for (const attr of el.attributes) {
        const v = attr.value.trim().toLowerCase();
        if (attr.name.startsWith('on') && v.includes('__xss')) found.push(`<${el.tagName.toLowerCase()} ${attr.name}="${attr.value}">`);
        if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(attr.name) && v.startsWith('javascript:')) found.push(`<${el.tagName.toLowerCase()} ${attr.name}="${attr.value}">`);
      }
      if (el.tagName === 'SCRIPT' && (el.textContent ?? '').includes('__xss')) found.push(`<script>${el.textContent}</script>`);
    }
    return found;
  });
}

interface Watched extends WatchedPage {
  dialogs: string[];
}

/**
 * A PC page with the pages' CSP bypassed: the CSP (script-src 'self') would stop an injected handler from running,
 * and what is tested is that nothing is injected in the first place.
 */
async function watched(browser: Browser, origin: string): Promise<Watched> {
  const context = await browser.newContext({ ...PC, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  return { context, page, foreign: [], errors, dialogs };
}

const checked: string[] = [];

/** Waits until one of the expected payloads is shown, then asserts nothing ran or became markup. */
async function inert(t: any, w: Watched, label: string, expected: string[]) {
  const { page } = w;
  await page
    .waitForFunction((texts) => {
      const all = [document.body.innerText, ...[...document.querySelectorAll('input, textarea, svg text')].map((e: any) => e.value ?? e.textContent)].join('\n');
      return texts.some((x: string) => all.includes(x));
    }, expected)
    .catch(() => undefined);
  await page.waitForTimeout(300); // an image's onerror fires after its load fails
  t.is(await page.evaluate(() => (window as any).__xss), undefined, `${label}: window.__xss is unset`);
  t.deepEqual(w.dialogs, [], `${label}: no dialog opened`);
  t.deepEqual(await injected(page), [], `${label}: no payload became markup`);
  const text = await shownText(page);
  t.true(
    expected.some((x) => text.includes(x)),
    `${label}: a payload is shown as text (expected one of ${JSON.stringify(expected)}; page: ${text.slice(0, 400)})`,
  );
  await shot(page, `xss-${label.replace(/[^a-z0-9]+/gi, '-')}`);
  checked.push(label);
}

test('stored payloads in names, form fields, file names, BPMN names and a CSV import never execute on staff, admin and gate pages', async (t) => {
  t.timeout(120_000);
  await ensureWebBuild();
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    // The administrator: a host named with a payload (CSV import) and a process whose names are payloads.
    const { client: adminApi } = await staffClient(server, 'admin');
    const csv = [
      '用户名,姓名,手机号,单位代码,角色,初始密码',
      `host-xss,${SCRIPT},13800009999,CS,接待人,Change@2026`,
      // a leader the host picks from the task form's select (choices.js builds its list from the names)
      `leader-xss,"${SVG.replace(/"/g, '""')}",13800008888,CS,主管领导,Change@2026`,
    ].join('\n');
    await ok(adminApi.post('/api/admin/staff/import', { csv }));
    await ok(adminApi.post('/api/admin/departments/import', { csv: `campusCode,code,name\nMAIN,XSS,"${SVG.replace(/"/g, '""')} ${JS_URL}"\n` }));
    const deployed = await adminApi.post('/api/admin/processes/deploy', { xml: payloadProcess() });
    t.true(deployed.status === 200 || deployed.status === 201, JSON.stringify(deployed.body));

    // The visitor: name and organisation, the remark and the host's name, an attachment named with a payload.
    const { client, identity } = await newVisitor(server, { name: IMG, organisation: `${SVG} ${SCRIPT}` });
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(tinyPng())], { type: 'image/png' }), `${IMG}.png`);
    const upload = await client.request('POST', '/api/uploads', form);
    t.is(upload.status, 201, JSON.stringify(upload.body));
    const data = await applicationData(client, {
      hostName: SCRIPT,
      hostMobile: '13800009999',
      remark: `${IMG} ${SCRIPT} ${SVG} ${JS_URL}`,
      attachments: [{ storage: 'url', name: upload.body.name, url: upload.body.url, data: upload.body }],
    });
    const submitted = await client.post('/api/applications', { data });
    t.is(submitted.status, 201, JSON.stringify(submitted.body));
    const applicationId = submitted.body.application.id;
    await server.settle();

    // The host's task list and task page.
    const host = await watched(browser, server.url);
    await host.page.goto(`${server.url}/staff/`);
    await host.page.waitForSelector('#f-username');
    await host.page.fill('#f-username', 'host-xss');
    await host.page.fill('#f-password', 'Change@2026');
    await host.page.click('button[type=submit]');
    await host.page.waitForSelector('#task-filters');
    await inert(t, host, 'host task list', [IMG, `接待人 ${IMG}`]);
    const hostApi = new ApiClient(server.url);
    await ok(hostApi.post('/api/staff/login', { username: 'host-xss', password: 'Change@2026' }));
    const hostTask = (await onlyTask(hostApi)).tasks[0];
    await host.page.goto(`${server.url}/staff/#/task/${hostTask.id}`);
    await host.page.waitForSelector('.formio-component-opinion textarea');
    await inert(t, host, 'host task page', [`${IMG} ${SCRIPT}`]);
    // the leader select offers the payload-named leader as text
    await host.page.click('.formio-component-decision label:has-text("同意")');
    await host.page.click('.formio-component-leaderStaffId .choices');
    await host.page.waitForSelector('.formio-component-leaderStaffId .choices__list--dropdown .choices__item--choice');
    // Form.io passes option labels through DOMPurify before choices.js renders them as HTML: the payload-named
    // leader is offered with the markup stripped (shown as '">'), the payload inert
    await inert(t, host, 'host leader select', ['王主任']);
    const offered = await host.page.$$eval('.formio-component-leaderStaffId .choices__list--dropdown .choices__item--choice', (els) => els.map((e) => e.textContent?.trim()));
    t.deepEqual(offered, ['王主任', '">'], 'both leaders are offered, the payload as text with its markup stripped');
    const hostText = await shownText(host.page);
    for (const p of [IMG, SCRIPT, SVG, JS_URL]) t.true(hostText.includes(p), `the host's task page shows ${p}`);
    const attachment = (await host.page.textContent('[data-attachment]')) ?? '';
    t.true(attachment.includes(upload.body.name) && upload.body.name.includes('onerror'), `the attachment's name is shown: ${attachment} / ${upload.body.name}`);

    const view = await hostApi.get(`/api/tasks/${hostTask.id}`);
    await ok(hostApi.post(`/api/tasks/${hostTask.id}/complete`, { data: { decision: 'approve', opinion: `同意 ${IMG}`, leaderStaffId: String(view.body.leaders.find((l: any) => l.name !== SVG).id) } }));
    await server.settle();

    // The leader's task list and task page.
    const leader = await watched(browser, server.url);
    await staffLogin(leader.page, server.url, '/staff/', 'leader-cs');
    await leader.page.waitForSelector('#task-filters');
    await inert(t, leader, 'leader task list', [IMG, `领导 ${SCRIPT}`]);
    const { client: leaderApi } = await staffClient(server, 'leader-cs');
    const leaderTask = (await onlyTask(leaderApi)).tasks[0];
    await leader.page.goto(`${server.url}/staff/#/task/${leaderTask.id}`);
    await leader.page.waitForSelector('.formio-component-opinion textarea');
    await inert(t, leader, 'leader task page', [`${IMG} ${SCRIPT}`]);
    await ok(leaderApi.post(`/api/tasks/${leaderTask.id}/complete`, { data: { decision: 'approve', opinion: `同意 ${SVG}` } }));
    await server.settle();
    t.is((await server.db.knex('applications').where({ id: applicationId }).first()).status, 'approved');

    // The guard checks the pass by its short code.
    server.clock.set('2026-12-03T01:10:00Z');
    await ok(client.post('/api/visitors/login', { mobile: identity.mobile, password: identity.idNumber.slice(-8) }));
    const pass = await ok(client.get(`/api/applications/${applicationId}/pass`));
    const guard = await watched(browser, server.url);
    await staffLogin(guard.page, server.url, '/gate/', 'guard');
    await guard.page.waitForSelector('#gate-campus');
    await guard.page.selectOption('#gate-campus', { label: '主校区' });
    await guard.page.fill('#gate-code', pass.pass.shortCode);
    await guard.page.click('#gate-verify');
    await guard.page.waitForSelector('#gate-verdict');
    t.is(await guard.page.getAttribute('#gate-verdict', 'data-valid'), 'true');
    await inert(t, guard, 'gate verdict', [IMG]);

    // The admin pages.
    const admin = await watched(browser, server.url);
    await adminLogin(admin.page, server.url);
    const adminPages: Array<[string, string, string, string[]]> = [
      ['admin processes', '#/processes', '#proc-new', [SVG]],
      ['admin modeler', '#/processes/visit-pass/latest', '#bpmn-canvas [data-element-id="host-review"]', [`接待人 ${IMG}`, IMG]],
      ['admin instances list', '#/instances', 'main a[href^="#/instances/"]', [IMG]],
      ['admin instance detail', `#/instances/${applicationId}`, 'main', [`${IMG} ${SCRIPT}`, IMG]],
      ['admin directory staff', '#/directory?tab=staff', 'main table', [SCRIPT]],
      ['admin audit log', '#/audit', 'main table', [SCRIPT, SVG]],
      ['admin directory departments', '#/directory?tab=departments', 'main table', [`${SVG} ${JS_URL}`]],
    ];
    for (const [label, hash, selector, expected] of adminPages) {
      await admin.page.goto(`${server.url}/admin/${hash}`);
      await admin.page.waitForSelector(selector);
      await inert(t, admin, label, expected);
    }
    t.log(`${checked.length} pages checked: ${checked.join(', ')}`);
  } finally {
    await close();
    await server.close();
  }
});
