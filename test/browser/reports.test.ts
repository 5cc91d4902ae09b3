import fs from 'node:fs';
import test from 'ava';
import { parse } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import readXlsxFile from 'read-excel-file/node';
import { adminLogin, noCspViolation } from '../helpers/admin-browser.ts';
import { ensureWebBuild, launchBrowser, openPage, PC, shot, staffLogin } from '../helpers/browser.ts';
import { RANGE, reportHistory } from '../helpers/reports.ts';
import { startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

/** How many pixels of a canvas are painted, and how many in the given colour (Chart.js draws bars in it). */
async function painted(page: Page, selector: string, rgb: [number, number, number]) {
  return page.$eval(
    selector,
    (canvas, colour) => {
      const c = canvas as HTMLCanvasElement;
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let any = 0;
      let inColour = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) continue;
        any++;
        if (Math.abs(data[i] - colour[0]) < 8 && Math.abs(data[i + 1] - colour[1]) < 8 && Math.abs(data[i + 2] - colour[2]) < 8) inColour++;
      }
      return { any, inColour, width: c.width, height: c.height };
    },
    rgb,
  );
}

/** Scripts the page loaded so far whose text is Chart.js's (a message only its Chart class has). */
async function chartJsLoaded(origin: string, scripts: string[]) {
  const found: string[] = [];
  for (const url of scripts) {
    const text = await (await fetch(url.startsWith('http') ? url : origin + url)).text();
    if (text.includes('Canvas is already in use')) found.push(url);
  }
  return found;
}

