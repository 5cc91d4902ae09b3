import test from 'ava';
import { decideTask, ensureWebBuild, launchBrowser, offOrigin, openPage, PC, PHONE, shot, staffLogin } from '../helpers/browser.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

test('a host pre-invites a visitor; the visitor applies from the SMS link with the form filled in, the leader approves, the visitor gets the pass', async (t) => {
  t.timeout(180_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const who = makeVisitor({ name: '周芷若', organisation: '示例研究院' });

    // The host invites at a PC.
    const host = await openPage(browser, server.url, PC);
    const hp = host.page;
    await staffLogin(hp, server.url, '/staff/', 'host-cs');
    await hp.waitForSelector('#task-filters');
    await hp.click('#vf-nav a[href="#/invitations"]');
    await hp.waitForSelector('#inv-form');
    t.is(await hp.inputValue('#inv-departmentId'), String((await server.db.knex('departments').where({ code: 'CS' }).first()).id), 'his own department');
    // A wrong mobile is refused under the field, in Chinese
    await hp.fill('#inv-visitorMobile', '1380000');
    await hp.fill('#inv-visitDate', '2026-12-03');
    await hp.fill('#inv-visitStartTime', '09:00');
    await hp.fill('#inv-visitEndTime', '11:00');
    await hp.selectOption('#inv-leaderStaffId', { label: '王主任' });
    await hp.click('#inv-submit');
    await hp.waitForSelector('[data-field="visitorMobile"] .is-invalid');
    t.regex((await hp.textContent('#inv-messages'))!, /请输入正确的11位访客手机号/);
    await hp.fill('#inv-visitorMobile', who.mobile);
    await hp.fill('#inv-visitorName', who.name);
    await hp.fill('#inv-note', '项目评审');
    await shot(hp, 'invite-01-host-form');
    await hp.click('#inv-submit');
    await hp.waitForSelector('#inv-messages .alert-success');
    await hp.waitForSelector('#inv-list tr[data-status="active"]');
    t.regex((await hp.textContent('#inv-list'))!, /待使用/);
    t.false((await hp.textContent('main'))!.includes(who.mobile), 'the mobile is shown masked');
    await shot(hp, 'invite-02-host-list');

    // The SMS the visitor's phone receives (the outbox holds the link until the vendor has it)
    const sms = await server.db.knex('sms_outbox').where({ template: 'invitation' }).first();
    const link = /https?:\/\/[^/\s]+(\/\?invite=[A-Za-z0-9_-]+)/.exec(sms.body);
    t.truthy(link, sms.body);
    await server.settle();

    // The visitor opens it on a phone, registers with the invited mobile and finds the form filled in.
    const visitor = await openPage(browser, server.url, PHONE);
    const vp = visitor.page;
    await vp.goto(`${server.url}${link![1]}`);
    await vp.waitForSelector('#invite-lead');
    t.regex((await vp.textContent('#invite-lead'))!, /王老师邀请您到访/);
    t.false(vp.url().includes('invite='), 'the token is taken out of the address bar');
    await shot(vp, 'invite-03-visitor-link');
    await vp.click('#invite-register');
    await vp.fill('#f-name', who.name);
    await vp.fill('#f-organisation', who.organisation);
    await vp.fill('#f-idNumber', who.idNumber);
    await vp.fill('#f-mobile', who.mobile);
    await vp.click('button[type=submit]');
    await vp.waitForURL(/#\/invite\/apply$/);
    await vp.waitForSelector('.formio-component-campusId .choices');
    t.regex((await vp.textContent('main'))!, /到访单位、接待人和到访时间已由接待人指定/);
    t.is(await vp.inputValue('.formio-component-hostName input'), '王老师');
    t.true(await vp.isDisabled('.formio-component-hostName input'), 'the host is locked');
    t.true(await vp.isDisabled('.formio-component-visitStartTime input'), 'the window is locked');
    t.regex((await vp.textContent('.formio-component-departmentId'))!, /计算机学院/);
    await vp.fill('.formio-component-remark textarea', '项目评审');
    await shot(vp, 'invite-04-visitor-form');
    await vp.click('.formio-component-submit button');
    await vp.waitForSelector('#flow-number');
    const flowNumber = (await vp.textContent('#flow-number'))!.trim();
    t.regex((await vp.textContent('main'))!, /直接送交部门主管领导审核/);
    await shot(vp, 'invite-05-visitor-submitted');
    await server.settle();

    // The host has nothing to review; his list says the invitation was used.
    await hp.reload();
    await hp.waitForSelector('#inv-list tr[data-status="used"]');
    t.regex((await hp.textContent('#inv-list'))!, new RegExp(flowNumber));

    // A second invitation, delivered, then cancelled: the host is told the visitor gets an SMS saying so.
    const other = makeVisitor({ name: '张无忌' });
    await hp.fill('#inv-visitorMobile', other.mobile);
    await hp.fill('#inv-visitorName', other.name);
    await hp.fill('#inv-visitDate', '2026-12-04');
    await hp.fill('#inv-visitStartTime', '14:00');
    await hp.fill('#inv-visitEndTime', '16:00');
    await hp.selectOption('#inv-leaderStaffId', { label: '王主任' });
    await hp.click('#inv-submit');
    await hp.waitForSelector('#inv-list tr[data-status="active"]');
    await server.settle();
    hp.once('dialog', (d) => void d.accept());
    await hp.click('#inv-list tr[data-status="active"] button[data-action="cancel"]');
    await hp.waitForSelector('#inv-list tr[data-status="canceled"]');
    const masked = `${other.mobile.slice(0, 3)}****${other.mobile.slice(-4)}`;
    t.true((await hp.textContent('#inv-messages'))!.includes(`邀请已取消，将以短信通知访客（${masked}）`));
    await shot(hp, 'invite-05b-host-cancelled');
    await server.settle();
    const notice = await server.db.knex('sms_outbox').where({ template: 'invitationCanceled' }).first();
    t.is(notice?.status, 'sent');
    t.regex(notice.body, /张无忌，王老师已取消邀请您于2026-12-04 14:00-16:00到访/);

    // The leader the host chose approves.
    const leader = await openPage(browser, server.url, PHONE);
    const lp = leader.page;
    await staffLogin(lp, server.url, '/staff/', 'leader-cs');
    await lp.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    await lp.click(`tr[data-flow="${flowNumber}"] a.btn`);
    await lp.waitForSelector('.vf-kv');
    t.regex((await lp.textContent('main'))!, /接待人王老师预先邀请（免接待人审核）/, 'the leader sees how it came');
    await lp.click('a:has-text("返回")');
    await lp.waitForSelector('#task-filters');
    await decideTask(lp, flowNumber, '同意', { opinion: '欢迎来访', shotName: 'invite-06-leader' });
    await server.settle();

    // The visitor sees it was invited and approved, and gets the pass on the day.
    await vp.click('a:has-text("查看申请进度")');
    await vp.waitForSelector('[data-status="approved"]');
    t.regex((await vp.textContent('#invited-by-host'))!, /接待人王老师预先邀请/);
    await shot(vp, 'invite-07-visitor-approved');
    server.clock.set('2026-12-03T01:10:00Z');
    await vp.goto(`${server.url}/#/applications`);
    await vp.waitForURL(/#\/login/);
    await vp.fill('#f-mobile', who.mobile);
    await vp.fill('#f-password', who.idNumber.slice(-8));
    await vp.click('button[type=submit]');
    await vp.waitForSelector(`a[data-flow="${flowNumber}"]`);
    await vp.click(`a[data-flow="${flowNumber}"]`);
    await vp.waitForSelector('[data-status="approved"]');
    await vp.click('a:has-text("查看通行码")');
    await vp.waitForSelector('#pass-code');
    t.regex((await vp.textContent('#pass-code'))!.trim(), /^[0-9A-Z]{4,12}$/);
    await shot(vp, 'invite-08-visitor-pass');

    // The link works once.
    await vp.goto(`${server.url}${link![1]}`);
    await vp.waitForSelector('.vf-alert');
    t.regex((await vp.textContent('main'))!, /该邀请已使用/);

    offOrigin(t, [host, visitor, leader]);
  } finally {
    await close();
    await server.close();
  }
});
