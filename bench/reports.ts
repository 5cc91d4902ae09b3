import knexFactory, { type Knex } from 'knex';
import { systemClock } from '../engine-adapter/clock.ts';
import { SettingsService } from '../server/admin/settings.service.ts';
import { FieldCrypto } from '../server/crypto/field-crypto.ts';
import { migrateLatest } from '../server/db/database.ts';
import { seedDemoData } from '../server/directory/demo-data.ts';
import { DirectoryService } from '../server/directory/directory.service.ts';
import type { StaffPrincipal } from '../server/http/context.ts';
import { RECHECK_DAYS, ReportRollup } from '../server/reports/report.rollup.ts';
import { REPORTS, type ReportName, ReportService } from '../server/reports/report.service.ts';
import { generateSecrets } from '../server/secrets.ts';
import { campusDate } from '../server/shared/campus-time.ts';
import { createBenchDatabase, POSTGRES_URL } from './lib.ts';

/**
 * The Reports page's queries over a campus's history: BENCH_REPORTS_ROWS past applications (default 1,000,000)
 * spread over BENCH_REPORTS_DAYS days up to yesterday (default 365, so the full-year range holds them all),
 * with the review tasks, passes and gate entries and exits the flow would have left, written by a few
 * INSERT … SELECT over generate_series in a fresh PostgreSQL database (no row goes through the client). Each
 * report is then timed BENCH_REPORTS_RUNS times (default 10) for the last 30 days and for the whole year, as an
 * administrator and as a leader (one department); p50 and p95 of the runs are printed.
 * BENCH_REPORTS_EXPLAIN=1 also prints each query plan's top lines.
 */
const ROWS = Number(process.env.BENCH_REPORTS_ROWS ?? 1_000_000);
const DAYS = Number(process.env.BENCH_REPORTS_DAYS ?? 365);
const RUNS = Number(process.env.BENCH_REPORTS_RUNS ?? 10);
const TZ = 'Asia/Shanghai';

const REFUSAL_OPINIONS = [
  '不同意，来访事由不充分',
  '不同意，来访事由不充分。',
  '不同意，请改期申请',
  '不同意，请改期申请，下周再来',
  '接待人当天不在校',
  '  接待人当天不在校！ ',
  '请联系 13912345678 后重新申请',
  '重复申请',
];

