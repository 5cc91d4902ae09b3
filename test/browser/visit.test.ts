import test from 'ava';
import {
  decideTask,
  ensureWebBuild,
  fillApplication,
  launchBrowser,
  openPage,
  PC,
  PHONE,
  registerVisitor,
  shot,
  jsQR,
  offOrigin,
  staffLogin,
} from '../helpers/browser.ts';
import { tinyPng } from '../helpers/flow.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';


test.before(async () => {
  await ensureWebBuild();
});


test('a visitor applies on a phone, the host and the leader approve, the guard admits the pass', async (t) => {
  t.timeout(180_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const who = makeVisitor({ name: '李四', organisation: '示例科技有限公司' });
    const visitor = await openPage(browser, server.url, PHONE);
    const vp = visitor.page;

    await vp.goto(`${server.url}/`);
    await vp.getByRole('link', { name: '首次使用：访客登记' }).waitFor();
    await shot(vp, '01-visitor-landing');
    await registerVisitor(vp, server.url, who, '02-visitor-register');
    await vp.waitForURL(/#\/apply$/);
    await vp.waitForSelector('.formio-component-campusId .choices');
    t.is(await vp.inputValue('.formio-component-visitorName input'), '李四', 'server-filled name');
    t.regex(await vp.inputValue('.formio-component-idNumberMasked input'), /^\d{3}\*{11}\d{3}[\dX]$/, 'ID shown masked');
    await shot(vp, '03-visitor-application-empty');
    await fillApplication(vp, { attachment: tinyPng(), remark: '学术交流' });
    await shot(vp, '04-visitor-application-filled');
    await vp.click('.formio-component-submit button');
    await vp.waitForSelector('#flow-number');
    const flowNumber = (await vp.textContent('#flow-number'))!.trim();
    t.regex(flowNumber, /^VF20261201\d{6}$/);
    t.regex((await vp.textContent('main')) ?? '', /接待人/, 'the next step is named');
    t.is(await vp.evaluate(() => sessionStorage.getItem('vf_apply_draft')), null, 'the draft is gone once sent');
    await shot(vp, '05-visitor-submitted');
    await server.settle();

    await vp.click('a:has-text("查看申请进度")');
    await vp.waitForSelector('.vf-timeline');
    t.is(await vp.getAttribute('[data-status]', 'data-status'), 'pending');
    await shot(vp, '06-visitor-status-pending');

    // The host works at a PC.
    const host = await openPage(browser, server.url, PC);
    const hp = host.page;
    await staffLogin(hp, server.url, '/staff/', 'host-cs');
    await hp.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    t.is((await hp.textContent('a[data-list="mine"] .badge'))?.trim(), '1');
    await shot(hp, '07-host-task-list');
    await hp.click(`tr[data-flow="${flowNumber}"] a.btn`);
    await hp.waitForSelector('.formio-component-leaderStaffId', { state: 'attached' });
    const body = (await hp.textContent('main'))!;
    t.true(body.includes(`${who.idNumber.slice(0, 3)}***********${who.idNumber.slice(-4)}`), 'masked ID number');
    t.false(body.includes(who.idNumber), 'never the clear ID number');
    t.false(body.includes(who.mobile), 'never the clear mobile');
    await hp.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('img.vf-thumb');
      return Boolean(img?.complete && img.naturalWidth > 0);
    });
    t.truthy(await hp.textContent('.vf-notice'), 'the review notice is shown');
    await hp.click('a:has-text("返回")');
    await hp.waitForSelector('#task-filters');
    await decideTask(hp, flowNumber, '同意', { stockOpinion: '同意，请按约定时间到访', leader: '主任', shotName: '08-host-task-approve' });
    await hp.waitForSelector('.alert-success');
    t.is((await hp.textContent('a[data-list="done"] .badge'))?.trim(), '1');
    await shot(hp, '09-host-task-list-after');
    await server.settle();

    // The leader approves on a phone.
    const leader = await openPage(browser, server.url, PHONE);
    const lp = leader.page;
    await staffLogin(lp, server.url, '/staff/', 'leader-cs');
    await lp.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    await shot(lp, '10-leader-task-list-phone');
    await decideTask(lp, flowNumber, '同意', { opinion: '同意来访', shotName: '11-leader-task-phone' });
    await server.settle();

    // Visit day, 09:10 in Shanghai: the sessions of the first day have expired, so everyone logs in again.
    server.clock.set('2026-12-03T01:10:00Z');
    await vp.goto(`${server.url}/#/applications`);
    await vp.waitForURL(/#\/login/);
    await vp.fill('#f-mobile', who.mobile);
    await vp.fill('#f-password', who.idNumber.slice(-8));
    await shot(vp, '12-visitor-login');
    await vp.click('button[type=submit]');
    await vp.waitForSelector(`a[data-flow="${flowNumber}"]`);
    await shot(vp, '13-visitor-applications');
    await vp.click(`a[data-flow="${flowNumber}"]`);
    await vp.waitForSelector('[data-status="approved"]');
    await vp.click('a:has-text("查看通行码")');
    await vp.waitForSelector('#pass-code');
    const shortCode = (await vp.textContent('#pass-code'))!.trim();
    t.regex(shortCode, /^[0-9A-Z]{4,12}$/);
    await shot(vp, '14-visitor-pass');
    // What the guard's camera would read: decode the drawn QR with the same decoder the gate page uses.
    const pixels = await vp.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>('#pass-qr')!;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      return { data: Array.from(d.data), width: d.width, height: d.height };
    });
    const decoded = jsQR(Uint8ClampedArray.from(pixels.data), pixels.width, pixels.height);
    t.truthy(decoded?.data, 'the pass QR decodes');

    const guard = await openPage(browser, server.url, PHONE);
    const gp = guard.page;
    await staffLogin(gp, server.url, '/gate/', 'guard');
    await gp.waitForSelector('#gate-campus');
    await gp.selectOption('#gate-campus', { label: '主校区' });
    await gp.fill('#gate-code', shortCode);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict');
    t.is(await gp.getAttribute('#gate-verdict', 'data-valid'), 'true');
    t.true((await gp.textContent('#gate-result'))!.includes('李四'));
    await shot(gp, '15-guard-valid');
    await gp.click('button[data-event="entry"]');
    await gp.waitForSelector('#gate-events .alert-success');
    await shot(gp, '16-guard-entry-recorded');
    // The scanned payload goes the same way (a scanner gun types it into the field).
    await gp.fill('#gate-code', decoded!.data);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict[data-valid="true"]');
    t.regex((await gp.textContent('#gate-result'))!, /入校/, 'the last event is shown');
    // A second entry without an exit is recorded, and the guard is told.
    await gp.click('button[data-event="entry"]');
    await gp.waitForSelector('#gate-warning[data-code="ENTRY_WITHOUT_EXIT"]');
    t.regex((await gp.textContent('#gate-warning'))!, /未登记离校/);
    // In English, at another campus's gate: the refusal names the pass's campus in English words.
    await gp.click('#vf-lang');
    await gp.waitForSelector('html[lang="en"]');
    await gp.waitForSelector('#gate-campus');
    await gp.selectOption('#gate-campus', { label: '东校区' });
    await gp.fill('#gate-code', shortCode);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict[data-valid="false"][data-reason="WRONG_CAMPUS"]');
    t.regex((await gp.textContent('#gate-verdict'))!, /This pass is for another campus \(主校区\)/);
    await gp.click('#vf-lang');
    await gp.waitForSelector('html[lang="zh-CN"]');
    await gp.waitForSelector('#gate-campus');
    await gp.selectOption('#gate-campus', { label: '主校区' });
    // A wrong code is a big red answer with the reason.
    await gp.fill('#gate-code', 'ZZZZ9999');
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict[data-valid="false"]');
    await shot(gp, '17-guard-invalid');

    offOrigin(t, [visitor, host, leader, guard]);
  } finally {
    await close();
    await server.close();
  }
});
