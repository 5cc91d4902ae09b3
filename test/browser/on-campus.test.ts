import test from 'ava';
import { acceptDialogs, adminLogin, noCspViolation } from '../helpers/admin-browser.ts';
import { ensureWebBuild, launchBrowser, openPage, PC, PHONE, shot, staffLogin } from '../helpers/browser.ts';
import { approvedWithPass, newVisitor } from '../helpers/flow.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

test('a guard records an entry at a gate; the on-campus lists show the visitor with that gate, then as an overstay once the window ended; the guard records the exit from the list', async (t) => {
  t.timeout(240_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    const knex = server.db.knex;
    // 14:30 in Shanghai on the visit day; the visit window is 14:00-16:00.
    server.clock.set('2026-12-01T06:30:00Z');
    const { visitor } = await newVisitor(server, { name: '周九', organisation: '某设计院' });
    const campus = await knex('campuses').where({ code: 'MAIN' }).first();
    const { pass } = await approvedWithPass(server, visitor.id, { plate: '京B54321', window: { start: '2026-12-01T06:00:00Z', end: '2026-12-01T08:00:00Z' } });

    // The security office names the main campus's gates on the directory page.
    const admin = await openPage(browser, server.url, PC);
    const ap = admin.page;
    acceptDialogs(ap);
    await adminLogin(ap, server.url);
    await ap.goto(`${server.url}/admin/#/directory?tab=gates`);
    for (const name of ['正门', '西门']) {
      await ap.click('#dir-new');
      await ap.selectOption('#d-campusId', { label: '主校区' });
      await ap.fill('#d-name', name);
      await ap.click('#dir-form button[type=submit]');
      await ap.waitForSelector(`#dir-table tr:has-text("${name}")`);
    }
    await shot(ap, 'oncampus-01-admin-gates');
    const front = await knex('gates').where({ name: '正门' }).first();

    // The guard stands at the main campus's 正门: an entry needs the gate chosen first.
    const guard = await openPage(browser, server.url, PHONE);
    const gp = guard.page;
    acceptDialogs(gp);
    await staffLogin(gp, server.url, '/gate/', 'guard');
    await gp.waitForSelector('#gate-campus');
    t.true(await gp.isHidden('#gate-gate'), 'no gate to choose before the campus');
    await gp.selectOption('#gate-campus', { label: '主校区' });
    await gp.waitForSelector('#gate-gate');
    await gp.fill('#gate-code', pass.short_code);
    await gp.click('#gate-verify');
    await gp.waitForSelector('#gate-verdict[data-valid="true"]');
    await gp.click('button[data-event="entry"]');
    await gp.waitForSelector('#gate-pick-gate');
    t.regex((await gp.getAttribute('#gate-gate', 'class'))!, /is-invalid/, 'the gate select is marked');
    t.is(await knex('pass_events').count({ n: '*' }).then(([r]) => Number(r.n)), 0, 'nothing recorded without a gate');
    await gp.selectOption('#gate-gate', { label: '正门' });
    await gp.click('button[data-event="entry"]');
    await gp.waitForSelector('#gate-events .alert-success');
    t.notRegex((await gp.getAttribute('#gate-gate', 'class'))!, /is-invalid/);
    const entry = await knex('pass_events').where({ pass_id: pass.id }).first();
    t.like(entry, { kind: 'entry', gate_id: front.id, campus_id: campus.id });
    await shot(gp, 'oncampus-02-guard-entry-at-gate');

    // The guard's list: the counts of the campus, and the visitor with the gate of entry.
    await gp.click('a[href="#/on-campus"]');
    await gp.waitForSelector('#oc-counts #oc-total');
    t.is((await gp.textContent('#oc-total'))!.trim(), '1');
    t.is((await gp.textContent('#oc-overstays'))!.trim(), '0');
    t.regex((await gp.textContent('#oc-gates li[data-gate="' + front.id + '"]'))!, /正门\s*1/);
    t.truthy(await gp.$('#oc-empty'), 'no overstay yet: the overstay list is empty');
    await gp.check('#oc-all');
    await gp.waitForSelector(`#oc-list [data-pass="${pass.id}"]`);
    const card = (await gp.textContent(`#oc-list [data-pass="${pass.id}"]`))!;
    t.regex(card, /周\* · 某设计院/);
    t.regex(card, /正门/);
    t.regex(card, /京B54321/);
    t.false(card.includes('周九'), 'the name is masked');
    await shot(gp, 'oncampus-03-guard-list');

    // The admin page shows the visitor within the window.
    await ap.click('a[href="#/on-campus"]');
    await ap.waitForSelector(`#oc-table tr[data-pass="${pass.id}"]`);
    t.is(await ap.getAttribute(`#oc-table tr[data-pass="${pass.id}"]`, 'data-overstay'), 'false');
    t.regex((await ap.textContent(`#oc-table tr[data-pass="${pass.id}"] .vf-oc-gate`))!, /正门/);
    t.regex((await ap.textContent(`#oc-campus-table tr[data-campus="${campus.id}"]`))!, /正门 1/);

    // 16:45: the window ended at 16:00 and no exit is recorded.
    server.clock.set('2026-12-01T08:45:00Z');
    await ap.click('#oc-refresh');
    await ap.waitForSelector(`#oc-table tr[data-pass="${pass.id}"][data-overstay="true"]`);
    const row = ap.locator(`#oc-table tr[data-pass="${pass.id}"]`);
    t.regex((await row.getAttribute('class'))!, /table-danger/);
    t.regex((await row.textContent())!, /超时 45分钟/);
    t.is((await ap.textContent('#oc-overstays'))!.trim(), '1');
    await ap.click('#oc-overstay');
    await ap.waitForURL(/overstay=1/);
    await ap.waitForSelector(`#oc-table tr[data-pass="${pass.id}"][data-overstay="true"]`);
    await ap.selectOption('#oc-campus', { label: '主校区' });
    await ap.waitForURL(/campusId=/);
    await ap.waitForSelector(`#oc-table tr[data-pass="${pass.id}"]`);
    t.is(await ap.locator('#oc-campus-table tbody tr').count(), 1, 'the counts of the chosen campus');
    await ap.selectOption('#oc-gate', { label: '西门' });
    await ap.waitForSelector('#oc-empty');
    await ap.selectOption('#oc-gate', { label: '正门' });
    await ap.waitForSelector(`#oc-table tr[data-pass="${pass.id}"]`);
    await shot(ap, 'oncampus-04-admin-overstay');
    await ap.click('#vf-lang');
    await ap.waitForSelector('html[lang="en"]');
    await ap.waitForSelector(`#oc-table tr[data-pass="${pass.id}"]`);
    t.regex((await ap.textContent(`#oc-table tr[data-pass="${pass.id}"]`))!, /45 min overdue/);
    await ap.click('#vf-lang');
    await ap.waitForSelector('html[lang="zh-CN"]');

    // The guard's view flags it too, and records the exit from the list (at the guard's gate).
    await gp.uncheck('#oc-all');
    await gp.waitForSelector(`#oc-list [data-pass="${pass.id}"][data-overstay="true"]`);
    t.is((await gp.textContent('#oc-overstays'))!.trim(), '1');
    t.regex((await gp.textContent(`#oc-list [data-pass="${pass.id}"]`))!, /超时 45分钟/);
    await shot(gp, 'oncampus-05-guard-overstay');
    await gp.click(`#oc-list [data-exit="${pass.id}"]`);
    await gp.waitForSelector('#oc-messages .alert-success');
    await gp.waitForSelector('#oc-empty');
    t.is((await gp.textContent('#oc-total'))!.trim(), '0');
    const exit = await knex('pass_events').where({ pass_id: pass.id, kind: 'exit' }).first();
    t.like(exit, { gate_id: front.id, campus_id: campus.id });
    t.is((await knex('audit_log').where({ action: 'pass.exit.from_list' })).length, 1);

    await ap.click('#oc-refresh');
    await ap.waitForSelector('#oc-empty');
    t.is((await ap.textContent('#oc-total'))!.trim(), '0');

    // A guard of an east-campus department sees the east campus only: having chosen the main campus at the gate,
    // the list asks again for theirs (locked) instead of failing or sending them to the login.
    const adminApi = new ApiClient(server.url);
    await adminApi.post('/api/staff/login', { username: 'admin', password: 'Demo@2026' });
    const fl = await knex('departments').where({ code: 'FL' }).first();
    const made = await adminApi.post('/api/admin/staff', { username: 'guard-east', name: '东区门卫', mobile: '13900000077', departmentId: fl.id, roles: ['guard'], password: 'Demo@2026' });
    t.is(made.status, 201, JSON.stringify(made.body));
    const eastGuard = await openPage(browser, server.url, PHONE);
    const ep = eastGuard.page;
    await staffLogin(ep, server.url, '/gate/', 'guard-east');
    await ep.waitForSelector('#gate-campus');
    await ep.selectOption('#gate-campus', { label: '主校区' });
    await ep.click('a[href="#/on-campus"]');
    await ep.waitForSelector('#oc-campus[disabled]');
    t.is(await ep.$eval('#oc-campus', (el) => (el as HTMLSelectElement).selectedOptions[0].textContent), '东校区');
    t.is((await ep.textContent('#oc-total'))!.trim(), '0', "the east campus's count");
    t.false(await ep.isVisible('#f-username'), 'not sent to the login');

    for (const p of [admin, guard, eastGuard]) noCspViolation(t, p);
    // (the 401 of "who is logged in" before the login is the browser's own console line, not a page error)
    t.deepEqual(guard.errors.filter((e) => !/status of 401/.test(e)), [], 'no script error on the gate page');
  } finally {
    await close();
    await server.close();
  }
});
