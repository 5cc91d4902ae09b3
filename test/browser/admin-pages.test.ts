import test from 'ava';
import { adminSession, noCspViolation } from '../helpers/admin-browser.ts';
import { PROCESS_WITHOUT_LAYOUT } from '../helpers/admin.ts';
import { shot } from '../helpers/browser.ts';
import { newVisitor, submitApplication } from '../helpers/flow.ts';

// One server and one logged-in administrator for these screens; the tests run one after another.
const session = adminSession(test);

test.serial('a deploy refused for a FEEL syntax error shows the problem at the flow and names it', async (t) => {
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/processes/visit-pass/latest`);
  await p.waitForSelector('#bpmn-canvas [data-element-id="leader-review"]');
  // The condition's FEEL editor is a CodeMirror widget; the modeler's API sets the same property.
  await p.evaluate(() => {
    const m = (window as any).vfModeler;
    const flow = m.get('elementRegistry').get('leader-approved-flow');
    m.get('modeling').updateProperties(flow, { conditionExpression: m.get('moddle').create('bpmn:FormalExpression', { body: '=leaderDecision = ' }) });
  });
  await p.click('#proc-deploy');
  await p.waitForSelector('#proc-messages .alert-danger');
  const message = (await p.textContent('#proc-messages'))!;
  t.regex(message, /部署被拒绝/);
  t.regex(message, /leader-approved-flow/, 'the refusal names the element');
  // At the element: a marker on the flow and a badge in the overlay next to it.
  t.true(await p.locator('#bpmn-canvas .djs-connection.vf-problem-error[data-element-id="leader-approved-flow"]').count() > 0);
  const badge = p.locator('#bpmn-canvas .djs-overlay-container [data-container-id="leader-approved-flow"] .vf-problem-badge');
  await badge.first().waitFor();
  t.regex((await badge.first().textContent())!, /\S/);
  // The list entry selects the element (the properties panel then shows it).
  await p.click('#proc-problems li[data-element-id="leader-approved-flow"] >> nth=0');
  t.deepEqual(await p.evaluate(() => (window as any).vfModeler.get('selection').get().map((e: any) => e.id)), ['leader-approved-flow']);
  await p.waitForSelector('#bpmn-properties .bio-properties-panel-header-label:has-text("同意")');
  await shot(p, 'admin-10-deploy-refused-at-element');
  t.is(await session.server.db.knex('process_deployments').where({ process_id: 'visit-pass' }).count({ n: '*' }).then((r: any) => Number(r[0].n)), 1, 'nothing was deployed');
});

test.serial('importing a .bpmn file without layout: the page shows it laid out and deploys it', async (t) => {
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/processes`);
  await p.waitForSelector('#proc-import');
  const [chooser] = await Promise.all([p.waitForEvent('filechooser'), p.click('#proc-import')]);
  await chooser.setFiles({ name: '导入的流程.bpmn', mimeType: 'application/xml', buffer: Buffer.from(PROCESS_WITHOUT_LAYOUT) });
  await p.waitForSelector('#bpmn-canvas [data-element-id="notify"]');
  t.regex((await p.textContent('#proc-messages'))!, /没有布局信息，已自动排版/);
  // Laid out: the three shapes stand apart from left to right.
  const xs = await p.evaluate(() => ['start', 'notify', 'end'].map((id) => (window as any).vfModeler.get('elementRegistry').get(id).x));
  t.true(xs[0] < xs[1] && xs[1] < xs[2], JSON.stringify(xs));
  await shot(p, 'admin-11-imported-laid-out');
  await p.click('#proc-deploy');
  await p.waitForSelector('#proc-messages .alert-success');
  t.regex((await p.textContent('#proc-messages'))!, /导入的流程 版本 1/);
  await p.goto(`${session.server.url}/admin/#/processes`);
  await p.waitForSelector('tr[data-process="imported"][data-version="1"]');
  t.pass();
});