test('an admin opens the reports, sees drawn charts and downloads CSV and XLSX; a leader sees only his department; a host gets none', async (t) => {
  t.timeout(300_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    await reportHistory(server);

    const admin = await openPage(browser, server.url, PC);
    const ap = admin.page;
    const scripts: string[] = [];
    ap.on('request', (r) => {
      if (r.resourceType() === 'script') scripts.push(r.url());
    });
    await adminLogin(ap, server.url);
    t.deepEqual(await chartJsLoaded(server.url, scripts), [], 'the other admin screens do not download Chart.js');
    await ap.click('#vf-nav a[href="#/reports"]');
    await ap.waitForSelector('[data-report-ready]');
    t.true((await chartJsLoaded(server.url, scripts)).length === 1, 'the reports screen brings Chart.js, in one chunk');
    // The fixture's days, as a user types them in the filter.
    await ap.fill('#report-from', '2026-12-01');
    await ap.fill('#report-to', '2026-12-05');
    await ap.click('#report-apply');
    await ap.waitForURL(/#\/reports\?from=2026-12-01&to=2026-12-05/);
    await ap.waitForSelector('[data-report-ready]');
    t.is(await ap.textContent('#visits-summary'), '申请 9 件：通过 5，未通过 3，过期 0，撤回 0，审核中 1');
    t.deepEqual(
      await ap.$$eval('#report-visits-department tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((td) => td.textContent))),
      [
        ['计算机学院', '7'],
        ['机械工程学院', '1'],
        ['外国语学院', '1'],
      ],
    );
    t.deepEqual(
      await ap.$$eval('#report-times-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent))),
      [
        ['到访部门接待人意见', '5', '30 分钟', '48 分钟'],
        ['部门主管领导意见', '3', '2 小时 0 分', '2 小时 0 分'],
        ['提交至办结', '5', '1 小时 30 分', '2 小时 30 分'],
      ],
    );
    t.is(await ap.textContent('#no-shows-summary'), '已通过且到访时段已过 2 件，未入校 1 件（50.0%）');
    t.is(await ap.textContent('#peak-summary'), '入校 1 人次，高峰 09:00');
    // The charts are drawn: the approved bars in green, the refusal reasons in red, the 09:00 entry in purple.
    const visits = await painted(ap, '#chart-visits', [25, 135, 84]);
    t.true(visits.width > 300 && visits.height > 100, JSON.stringify(visits));
    t.true(visits.inColour > 200, `approved bars drawn: ${JSON.stringify(visits)}`);
    t.true((await painted(ap, '#chart-refusals', [220, 53, 69])).inColour > 200, 'refusal bars drawn');
    t.true((await painted(ap, '#chart-peak', [111, 66, 193])).inColour > 50, 'the entry hour drawn');
    t.true((await painted(ap, '#chart-times', [13, 110, 253])).inColour > 200, 'median bars drawn');
    await shot(ap, 'reports-01-admin');

    // CSV of the refusals: UTF-8 with BOM, the formula-looking opinion neutralised, the mobile masked.
    const [csvDownload] = await Promise.all([ap.waitForEvent('download'), ap.click('[data-export="csv-refusals"]')]);
    t.is(csvDownload.suggestedFilename(), 'visitflow-refusals-2026-12-01_2026-12-05.csv');
    const csv = fs.readFileSync((await csvDownload.path())!);
    t.deepEqual([...csv.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    const rows: string[][] = parse(csv.subarray(3).toString('utf8'));
    t.deepEqual(rows[0], ['否决原因', '常用意见', '否决数', '占比']);
    t.deepEqual(rows[1], ['不同意，来访事由不充分', '是', '2', '0.6667']);
    t.true(rows[2][0].startsWith("'=HYPERLINK("), rows[2][0]);
    t.false(csv.toString('utf8').includes('13912345678'));
    await ap.waitForSelector('#report-messages .alert-success');

    // XLSX of all reports: a sheet each, the same figures.
    const [xlsxDownload] = await Promise.all([ap.waitForEvent('download'), ap.click('[data-export="xlsx-all"]')]);
    t.is(xlsxDownload.suggestedFilename(), 'visitflow-all-2026-12-01_2026-12-05.xlsx');
    const sheets = await readXlsxFile(fs.readFileSync((await xlsxDownload.path())!));
    t.deepEqual(
      sheets.map((s) => s.sheet),
      ['到访量', '审批用时', '否决原因', '未到访', '入校高峰时段', '筛选条件'],
    );
    t.deepEqual(sheets[0].data.at(-1), ['合计', null, null, null, 9, 5, 3, 0, 0, 1]);
    t.deepEqual(sheets[1].data[1], ['到访部门接待人意见', 5, 30, 48]);

    // English: the same page, English words.
    await ap.click('#vf-lang');
    await ap.waitForSelector('[data-report-ready]');
    t.is(await ap.textContent('#report-visits h2'), 'Visits');
    t.is(await ap.textContent('#visits-summary'), '9 applications: 5 approved, 3 refused, 0 expired, 0 withdrawn, 1 under review');
    await ap.click('#vf-lang');
    noCspViolation(t, admin);
    t.deepEqual(admin.errors.filter((e) => !e.includes('401 (Unauthorized)')), [], 'no error but the login page asking who is signed in');

    // A leader, on the staff page: the Reports link, his department only, no campus or department choice.
    const leader = await openPage(browser, server.url, PC);
    const lp = leader.page;
    await staffLogin(lp, server.url, '/staff/', 'leader-cs');
    await lp.waitForSelector('#vf-nav a[href="#/reports"]');
    await lp.goto(`${server.url}/staff/#/reports?${RANGE}`);
    await lp.waitForSelector('[data-report-ready]');
    t.is(await lp.textContent('#report-title'), '统计报表（计算机学院）');
    t.is(await lp.textContent('#visits-summary'), '申请 7 件：通过 4，未通过 3，过期 0，撤回 0，审核中 0');
    t.false(await lp.isVisible('#report-campus'), 'no campus choice for a leader');
    t.false(await lp.isVisible('#report-department'), 'no department choice for a leader');
    t.false(await lp.isVisible('#report-visits-campus'));
    t.deepEqual(await lp.$$eval('#report-visits-department tbody tr td:first-child', (tds) => tds.map((td) => td.textContent)), ['计算机学院']);
    t.is(await lp.textContent('#peak-summary'), '入校 0 人次，高峰 –', "the entry was another department's visitor");
    t.true((await painted(lp, '#chart-visits', [25, 135, 84])).inColour > 200);
    const [leaderCsv] = await Promise.all([lp.waitForEvent('download'), lp.click('[data-export="csv-visits"]')]);
    const leaderRows: string[][] = parse(fs.readFileSync((await leaderCsv.path())!).subarray(3).toString('utf8'));
    t.deepEqual(
      leaderRows.filter((r) => r[0] === '按部门').map((r) => r[3]),
      ['计算机学院'],
    );
    await shot(lp, 'reports-02-leader');
    // Asking for another department in the address is refused, and said so.
    const me = await server.db.knex('departments').where({ code: 'ME' }).first();
    await lp.goto(`${server.url}/staff/#/reports?${RANGE}&departmentId=${me.id}`);
    await lp.waitForSelector('#report-messages .alert-danger');
    t.is(await lp.textContent('#report-messages .alert-danger'), '只能查看本部门的报表');
    noCspViolation(t, leader);

    // A host has no Reports link, and the screen says he may not.
    const hostPage = await openPage(browser, server.url, PC);
    await staffLogin(hostPage.page, server.url, '/staff/', 'host-cs');
    await hostPage.page.waitForSelector('#task-filters');
    t.false(await hostPage.page.isVisible('#vf-nav a[href="#/reports"]'));
    await hostPage.page.goto(`${server.url}/staff/#/reports`);
    await hostPage.page.waitForSelector('#report-messages .alert-danger');
    t.is(await hostPage.page.textContent('#report-messages .alert-danger'), '您没有执行此操作的权限');
  } finally {
    await close();
    await server.close();
  }
});