/** Writes the synthetic history; returns the seconds each part took. */
export async function loadHistory(knex: Knex, rows: number, days: number, lastDay: string): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  const step = async (label: string, sql: string, bindings: readonly unknown[] = []) => {
    const t0 = performance.now();
    await knex.raw(sql, bindings as any);
    took[label] = (took[label] ?? 0) + (performance.now() - t0) / 1000;
  };
  const depts = await knex('departments').orderBy('id').select('id', 'campus_id', 'code');
  const staff = await knex('staff').select('id', 'username');
  const byName = new Map(staff.map((s: any) => [s.username, s.id]));
  const deptIds = depts.map((d: any) => d.id);
  const campusIds = depts.map((d: any) => d.campus_id);
  const hostIds = depts.map((d: any) => byName.get(`host-${d.code.toLowerCase()}`));
  const leaderIds = depts.map((d: any) => byName.get(`leader-${d.code.toLowerCase()}`));
  const guardId = byName.get('guard');

  // u(g, k): a well-mixed uniform [0, 1) per row and purpose, the same on every run.
  await step('plan', `create or replace function bench_u(g bigint, k bigint) returns float8 language sql immutable parallel safe
    as $$ select (hashint8extended(g, k) & 2147483647)::float8 / 2147483648 $$`);
  await step('visitors', `insert into visitors (name, organisation, id_number_enc, id_number_bidx, id_number_masked, mobile_enc, mobile_bidx,
      mobile_masked, gender, birth_date, password_hash, created_at, updated_at)
    select '访客' || g, '个人', 'bench', 'bench-id-' || g, '110***********0000', 'bench', 'bench-m-' || g, '139****0000', 'M', date '1990-01-01',
      'bench', now(), now() from generate_series(1, 1000) g`);
  const [{ min: firstVisitor }] = await knex('visitors').min({ min: 'id' });
  // One row per application with everything the flow decided for it. The department mix is skewed (the first
  // departments get most visits), visits start 08:00–17:30 and last two hours, outcomes: 10% refused by the
  // host, 4% expired (nobody reviewed in 72 h), 4% refused by the leader, 2% withdrawn, 80% approved; review
  // times have long tails (cubes of uniforms); 15% of approved visitors never come.
  await step('plan', `create unlogged table bench_plan as
    select g, d, visit_date, window_start, window_start + interval '2 hours' as window_end,
      window_start - (interval '1 hour' + bench_u(g, 5) * interval '72 hours') as created_at,
      case when r < 10 then 'host_refused' when r < 14 then 'expired' when r < 18 then 'leader_refused' when r < 20 then 'withdrawn' else 'approved' end as outcome,
      (2 + 1500 * bench_u(g, 6) ^ 3) * interval '1 minute' as host_took,
      (1 + 3000 * bench_u(g, 7) ^ 3) * interval '1 minute' as leader_took,
      bench_u(g, 8) < 0.15 as no_show,
      (bench_u(g, 9) * 80 - 20) * interval '1 minute' as entry_offset,
      floor(bench_u(g, 10) * ${REFUSAL_OPINIONS.length})::int as opinion
    from (
      select g, floor(12 * bench_u(g, 1) ^ 2)::int as d, (?::date - (g % ?)::int) as visit_date, floor(bench_u(g, 3) * 100)::int as r,
        ((?::date - (g % ?)::int) + make_time(8 + floor(bench_u(g, 2) * 10)::int, 30 * floor(bench_u(g, 4) * 2)::int, 0)) at time zone '${TZ}' as window_start
      from generate_series(1, ?) g
    ) s`, [lastDay, days, lastDay, days, rows]);
  await step('applications', `insert into applications (id, flow_number, visitor_id, campus_id, department_id, host_staff_id, leader_staff_id,
      visit_date, visit_start, visit_end, window_start, window_end, plate_number, data, status, process_id, process_version, instance_key,
      form_key, form_version, last_opinion, decided_at, entered_at, created_at, updated_at)
    select g, 'B' || g, ? + g % 1000, (?::int[])[d + 1], (?::int[])[d + 1], (?::int[])[d + 1],
      case when outcome in ('approved', 'leader_refused') then (?::int[])[d + 1] end,
      visit_date, to_char(window_start at time zone '${TZ}', 'HH24:MI'), to_char(window_end at time zone '${TZ}', 'HH24:MI'),
      window_start, window_end, null, '{}', case outcome when 'host_refused' then 'refused' when 'leader_refused' then 'refused' else outcome end,
      'visit-pass', 1, 'bench-' || g, 'visit-application', 1,
      case when outcome in ('host_refused', 'leader_refused') then (?::text[])[opinion + 1] end,
      case outcome when 'host_refused' then created_at + host_took when 'expired' then created_at + interval '72 hours'
        when 'withdrawn' then null else created_at + host_took + leader_took end,
      case when outcome = 'approved' and not no_show and window_start + entry_offset < now() then window_start + entry_offset end,
      created_at, created_at
    from bench_plan`, [firstVisitor, campusIds, deptIds, hostIds, leaderIds, REFUSAL_OPINIONS]);
  const approve = JSON.stringify({ decision: 'approve', opinion: '同意' });
  // Host review: every application has one; expired and withdrawn ones were never completed.
  await step('tasks', `insert into tasks (task_key, instance_key, application_id, element_id, name, form_key, assignee, status, claimed_by,
      result, completed_by, completed_at, campus_id, department_id, created_at)
    select 'bench-h-' || g, 'bench-' || g, g, 'host-review', '到访部门接待人意见', 'host-review', (?::int[])[d + 1]::text,
      case when outcome in ('expired', 'withdrawn') then 'canceled' else 'completed' end, (?::int[])[d + 1],
      case when outcome = 'host_refused' then jsonb_build_object('decision', 'refuse', 'opinion', (?::text[])[opinion + 1])
        when outcome in ('expired', 'withdrawn') then null else ?::jsonb end,
      case when outcome in ('expired', 'withdrawn') then null else (?::int[])[d + 1] end,
      case when outcome in ('expired', 'withdrawn') then null else created_at + host_took end,
      (?::int[])[d + 1], (?::int[])[d + 1], created_at
    from bench_plan`, [hostIds, hostIds, REFUSAL_OPINIONS, approve, hostIds, campusIds, deptIds]);
  await step('tasks', `insert into tasks (task_key, instance_key, application_id, element_id, name, form_key, assignee, status, claimed_by,
      result, completed_by, completed_at, campus_id, department_id, created_at)
    select 'bench-l-' || g, 'bench-' || g, g, 'leader-review', '部门主管领导意见', 'leader-review', (?::int[])[d + 1]::text, 'completed',
      (?::int[])[d + 1],
      case when outcome = 'leader_refused' then jsonb_build_object('decision', 'refuse', 'opinion', (?::text[])[opinion + 1]) else ?::jsonb end,
      (?::int[])[d + 1], created_at + host_took + leader_took, (?::int[])[d + 1], (?::int[])[d + 1], created_at + host_took
    from bench_plan where outcome in ('approved', 'leader_refused')`, [leaderIds, leaderIds, REFUSAL_OPINIONS, approve, leaderIds, campusIds, deptIds]);
  await step('passes', `insert into passes (id, application_id, short_code, campus_id, valid_from, valid_until, status, created_at)
    select g, g, 'B' || g, (?::int[])[d + 1], window_start - interval '30 minutes', window_end, 'active', created_at + host_took + leader_took
    from bench_plan where outcome = 'approved'`, [campusIds]);
  await step('pass events', `insert into pass_events (pass_id, kind, guard_id, campus_id, department_id, at)
    select g, k.kind, ?, (?::int[])[d + 1], (?::int[])[d + 1], window_start + entry_offset + case when k.kind = 'exit' then interval '90 minutes' else interval '0' end
    from bench_plan cross join (values ('entry'), ('exit')) k(kind)
    where outcome = 'approved' and not no_show and window_start + entry_offset < now()`, [guardId, campusIds, deptIds]);
  await step('plan', 'drop table bench_plan');
  await step('vacuum', "select setval('applications_id_seq', (select max(id) from applications)), setval('passes_id_seq', (select max(id) from passes))");
  await step('vacuum', 'vacuum analyze');
  return took;
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

