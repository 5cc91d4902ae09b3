import test from 'ava';
import { acceptDialogs, adminLogin, noCspViolation } from '../helpers/admin-browser.ts';
import { ensureWebBuild, fillApplication, launchBrowser, openPage, PC, PHONE, registerVisitor, shot, staffLogin } from '../helpers/browser.ts';
import { makeIdNumber, makeVisitor } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

test('an admin lists a visitor and a person on the watch list; the listed visitor is refused, the other is reviewed by the security office, flagged for the host and at the gate', async (t) => {
  t.timeout(240_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const banned = makeVisitor({ name: '钱七', idNumber: makeIdNumber('19800101') });
    const watched = makeVisitor({ name: '周九', organisation: '某科技公司' });

    // The admin adds two entries on the page: an ID number to refuse, a name (+ organisation) to review.
    const admin = await openPage(browser, server.url, PC);
    const ap = admin.page;
    acceptDialogs(ap);
    await adminLogin(ap, server.url);
    await ap.click('a[href="#/watch-list"]');
    await ap.waitForSelector('#watch-form');
    await ap.selectOption('#watch-kind', 'id_number');
    await ap.fill('#watch-id-number', banned.idNumber);
    await ap.fill('#watch-reason', '保卫处通报：禁止入校');
    await ap.selectOption('#watch-mode', 'refuse');
    await ap.click('#watch-add');
    await ap.waitForSelector('#watch-table tbody tr');
    await ap.selectOption('#watch-kind', 'name');
    t.true(await ap.isHidden('#watch-id-number'), 'only the fields of the chosen kind are shown');
    await ap.fill('#watch-name', '周九');
    await ap.fill('#watch-organisation', '某科技公司');
    await ap.fill('#watch-reason', '曾在实验室滋事');
    await ap.selectOption('#watch-mode', 'review');
    await ap.click('#watch-add');
    await ap.waitForFunction(() => document.querySelectorAll('#watch-table tbody tr').length === 2);
    const listed = (await ap.textContent('#watch-table'))!;
    t.true(listed.includes(`${banned.idNumber.slice(0, 3)}***********${banned.idNumber.slice(-4)}`), 'the ID number is shown masked');
    t.false(listed.includes(banned.idNumber), 'never in clear');
    t.true(listed.includes('周九 · 某科技公司'));
    await shot(ap, 'watch-01-admin-list');
    // A wrong ID number is refused with the reason.
    await ap.selectOption('#watch-kind', 'id_number');
    await ap.fill('#watch-id-number', '110101');
    await ap.fill('#watch-reason', 'x');
    await ap.click('#watch-add');
    await ap.waitForSelector('#watch-messages .alert-danger');
    t.regex((await ap.textContent('#watch-messages'))!, /身份证号应为18位/);
    // A CSV import with a bad row imports nothing and names the row.
    await ap.click('#watch-csv-import >> xpath=ancestor::details/summary');
    await ap.fill('#watch-csv', '类型,值,单位,原因,处理方式\n车牌号,京A54321,,冲卡,转安全审核\n车牌号,X,,太短,直接拒绝\n');
    await ap.click('#watch-csv-import');
    await ap.waitForSelector('#watch-csv-report .alert-danger');
    t.regex((await ap.textContent('#watch-csv-report'))!, /3: 请填写正确的车牌号/);
    t.is(await ap.locator('#watch-table tbody tr').count(), 2);
    const rows = JSON.stringify(await server.db.knex('watch_list').select('*'));
    t.false(rows.includes(banned.idNumber), 'the table holds no clear ID number');

    // The refused visitor applies: a neutral refusal, nothing about a list or the reason.
    const v1 = await openPage(browser, server.url, PHONE);
    await registerVisitor(v1.page, server.url, banned);
    await v1.page.waitForURL(/#\/apply$/);
    await fillApplication(v1.page);
    await v1.page.click('.formio-component-submit button');
    await v1.page.waitForSelector('.alert-danger:has-text("暂不能受理")');
    const said = (await v1.page.textContent('main'))!;
    t.false(said.includes('禁止入校'));
    t.false(said.includes('名单'));
    await shot(v1.page, 'watch-02-visitor-refused');
    t.is(await server.db.knex('applications').count({ n: '*' }).first().then((r: any) => Number(r.n)), 0);

    // The watched visitor's application is accepted and the host sees the warning on the task page.
    const v2 = await openPage(browser, server.url, PHONE);
    await registerVisitor(v2.page, server.url, watched);
    await v2.page.waitForURL(/#\/apply$/);
    await fillApplication(v2.page);
    await v2.page.click('.formio-component-submit button');
    await v2.page.waitForSelector('#flow-number');
    const flowNumber = (await v2.page.textContent('#flow-number'))!.trim();
    t.false((await v2.page.textContent('main'))!.includes('滋事'));
    await server.settle();

    // It goes to the security office first: the reviewer claims it, sees why, and clears the visitor.
    const security = await openPage(browser, server.url, PHONE);
    await staffLogin(security.page, server.url, '/staff/', 'security');
    await security.page.waitForSelector('#task-filters');
    await security.page.goto(`${server.url}/staff/#/tasks?list=unclaimed`);
    await security.page.click(`tr[data-flow="${flowNumber}"] button[data-action=claim]`);
    await security.page.waitForSelector('#task-watch');
    t.regex((await security.page.textContent('#task-watch'))!, /关注名单.*曾在实验室滋事/s);
    await security.page.waitForSelector('.formio-component-opinion textarea');
    await security.page.fill('.formio-component-opinion textarea', '已核实身份，同意入校');
    await security.page.click('.formio-component-decision label:has-text("同意")');
    await shot(security.page, 'watch-03a-security-review');
    await security.page.click('.formio-component-submit button');
    await security.page.waitForSelector('#task-filters');
    await server.settle();

    const host = await openPage(browser, server.url, PC);
    await staffLogin(host.page, server.url, '/staff/', 'host-cs');
    await host.page.waitForSelector(`tr[data-flow="${flowNumber}"]`);
    await host.page.click(`tr[data-flow="${flowNumber}"] a.btn`);
    await host.page.waitForSelector('#task-watch');
    t.regex((await host.page.textContent('#task-watch'))!, /关注名单.*曾在实验室滋事/s);
    await shot(host.page, 'watch-03-host-task-warning');

    // The admin's instance page shows it too.
    const app = await server.db.knex('applications').where({ flow_number: flowNumber }).first();
    await ap.goto(`${server.url}/admin/#/instances/${app.id}`);
    await ap.waitForSelector('#inst-watch');
    t.regex((await ap.textContent('#inst-watch'))!, /曾在实验室滋事/);

    // At the gate (the application approved with its pass): the guard sees the warning with the reason.
    await server.db.knex('applications').where({ id: app.id }).update({ status: 'approved' });
    const pass = await server.db.knex.transaction((trx) => server.services.passes.issue(trx, app.id));
    server.clock.set('2026-12-03T01:10:00Z');
    const guard = await openPage(browser, server.url, PHONE);
    const gp = guard.page;
    await staffLogin(gp, server.url, '/gate/', 'guard');
    await gp.waitForSelector('#gate-campus');
    await gp.selectOption('#gate-campus', { label: '主校区' });
    await gp.fill('#gate-code', pass.short_code);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict');
    await gp.waitForSelector('#gate-watch');
    t.regex((await gp.textContent('#gate-watch'))!, /关注名单.*保卫处.*曾在实验室滋事/s);
    await shot(gp, 'watch-04-guard-warning');
    // In English too.
    await gp.click('#vf-lang');
    await gp.waitForSelector('html[lang="en"]');
    await gp.waitForSelector('#gate-campus');
    await gp.selectOption('#gate-campus', { label: '主校区' });
    await gp.fill('#gate-code', pass.short_code);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-watch');
    t.regex((await gp.textContent('#gate-watch'))!, /on the watch list/);

    // Deactivated on the page (the admin's session of two days ago has expired): the next check shows no warning.
    await adminLogin(ap, server.url);
    await ap.goto(`${server.url}/admin/#/watch-list`);
    await ap.waitForSelector('#watch-table');
    await ap.click('#watch-table tr:has-text("周九") button');
    await ap.waitForFunction(() => document.querySelectorAll('#watch-table tbody tr').length === 1);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict[data-valid="true"]');
    await gp.waitForFunction(() => !document.querySelector('#gate-watch'));

    for (const p of [admin, v1, v2, security, host, guard]) noCspViolation(t, p);
  } finally {
    await close();
    await server.close();
  }
});