test.serial('a directory CSV import with one bad row shows the row error and imports nothing', async (t) => {
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/directory?tab=import`);
  await p.waitForSelector('#csv-text');
  await p.selectOption('#csv-kind', 'staff');
  const csv = ['用户名,姓名,手机号,单位代码,角色,初始密码', 'host-csv1,钱老师,13800005555,CS,接待人,Change@2026', 'host-csv2,孙老师,1380000,CS,接待人,Change@2026', 'leader-csv3,周主任,13800006666,CS,主管领导,Change@2026'].join('\n');
  await p.fill('#csv-text', csv);
  await p.click('#csv-import');
  await p.waitForSelector('#csv-errors tr[data-row]');
  const rows = await p.$$eval('#csv-errors tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  t.is(rows.length, 1, JSON.stringify(rows));
  t.is(rows[0][0], '3', 'the header is line 1: the bad row is line 3');
  t.regex(rows[0][1]!, /mobile|手机号/);
  t.regex(rows[0][2]!, /手机号/);
  t.regex((await p.textContent('#csv-report'))!, /全部或全不/);
  await shot(p, 'admin-12-csv-row-error');
  t.is(await session.server.db.knex('staff').whereIn('username', ['host-csv1', 'leader-csv3']).count({ n: '*' }).then((r: any) => Number(r[0].n)), 0, 'all or nothing');

  // Corrected, checked first, then imported.
  await p.fill('#csv-text', csv.replace(',1380000,', ',13800007777,'));
  await p.click('#csv-check');
  await p.waitForSelector('#csv-report .alert-success');
  t.regex((await p.textContent('#csv-report'))!, /3 行可以导入/);
  await p.click('#csv-import');
  await p.waitForSelector('#csv-report .alert-success:has-text("已导入")');
  await p.goto(`${session.server.url}/admin/#/directory?tab=staff&q=host-csv`);
  await p.waitForSelector('tr[data-username="host-csv2"]');
  t.pass();
});

test.serial('the instance page highlights the current step; cancel from there', async (t) => {
  const { client } = await newVisitor(session.server, { name: '实例页' });
  const app = await submitApplication(session.server, client);
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/instances`);
  await p.fill('#inst-filters input[name=flowNumber]', app.flowNumber);
  await p.click('#inst-filters button[type=submit]');
  await p.waitForSelector(`tr[data-flow="${app.flowNumber}"]`);
  t.is(await p.locator('#inst-table tbody tr').count(), 1, 'the filter leaves only this application');
  t.regex((await p.textContent(`tr[data-flow="${app.flowNumber}"]`))!, /到访部门接待人意见/);
  await shot(p, 'admin-13-instance-list');
  await p.click(`tr[data-flow="${app.flowNumber}"] a.btn`);
  await p.waitForSelector('#instance-diagram .djs-shape.vf-current');
  // The host's task, and its 72-hour boundary timer which is armed while the task waits.
  t.deepEqual((await p.$$eval('#instance-diagram .vf-current', (els) => els.map((e) => e.getAttribute('data-element-id')))).sort(), ['host-review', 'host-review-timeout']);
  t.true(await p.locator('#instance-diagram .vf-done[data-element-id="start"]').count() > 0, 'the start event is done');
  // The current step is drawn in the marker colour (the CSS beats bpmn-js's inline styles).
  const stroke = await p.$eval('#instance-diagram .vf-current[data-element-id="host-review"] .djs-visual > :first-child', (el) => getComputedStyle(el).stroke);
  t.is(stroke, 'rgb(13, 110, 253)');
  t.regex((await p.textContent('#inst-variables'))!, /departmentGroup/);
  t.notRegex((await p.textContent('#inst-variables'))!, /\d{17}[\dX]/, 'no ID number in clear');
  await shot(p, 'admin-14-instance-current-step');
  await p.click('#inst-cancel');
  await p.waitForSelector('#inst-messages .alert-success');
  t.is((await client.get(`/api/applications/${app.id}`)).body.application.status, 'withdrawn');
  noCspViolation(t, session.admin);
});

test.serial('settings: an SMS template previewed with sample data, saved, and the gate posters shown', async (t) => {
  const p = session.admin.page;
  await p.goto(`${session.server.url}/admin/#/settings`);
  await p.waitForSelector('#set-sms-approved');
  await p.fill('#set-sms-approved', '【{university}】{name}，您{visitDate}的入校申请已通过，流程号{flowNumber}。');
  await p.click('#set-sms-approved ~ button');
  await p.waitForSelector('#set-sms-approved-preview .border');
  t.regex((await p.textContent('#set-sms-approved-preview'))!, /张三，您2026-12-03的入校申请已通过/);
  await p.fill('#set-retention', '90');
  await p.click('#settings-save');
  await p.waitForSelector('#settings-messages .alert-success');
  t.is((await session.server.services.settings.get('retentionDays')) as unknown, 90);
  const poster = p.locator('#set-posters figure[data-campus="MAIN"] img');
  await poster.scrollIntoViewIfNeeded();
  await p.waitForFunction(() => (document.querySelector('#set-posters figure[data-campus="MAIN"] img') as HTMLImageElement | null)?.naturalWidth === 1024);
  await shot(p, 'admin-15-settings');
  t.pass();
});