export async function run(): Promise<void> {
  // BENCH_REPORTS_KEEP=1 leaves the loaded database in place (its name is printed) and BENCH_REPORTS_DB=<name>
  // times the queries on it again without loading: for trying indexes, the load being the slow part.
  const reuse = process.env.BENCH_REPORTS_DB;
  const db = reuse ? await openBenchDatabase(reuse) : await createBenchDatabase();
  let keep = Boolean(reuse) || process.env.BENCH_REPORTS_KEEP === '1';
  try {
    const { knex } = db;
    await migrateLatest(knex);
    const today = campusDate(new Date(), TZ);
    const yesterday = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    const t0 = performance.now();
    let took: Record<string, number> = {};
    if (!reuse) {
      const secrets = generateSecrets();
      await seedDemoData(knex, new DirectoryService(knex, new FieldCrypto(secrets.fieldEncryptionKey, secrets.blindIndexKey)));
      took = await loadHistory(knex, ROWS, DAYS, yesterday);
    }
    const counts = Object.fromEntries(
      await Promise.all(
        ['applications', 'tasks', 'passes', 'pass_events'].map(async (t) => [t, Number((await knex(t).count({ n: '*' }))[0].n)] as const),
      ),
    );
    const size = (await knex.raw('select pg_size_pretty(pg_database_size(current_database())) as s')).rows[0].s;
    console.log(
      `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (${Object.entries(took)
        .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
        .join(', ')}): ${Object.entries(counts)
        .map(([k, v]) => `${v.toLocaleString('en')} ${k}`)
        .join(', ')}; database ${size}`,
    );

    // First without the daily sums (every day counted live from the tables), then with them.
    await knex('report_daily').delete();
    await knex('report_rollup').delete();
    const rollup = new ReportRollup({ knex, clock: systemClock, timeZone: TZ });
    const reports = new ReportService({ knex, clock: systemClock, timeZone: TZ, settings: new SettingsService(knex, systemClock), rollup });
    const admin: StaffPrincipal = { id: 1, sessionId: 'bench', roles: ['admin'], departmentId: null, name: 'bench' };
    const firstDept = await knex('departments').orderBy('id').first('id');
    const leader: StaffPrincipal = { id: 2, sessionId: 'bench', roles: ['leader'], departmentId: firstDept.id, name: 'bench' };
    const from30 = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
    const fromYear = new Date(Date.parse(`${today}T00:00:00Z`) - 364 * 86_400_000).toISOString().slice(0, 10);
    if (process.env.BENCH_REPORTS_EXPLAIN === '1') await explainAll(knex);
    const timeAll = async (label: string) => {
      // The figures timed are the real ones: the year's reports agree with counts taken straight from the tables.
      const year = await reports.filterFor(admin, { from: fromYear, to: today });
      const direct = async (sql: string, bindings: unknown[]) => Number((await knex.raw(sql, bindings as any)).rows[0].n);
      const checks: Array<[string, number, number]> = [
        ['visits', (await reports.visits(year)).total.total, await direct('select count(*) as n from applications where visit_date between ? and ?', [fromYear, today])],
        [
          'refusals',
          (await reports.refusals(year)).total,
          await direct("select count(*) as n from tasks where status = 'completed' and result->>'decision' = 'refuse' and created_at >= ? and created_at < ?", [year.start, year.end]),
        ],
        ['peak hours', (await reports.peakHours(year)).total, await direct("select count(*) as n from pass_events where kind = 'entry' and at >= ? and at < ?", [year.start, year.end])],
      ];
      for (const [what, report, counted] of checks) {
        if (report !== counted || counted === 0) throw new Error(`${what}: the report says ${report}, the tables ${counted}`);
      }
      console.log(`figures agree with direct counts: ${checks.map(([w, n]) => `${w} ${n.toLocaleString('en')}`).join(', ')}`);
      console.log(`report queries ${label}, ${RUNS} runs each (ms): p50 / p95`);
      console.log(`  ${'report'.padEnd(16)} ${'admin 30 days'.padStart(16)} ${'admin 365 days'.padStart(16)} ${'leader 30 days'.padStart(16)} ${'leader 365 days'.padStart(16)}`);
      for (const name of REPORTS as readonly ReportName[]) {
        const cells: string[] = [];
        for (const [who, from] of [
          [admin, from30],
          [admin, fromYear],
          [leader, from30],
          [leader, fromYear],
        ] as const) {
          const range = await reports.filterFor(who, { from, to: today });
          await reports.report(name, range); // warm the cache once: the figures are for a database in use
          const times: number[] = [];
          for (let i = 0; i < RUNS; i++) {
            const s = performance.now();
            await reports.report(name, range);
            times.push(performance.now() - s);
          }
          times.sort((a, b) => a - b);
          cells.push(`${percentile(times, 0.5).toFixed(0)} / ${percentile(times, 0.95).toFixed(0)}`.padStart(16));
        }
        console.log(`  ${name.padEnd(16)} ${cells.join(' ')}`);
      }
    };
    if (process.env.BENCH_REPORTS_LIVE !== '0') await timeAll('counted live (no daily sums)');
    const everything = async () => {
      const out: unknown[] = [];
      for (const who of [admin, leader]) {
        const range = await reports.filterFor(who, { from: fromYear, to: today });
        for (const name of REPORTS) out.push(await reports.report(name, range));
      }
      return JSON.stringify(out);
    };
    const live = await everything();
    const r0 = performance.now();
    const done = await rollup.refresh();
    const rows = Number((await knex('report_daily').count({ n: '*' }))[0].n);
    console.log(
      `daily sums of ${done?.days ?? 0} closed days (through ${done?.through}) built in ${((performance.now() - r0) / 1000).toFixed(1)} s: ${rows.toLocaleString('en')} rows`,
    );
    await knex.raw('vacuum analyze report_daily');
    const again = performance.now();
    await rollup.refresh();
    console.log(`the hourly run afterwards (the last ${RECHECK_DAYS} closed days again): ${((performance.now() - again) / 1000).toFixed(1)} s`);
    if ((await everything()) !== live) throw new Error('the reports read from the daily sums differ from the same reports counted live');
    console.log('every report of the year, admin and leader, is the same from the daily sums as counted live');
    await timeAll('with the daily sums (the last days live)');
    console.log('reports bench done');
  } catch (err) {
    keep = Boolean(reuse);
    throw err;
  } finally {
    if (keep) {
      await db.knex.destroy();
      console.log(`database kept: ${db.name} (BENCH_REPORTS_DB=${db.name} times it again; drop it when done)`);
    } else await db.drop();
  }
}

