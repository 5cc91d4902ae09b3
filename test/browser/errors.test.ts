import test from 'ava';
import { decideTask, ensureWebBuild, fillApplication, launchBrowser, openPage, PC, PHONE, registerVisitor, shot, staffLogin } from '../helpers/browser.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

test('an invalid ID number is refused at registration with the Chinese reason next to the field', async (t) => {
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const { page, foreign } = await openPage(browser, server.url, PHONE);
    const who = makeVisitor();
    const last = who.idNumber.at(-1) === '1' ? '2' : '1';
    await registerVisitor(page, server.url, { ...who, idNumber: who.idNumber.slice(0, 17) + last });
    await page.waitForSelector('.vf-alert');
    const message = (await page.textContent('.vf-alert'))!;
    t.regex(message, /身份证/, message);
    t.true(await page.locator('#f-idNumber.is-invalid').isVisible(), 'the ID field is marked');
    t.regex((await page.textContent('[data-field="idNumber"] .invalid-feedback'))!, /[\u4e00-\u9fff]/);
    t.is(await page.inputValue('#f-name'), who.name, 'what was typed stays');
    t.regex(page.url(), /#\/register/);
    await shot(page, '20-register-invalid-id');
    t.deepEqual(foreign, []);
  } finally {
    await close();
    await server.close();
  }
});

test('a failed submission keeps the form, a reload restores it, and a host refusal reaches the visitor', async (t) => {
  t.timeout(120_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const visitor = await openPage(browser, server.url, PHONE);
    const vp = visitor.page;
    const who = makeVisitor({ name: '赵六' });
    await registerVisitor(vp, server.url, who);
    await vp.waitForURL(/#\/apply$/);
    await fillApplication(vp, { remark: '设备调试' });
    // A host the department does not know: the server refuses, nothing typed is lost.
    await vp.fill('.formio-component-hostName input', '不存在的老师');
    await vp.click('.formio-component-submit button');
    await vp.waitForSelector('.formio-component-hostName .formio-errors .error');
    t.regex((await vp.textContent('.formio-component-hostName .formio-errors'))!, /接待人姓名或手机号与该单位登记的接待人不符/, 'the message is under the field');
    t.regex((await vp.textContent('.alert'))!, /接待人/, 'and above the form');
    t.is(await vp.inputValue('.formio-component-remark textarea'), '设备调试');
    await shot(vp, '21-application-server-error');

    await vp.reload();
    await vp.waitForSelector('.formio-component-campusId .choices');
    await vp.waitForSelector('.alert-info');
    t.is(await vp.inputValue('.formio-component-hostName input'), '不存在的老师', 'restored from the session draft');
    t.is(await vp.inputValue('.formio-component-remark textarea'), '设备调试');
    await vp.fill('.formio-component-hostName input', '王老师');
    // The network drops the next submission: the visitor is told and the form stays filled.
    await vp.route('**/api/applications', (route) => route.abort('internetdisconnected'), { times: 1 });
    await vp.click('.formio-component-submit button');
    await vp.waitForSelector('.vf-alert:has-text("网络连接失败")');
    t.is(await vp.inputValue('.formio-component-remark textarea'), '设备调试');
    t.is(await vp.inputValue('.formio-component-hostName input'), '王老师');
    await shot(vp, '21b-application-network-error');
    await vp.click('.formio-component-submit button');
    await vp.waitForSelector('#flow-number');
    const flowNumber = (await vp.textContent('#flow-number'))!.trim();
    await server.settle();

    const host = await openPage(browser, server.url, PC);
    await staffLogin(host.page, server.url, '/staff/', 'host-cs');
    await host.page.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    await decideTask(host.page, flowNumber, '否决', { stockOpinion: '不同意，来访事由不充分', shotName: '22-host-refuse' });
    await server.settle();

    await vp.goto(`${server.url}/#/applications`);
    await vp.click(`a[data-flow="${flowNumber}"]`);
    await vp.waitForSelector('[data-status="refused"]');
    t.regex((await vp.textContent('main'))!, /来访事由不充分/);
    t.false(await vp.locator('a:has-text("查看通行码")').isVisible());
    await shot(vp, '23-visitor-refused');

    // The English switch translates the chrome and sticks.
    await vp.click('#vf-lang');
    await vp.waitForSelector('text=Progress');
    t.is(await vp.textContent('#vf-lang'), '中文');
    await shot(vp, '24-visitor-refused-en');
    t.deepEqual([...visitor.foreign, ...host.foreign], []);
  } finally {
    await close();
    await server.close();
  }
});
