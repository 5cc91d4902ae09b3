import { inflateRawSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import test from 'ava';
import readXlsxFile from 'read-excel-file/node';
import { ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { staffClient } from '../helpers/flow.ts';
import { FORMULA_OPINION, RANGE, reportHistory } from '../helpers/reports.ts';
import { startTestServer } from '../helpers/server.ts';

/** The text of every part of a zip (an XLSX), read through its central directory. */
function zipTexts(zip: Buffer): string[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const entryLen = 46 + zip.readUInt16LE(at + 28) + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    texts.push((method === 8 ? inflateRawSync(data) : data).toString('utf8'));
    at += entryLen;
  }
  return texts;
}

for (const kind of await testBackends()) {
  test(`${kind}: the reports give the known figures to an admin, a leader's own department to a leader, and 403 to hosts and guards`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { cs, me, fl } = await reportHistory(server);
      const admin = (await staffClient(server, 'admin')).client;

      const visits = (await ok(admin.get(`/api/reports/visits?${RANGE}`))) as any;
      t.deepEqual(visits.filter, { from: '2026-12-01', to: '2026-12-05', campusId: null, departmentId: null, scope: 'all' });
      t.deepEqual(visits.total, { total: 9, approved: 5, refused: 3, expired: 0, withdrawn: 0, pending: 1 });
      t.deepEqual(
        visits.byDay.map((d: any) => [d.day, d.total, d.approved, d.refused, d.pending]),
        [
          ['2026-12-01', 0, 0, 0, 0],
          ['2026-12-02', 3, 3, 0, 0], // purged by retention, still counted
          ['2026-12-03', 4, 2, 1, 1],
          ['2026-12-04', 2, 0, 2, 0],
          ['2026-12-05', 0, 0, 0, 0],
        ],
      );
      t.deepEqual(
        visits.byCampus.map((c: any) => [c.campus, c.total]),
        [
          ['主校区', 8],
          ['东校区', 1],
        ],
      );
      t.deepEqual(
        visits.byDepartment.map((d: any) => [d.department, d.campus, d.total]),
        [
          ['计算机学院', '主校区', 7],
          ['机械工程学院', '主校区', 1],
          ['外国语学院', '东校区', 1],
        ],
      );

      const times = (await ok(admin.get(`/api/reports/approval-times?${RANGE}`))) as any;
      // host: 10, 10, 30, 30, 60 min; leader: 30, 120, 120 min; submission to end: 10, 10, 90, 150, 150 min.
      // p50/p90 interpolate (percentile_cont): p90 of the host's five is 30 + 0.6 x 30 = 48 min.
      t.deepEqual(
        times.steps.map((s: any) => [s.step, s.name, s.count, s.p50Seconds, s.p90Seconds]),
        [
          ['host-review', '到访部门接待人意见', 5, 30 * 60, 48 * 60],
          ['leader-review', '部门主管领导意见', 3, 120 * 60, 120 * 60],
        ],
      );
      t.deepEqual(times.submitToEnd, { count: 5, p50Seconds: 90 * 60, p90Seconds: 150 * 60 });

      const refusals = (await ok(admin.get(`/api/reports/refusals?${RANGE}`))) as any;
      t.is(refusals.total, 3);
      t.deepEqual(
        refusals.bySteps.map((s: any) => [s.step, s.count]),
        [
          ['host-review', 2],
          ['leader-review', 1],
        ],
      );
      // The two spellings of the stock opinion are one reason; the free text keeps its words, its mobile masked.
      t.deepEqual(
        refusals.reasons.map((r: any) => [r.reason, r.count, r.stock, r.other]),
        [
          ['不同意，来访事由不充分', 2, true, false],
          ['=HYPERLINK("http://evil.example","请联系139****5678")', 1, false, false],
        ],
      );

      const noShows = (await ok(admin.get(`/api/reports/no-shows?${RANGE}`))) as any;
      t.deepEqual(noShows.total, { approved: 2, noShows: 1, rate: 0.5 });
      t.deepEqual(
        noShows.byDepartment.map((d: any) => [d.department, d.approved, d.noShows]),
        [
          ['计算机学院', 1, 1],
          ['机械工程学院', 1, 0],
        ],
      );
      t.like(noShows.byDay.find((d: any) => d.day === '2026-12-03'), { approved: 2, noShows: 1 });

      const peak = (await ok(admin.get(`/api/reports/peak-hours?${RANGE}`))) as any;
      t.is(peak.total, 1);
      t.is(peak.peakHour, 9, '09:15 in Shanghai is 01:15 UTC: the hour is the campus hour');
      t.is(peak.hours.length, 24);
      t.is(peak.hours[9].entries, 1);

      // Filters: one campus, one department.
      const east = (await ok(admin.get(`/api/reports/visits?${RANGE}&campusId=${fl.campus_id}`))) as any;
      t.is(east.total.total, 1);
      const meOnly = (await ok(admin.get(`/api/reports/peak-hours?${RANGE}&departmentId=${me.id}`))) as any;
      t.is(meOnly.total, 1);
      const csPeak = (await ok(admin.get(`/api/reports/peak-hours?${RANGE}&departmentId=${cs.id}`))) as any;
      t.is(csPeak.total, 0);

      // A leader sees his department only, whatever he asks for; another department is refused.
      const leader = (await staffClient(server, 'leader-cs')).client;
      const lv = (await ok(leader.get(`/api/reports/visits?${RANGE}`))) as any;
      t.is(lv.filter.scope, 'department');
      t.is(lv.filter.departmentId, cs.id);
      t.is(lv.total.total, 7);
      t.deepEqual(
        lv.byDepartment.map((d: any) => d.department),
        ['计算机学院'],
      );
      const lt = (await ok(leader.get(`/api/reports/approval-times?${RANGE}`))) as any;
      t.deepEqual(
        lt.steps.map((s: any) => [s.step, s.count]),
        [
          ['host-review', 4],
          ['leader-review', 2],
        ],
      );
      t.deepEqual((await ok(leader.get(`/api/reports/no-shows?${RANGE}`)) as any).total, { approved: 1, noShows: 1, rate: 1 });
      t.is(((await ok(leader.get(`/api/reports/peak-hours?${RANGE}`))) as any).total, 0, 'the entry was a visitor of another department');
      const other = await leader.get(`/api/reports/visits?${RANGE}&departmentId=${me.id}`);
      t.is(other.status, 403);
      t.is(other.body.error.code, 'REPORT_DEPARTMENT_FORBIDDEN');
      const otherExport = await leader.get(`/api/reports/export?format=csv&report=visits&${RANGE}&departmentId=${me.id}`);
      t.is(otherExport.status, 403);
      // his own department named explicitly is fine
      t.is((await leader.get(`/api/reports/visits?${RANGE}&departmentId=${cs.id}`)).status, 200);

      // Once the days are closed and summed into report_daily, every figure reads the same from the sums.
      const all = async (client: typeof admin) =>
        Promise.all(['visits', 'approval-times', 'refusals', 'no-shows', 'peak-hours'].map(async (r) => (await ok(client.get(`/api/reports/${r}?${RANGE}`))) as any));
      const liveAdmin = await all(admin);
      const liveLeader = await all(leader);
      server.clock.set('2026-12-08T04:00:00Z');
      const summed = await server.services.reportRollup.refresh();
      t.is(summed?.through, '2026-12-06', 'days close two days after they end');
      t.true(Number((await server.db.knex('report_daily').count({ n: '*' }))[0].n) > 10);
      const knex = server.db.knex;
      const rowsBefore = await knex('report_daily').orderBy(['day', 'metric', 'campus_id', 'department_id', 'key']).select('*');
      // (the sessions of five days ago have expired)
      t.deepEqual(await all((await staffClient(server, 'admin')).client), liveAdmin, 'admin: the same figures from the daily sums');
      t.deepEqual(await all((await staffClient(server, 'leader-cs')).client), liveLeader, 'leader: the same figures from the daily sums');
      t.false(JSON.stringify(rowsBefore).includes('13912345678'), 'the sums hold no clear mobile');
      // A second run rechecks the last days and changes nothing.
      await server.services.reportRollup.refresh();
      t.deepEqual(await knex('report_daily').orderBy(['day', 'metric', 'campus_id', 'department_id', 'key']).select('*'), rowsBefore);

      // Even with the rows gone from the tables (as after the retention purge), the sums hold the figures.
      await knex('pass_events').delete();
      await knex('tasks').delete();
      t.deepEqual((await all((await staffClient(server, 'admin')).client)).slice(1), liveAdmin.slice(1), 'review times, refusals, no-shows, entries kept');

      for (const username of ['host-cs', 'guard']) {
        const res = await (await staffClient(server, username)).client.get(`/api/reports/visits?${RANGE}`);
        t.is(res.status, 403, username);
        t.is(res.body.error.code, 'ROLE_REQUIRED', username);
      }
    } finally {
      await server.close();
    }
  });

  test(`${kind}: report queries are validated with clear error codes; the default range is the last 30 days`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = (await staffClient(server, 'admin')).client;
      const fl = await server.db.knex('departments').where({ code: 'FL' }).first();
      const main = await server.db.knex('campuses').where({ code: 'MAIN' }).first();
      const cases: Array<[string, number, string, string?]> = [
        ['from=2026-13-01', 400, 'VALIDATION_FAILED', 'from'],
        ['from=2026-02-30', 400, 'VALIDATION_FAILED', 'from'],
        ['to=yesterday', 400, 'VALIDATION_FAILED', 'to'],
        ['from=2026-12-05&to=2026-12-01', 400, 'REPORT_RANGE_INVALID', 'from'],
        ['from=2025-01-01&to=2026-01-02', 400, 'REPORT_RANGE_TOO_LONG', 'to'],
        ['campusId=abc', 400, 'VALIDATION_FAILED', 'campusId'],
        ['departmentId=-1', 400, 'VALIDATION_FAILED', 'departmentId'],
        ['departmentId=99999999999', 400, 'VALIDATION_FAILED', 'departmentId'],
        ['campusId=999999', 400, 'REPORT_FILTER_INVALID', 'campusId'],
        [`campusId=${main.id}&departmentId=${fl.id}`, 400, 'REPORT_FILTER_INVALID', 'departmentId'],
        ['from=2026-01-01&from=2026-02-01', 400, 'VALIDATION_FAILED', 'from'],
      ];
      for (const [query, status, code, field] of cases) {
        const res = await admin.get(`/api/reports/visits?${query}`);
        t.is(res.status, status, `${query}: ${JSON.stringify(res.body)}`);
        t.is(res.body.error.code, code, query);
        if (field) t.is(res.body.error.details?.[0]?.field, field, query);
      }
      // a full year (366 days) is the longest range
      t.is((await admin.get('/api/reports/visits?from=2025-01-01&to=2026-01-01')).status, 200);
      for (const [query, code] of [
        ['format=pdf&report=visits', 'VALIDATION_FAILED'],
        ['format=csv&report=all', 'VALIDATION_FAILED'],
        ['format=csv', 'VALIDATION_FAILED'],
        ['format=csv&report=visits&from=2026-12-05&to=2026-12-01', 'REPORT_RANGE_INVALID'],
      ]) {
        const res = await admin.get(`/api/reports/export?${query}`);
        t.is(res.status, 400, query);
        t.is(res.body.error.code, code, query);
      }
      // The clock says 2026-12-01 10:00 in Shanghai: the default range is the 30 campus days up to today.
      const byDefault = (await ok(admin.get('/api/reports/visits'))) as any;
      t.is(byDefault.filter.from, '2026-11-02');
      t.is(byDefault.filter.to, '2026-12-01');
      t.is(byDefault.byDay.length, 30);
      const onlyFrom = (await ok(admin.get('/api/reports/visits?from=2026-11-10'))) as any;
      t.deepEqual([onlyFrom.filter.from, onlyFrom.filter.to], ['2026-11-10', '2026-12-09']);
      t.is((await admin.get('/api/reports/visits?campusId=&departmentId=')).status, 200, 'empty filters are no filters (the page sends them)');
      t.is((await new (admin.constructor as any)(server.url).get('/api/reports/visits')).status, 401);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: CSV (UTF-8 with BOM, formulas neutralised) and XLSX exports parse back to the API's figures, hold no clear mobile, and are audited`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { cs } = await reportHistory(server);
      const admin = (await staffClient(server, 'admin')).client;
      const raw = async (path: string) => {
        // ApiClient reads bodies as text; the XLSX needs the bytes.
        const res = await fetch(server.url + path, { headers: { cookie: `vf_staff=${admin.cookie('vf_staff')}` } });
        return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
      };

      const csv = await raw(`/api/reports/export?format=csv&report=refusals&${RANGE}`);
      t.is(csv.status, 200);
      t.is(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
      t.regex(csv.headers.get('content-disposition') ?? '', /^attachment; filename="visitflow-refusals-2026-12-01_2026-12-05\.csv"$/);
      t.deepEqual([...csv.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 byte order mark');
      const rows: string[][] = parse(csv.bytes.subarray(3).toString('utf8'));
      t.deepEqual(rows[0], ['否决原因', '常用意见', '否决数', '占比']);
      t.deepEqual(rows.slice(1), [
        ['不同意，来访事由不充分', '是', '2', '0.6667'],
        [`'${FORMULA_OPINION.replace('13912345678', '139****5678')}`, '否', '1', '0.3333'],
        ['合计', '', '3', '1'],
      ]);
      t.false(csv.bytes.toString('utf8').includes('13912345678'), 'no clear mobile in the CSV');

      const visitsCsv = await raw(`/api/reports/export?format=csv&report=visits&${RANGE}&lang=en`);
      const visitRows: string[][] = parse(visitsCsv.bytes.subarray(3).toString('utf8'));
      t.deepEqual(visitRows[0], ['By', 'Date', 'Campus', 'Department', 'Applications', 'Approved', 'Refused', 'Expired', 'Withdrawn', 'Under review']);
      t.deepEqual(visitRows.at(-1), ['Total', '', '', '', '9', '5', '3', '0', '0', '1']);
      t.deepEqual(
        visitRows.find((r) => r[0] === 'Department' && r[3] === '计算机学院'),
        ['Department', '', '主校区', '计算机学院', '7', '4', '3', '0', '0', '0'],
      );

      const xlsx = await raw(`/api/reports/export?format=xlsx&report=all&${RANGE}`);
      t.is(xlsx.status, 200);
      t.is(xlsx.headers.get('content-type'), 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
      t.regex(xlsx.headers.get('content-disposition') ?? '', /visitflow-all-2026-12-01_2026-12-05\.xlsx/);
      const sheets = await readXlsxFile(xlsx.bytes);
      t.deepEqual(
        sheets.map((s) => s.sheet),
        ['到访量', '审批用时', '否决原因', '未到访', '入校高峰时段', '筛选条件'],
      );
      const sheet = (name: string) => sheets.find((s) => s.sheet === name)!.data;
      t.deepEqual(sheet('审批用时'), [
        ['环节', '完成数', '中位用时（分钟）', 'P90 用时（分钟）'],
        ['到访部门接待人意见', 5, 30, 48],
        ['部门主管领导意见', 3, 120, 120],
        ['提交至办结', 5, 90, 150],
      ]);
      // Text cells stay text: the formula is not an Excel formula and needs no apostrophe there.
      t.deepEqual(sheet('否决原因')[2], [FORMULA_OPINION.replace('13912345678', '139****5678'), '否', 1, 0.3333]);
      t.deepEqual(sheet('未到访').at(-1), ['合计', null, null, null, 2, 1, 0.5]);
      t.deepEqual(sheet('入校高峰时段')[10], ['09:00–09:59', 1]);
      t.deepEqual(sheet('到访量').at(-1), ['合计', null, null, null, 9, 5, 3, 0, 0, 1]);
      t.deepEqual(sheet('筛选条件'), [
        ['开始日期', '2026-12-01'],
        ['结束日期', '2026-12-05'],
        ['校区', '全部'],
        ['部门', '全部'],
      ]);
      t.false(xlsx.bytes.includes(Buffer.from('13912345678')), 'no clear mobile in the XLSX (stored uncompressed or not)');
      const inflated = zipTexts(xlsx.bytes).join('\n');
      t.true(inflated.includes('139****5678'), 'the parts were read');
      t.false(inflated.includes('13912345678'), 'no clear mobile inside the XLSX parts');

      // A leader's export is his department only.
      const leader = (await staffClient(server, 'leader-cs')).client;
      const leaderCsv = await fetch(`${server.url}/api/reports/export?format=csv&report=visits&${RANGE}`, {
        headers: { cookie: `vf_staff=${leader.cookie('vf_staff')}` },
      });
      const leaderRows: string[][] = parse((await leaderCsv.text()).replace(/^\uFEFF/, ''));
      t.deepEqual(
        leaderRows.filter((r) => r[0] === '按部门').map((r) => r[3]),
        ['计算机学院'],
      );
      t.is(leaderRows.at(-1)![4], '7');

      const audit = await server.db.knex('audit_log').where({ action: 'report.export' }).orderBy('id');
      t.deepEqual(
        audit.map((a: any) => [a.actor_name, a.target_id, a.after.format, a.after.scope, a.after.departmentId]),
        [
          ['系统管理员', 'refusals', 'csv', 'all', null],
          ['系统管理员', 'visits', 'csv', 'all', null],
          ['系统管理员', 'all', 'xlsx', 'all', null],
          ['王主任', 'visits', 'csv', 'department', cs.id],
        ],
      );
    } finally {
      await server.close();
    }
  });
}
