import test from 'ava';
import { decideTask, ensureWebBuild, fillApplication, launchBrowser, openPage, PC, PHONE, registerVisitor, shot, staffLogin, jsQR, offOrigin } from '../helpers/browser.ts';
import { makeIdNumber, makeMobile, makeVisitor } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';


test.before(async () => {
  await ensureWebBuild();
});


test('a visitor applies with two companions; after approval a companion opens his own pass by the SMS link and the guard checks it', async (t) => {
  t.timeout(240_000);
  const server = await startTestServer('pglite', { recordSms: true });
  const { browser, close } = await launchBrowser();
  try {
    const who = makeVisitor({ name: '李四' });
    const companions = [
      { name: '王五', idNumber: makeIdNumber('19920518'), mobile: makeMobile() },
      { name: '赵小六', idNumber: makeIdNumber('19880102'), mobile: makeMobile() },
    ];
    const visitor = await openPage(browser, server.url, PHONE);
    const vp = visitor.page;
    await vp.goto(`${server.url}/`);
    await registerVisitor(vp, server.url, who);
    await vp.waitForURL(/#\/apply$/);
    await fillApplication(vp, { remark: '项目交流' });

    // Two rows of the companions grid; the second ID number has a wrong check digit at first.
    const grid = '.formio-component-companions';
    const posts: number[] = [];
    vp.on('response', (r) => {
      if (r.url().endsWith('/api/applications') && r.request().method() === 'POST') posts.push(r.status());
    });
    const wrong = `${companions[1].idNumber.slice(0, 17)}${companions[1].idNumber.endsWith('0') ? '1' : '0'}`;
    for (const [i, c] of companions.entries()) {
      await vp.click(`${grid} button.formio-button-add-row`);
      const row = vp.locator(`${grid} tbody tr`).nth(i);
      await row.locator('.formio-component-name input').fill(c.name);
      await row.locator('.formio-component-idNumber input').fill(i === 1 ? wrong : c.idNumber);
      await row.locator('.formio-component-mobile input').fill(c.mobile);
    }
    await shot(vp, 'group-01-companions-filled');
    await vp.click('.formio-component-submit button');
    // The server's refusal marks the row's field, in Chinese, and keeps what was typed.
    await vp.waitForFunction((text) => document.body.textContent?.includes(text), '身份证号校验位不正确');
    t.is(await vp.locator(`${grid} tbody tr`).nth(0).locator('.formio-component-name input').inputValue(), '王五', 'the rows are kept');
    t.is(await vp.locator(`${grid} tbody tr`).nth(1).locator('.formio-component-idNumber input').inputValue(), wrong);
    await shot(vp, 'group-02-companion-id-refused');
    await vp.locator(`${grid} tbody tr`).nth(1).locator('.formio-component-idNumber input').fill(companions[1].idNumber);
    await vp.click('.formio-component-submit button');
    await vp.waitForSelector('#flow-number');
    const flowNumber = (await vp.textContent('#flow-number'))!.trim();
    t.deepEqual(posts, [400, 201], 'the corrected form went once');
    await server.settle();

    // Host (PC) sees the companions masked, then approves; the leader approves.
    const host = await openPage(browser, server.url, PC);
    const hp = host.page;
    await staffLogin(hp, server.url, '/staff/', 'host-cs');
    await hp.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    await hp.click(`tr[data-flow="${flowNumber}"] a.btn`);
    await hp.waitForSelector('#task-companions');
    const table = (await hp.textContent('#task-companions'))!;
    for (const c of companions) {
      t.true(table.includes(c.name));
      t.true(table.includes(`${c.idNumber.slice(0, 3)}***********${c.idNumber.slice(-4)}`), 'masked ID number');
      t.true(table.includes(`${c.mobile.slice(0, 3)}****${c.mobile.slice(-4)}`), 'masked mobile');
      t.false((await hp.textContent('main'))!.includes(c.idNumber), 'never the clear ID number');
    }
    await shot(hp, 'group-03-host-sees-companions');
    await hp.click('a:has-text("返回")');
    await hp.waitForSelector('#task-filters');
    await decideTask(hp, flowNumber, '同意', { stockOpinion: '同意，请按约定时间到访', leader: '主任' });
    await server.settle();
    const leader = await openPage(browser, server.url, PHONE);
    await staffLogin(leader.page, server.url, '/staff/', 'leader-cs');
    await leader.page.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    await decideTask(leader.page, flowNumber, '同意', { opinion: '同意来访' });
    await server.settle();

    // The applicant's status page lists the group's three passes.
    await vp.goto(`${server.url}/#/applications`);
    await vp.click(`a[data-flow="${flowNumber}"]`);
    await vp.waitForSelector('#group-passes');
    t.is(await vp.locator('#group-passes li[data-state="active"]').count(), 3);
    await shot(vp, 'group-04-applicant-group-passes');

    // 赵小六 says the SMS never came: a minute later the applicant sends his link again from the status page.
    server.clock.advance(61_000);
    await vp.click('#group-passes button[data-resend="1"]');
    await vp.waitForSelector('#group-resend-form');
    // A wrong number is refused in Chinese and nothing is sent; left empty, the link goes to the number given before.
    await vp.fill('#group-resend-mobile', '12345');
    await vp.click('#group-resend-send');
    await vp.waitForSelector('#group-resend-form .alert-danger');
    t.regex((await vp.textContent('#group-resend-form'))!, /请填写正确的11位手机号/);
    await shot(vp, 'group-04a-resend-form-refused');
    await vp.fill('#group-resend-mobile', '');
    await vp.click('#group-resend-send');
    await vp.waitForSelector('#group-resend-result .alert-success');
    const resent = (await vp.textContent('#group-resend-result'))!;
    t.true(resent.includes(`赵小六（${companions[1].mobile.slice(0, 3)}****${companions[1].mobile.slice(-4)}）`), resent);
    t.true(await vp.locator('#group-passes button[data-resend="1"]').isDisabled(), 'the button rests for a minute');
    await server.settle();
    await shot(vp, 'group-04b-companion-link-resent');

    // Visit day. 赵小六 opens the link of his SMS on his own phone, without an account.
    server.clock.set('2026-12-03T01:10:00Z');
    // The link as his phone got it (the outbox keeps it blotted once sent).
    const sms = server.smsSent.filter((m) => m.template === 'companionPass');
    t.deepEqual(sms.map((m) => m.to), [companions[0].mobile, companions[1].mobile, companions[1].mobile]);
    const link = /(https?:\/\/\S+\?pass=[A-Za-z0-9_-]+)/.exec(sms[2].body)![1];
    const companion = await openPage(browser, server.url, PHONE);
    const cp = companion.page;
    await cp.goto(link.replace(/^https?:\/\/[^/]+/, server.url));
    await cp.waitForSelector('#pass-code');
    t.notRegex(cp.url(), /pass=/, 'the token leaves the address bar');
    t.regex((await cp.textContent('#pass-holder'))!, /赵\*\*/);
    const shortCode = (await cp.textContent('#pass-code'))!.trim();
    const pixels = await cp.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>('#pass-qr')!;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      return { data: Array.from(d.data), width: d.width, height: d.height };
    });
    const decoded = jsQR(Uint8ClampedArray.from(pixels.data), pixels.width, pixels.height);
    t.truthy(decoded?.data, 'the companion pass QR decodes');
    await shot(cp, 'group-05-companion-pass-phone');

    // The guard scans it: the companion's own name, and whose group he is in; the entry is his.
    const guard = await openPage(browser, server.url, PHONE);
    const gp = guard.page;
    await staffLogin(gp, server.url, '/gate/', 'guard');
    await gp.waitForSelector('#gate-campus');
    await gp.selectOption('#gate-campus', { label: '主校区' });
    await gp.fill('#gate-code', decoded!.data);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict[data-valid="true"]');
    const result = (await gp.textContent('#gate-result'))!;
    t.true(result.includes('赵小六'));
    t.is((await gp.textContent('#gate-companion-of'))!.trim(), '李四');
    await gp.click('button[data-event="entry"]');
    await gp.waitForSelector('#gate-events .alert-success');
    await shot(gp, 'group-06-guard-companion-entry');
    const pass = await server.db.knex('passes').where({ short_code: shortCode }).first();
    t.truthy(await server.db.knex('pass_presence').where({ pass_id: pass.id }).first(), 'he is on campus');
    t.is((await server.db.knex('pass_presence').select('pass_id')).length, 1, 'nobody else of the group is');

    offOrigin(t, [visitor, host, leader, companion, guard]);
  } finally {
    await close();
    await server.close();
  }
});