async function openBenchDatabase(name: string) {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 4 } });
  return { name, url: url.toString(), knex, drop: () => knex.destroy() };
}

/** The plans of the report statements (BENCH_REPORTS_EXPLAIN=1): which index each one uses. */
async function explainAll(knex: Knex) {
  const sqls: Array<{ sql: string; bindings: unknown[] }> = [];
  const listener = (q: { sql: string; bindings: unknown[] }) => {
    if (/^select/i.test(q.sql) && /applications|tasks|pass_events/.test(q.sql) && !/from "(campuses|departments)"/.test(q.sql)) sqls.push(q);
  };
  knex.on('query', listener);
  const reports = new ReportService({
    knex,
    clock: systemClock,
    timeZone: TZ,
    settings: new SettingsService(knex, systemClock),
    rollup: new ReportRollup({ knex, clock: systemClock, timeZone: TZ }),
  });
  const today = campusDate(new Date(), TZ);
  const range = await reports.filterFor({ id: 1, sessionId: 'x', roles: ['admin'], departmentId: null, name: 'x' }, { from: new Date(Date.parse(`${today}T00:00:00Z`) - 364 * 86_400_000).toISOString().slice(0, 10), to: today });
  for (const name of REPORTS) await reports.report(name, range);
  knex.off('query', listener);
  for (const sql of sqls) {
    const plan = await knex.raw(`explain (analyze, buffers) ${sql.sql.replace(/\$(\d+)/g, '?')}`, sql.bindings as any);
    console.log(`\n${sql.sql.slice(0, 300)}\n${plan.rows.map((r: any) => r['QUERY PLAN']).join('\n')}`);
  }
}
