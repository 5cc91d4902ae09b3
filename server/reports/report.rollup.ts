import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import { maskText } from '../admin/mask.ts';
import { campusDate, campusInstant } from '../shared/campus-time.ts';
import { PeriodicTask } from '../shared/periodic-task.ts';

/**
 * The daily pre-aggregation of the reports. A campus day is "closed" CLOSE_DAYS after it ends: by then its visits
 * have happened and its applications are decided or expired (the default flow's timer is 72 hours after a
 * submission, which comes before the visit). Closed days are summed once into report_daily (one row per day,
 * campus, department, metric and key, with a duration histogram for the review times) and read from there; the
 * days after the last closed one are counted live from the tables. Each run computes the days up to the newest
 * closed one again from RECHECK_DAYS before the last run's end, so a late change (a late decision, an entry
 * recorded late) is taken in while the day is recent; older days stay as they were summed, also after the
 * retention purge has deleted their applications (their visits were counted in report_counts too; the sums keep
 * every other figure of them).
 */
export const CLOSE_DAYS = 2;
export const RECHECK_DAYS = 3;
const CHUNK_DAYS = 31;

export type Metric = 'visit' | 'past' | 'step' | 'submit' | 'refusal' | 'entry';
const METRICS: Metric[] = ['visit', 'past', 'step', 'submit', 'refusal', 'entry'];

export interface MetricRow {
  day: string;
  campusId: number;
  departmentId: number;
  key: string;
  label: string | null;
  n: number;
  hist: number[] | null;
}

export interface Scope {
  campusId: number | null;
  departmentId: number | null;
}

/** Separates a refusal's step from its opinion in one key. */
export const KEY_SEP = '\u0001';

/**
 * Review durations in minutes are counted in 128 buckets: each minute below an hour, then 15 minutes up to 6 hours,
 * 2 hours up to 2 days, a day up to 28 days, and one bucket beyond. A percentile is read at a bucket's lower end
 * (interpolated between buckets as percentile_cont does between rows), so it is exact below an hour and at most
 * one bucket low above.
 */
export const BUCKETS = 128;
export function bucketLower(b: number): number {
  if (b < 60) return b;
  if (b < 80) return 60 + (b - 60) * 15;
  if (b < 101) return 360 + (b - 80) * 120;
  return 2880 + (b - 101) * 1440;
}
const bucketSql = (minutes: string) =>
  `(case when ${minutes} < 60 then greatest(${minutes}, 0) when ${minutes} < 360 then 60 + (${minutes} - 60) / 15 ` +
  `when ${minutes} < 2880 then 80 + (${minutes} - 360) / 120 else least(${BUCKETS - 1}, 101 + (${minutes} - 2880) / 1440) end)`;
const minutesOf = (interval: string) => `floor(date_part('epoch', ${interval}) / 60)::int`;

export const normalisedOpinion =
  "regexp_replace(regexp_replace(btrim(coalesce(result->>'opinion', '')), '\\s+', ' ', 'g'), '[\\s。．.！!；;，,]+$', '')";

const DAY_MS = 86_400_000;
/** The earlier of two YYYY-MM-DD days. */
const earlier = (a: string, b: string) => (a < b ? a : b);
export const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);

export class ReportRollup {
  private readonly schedule = new PeriodicTask(
    () => this.refresh(),
    (err) => this.deps.logger?.error({ err }, 'report rollup failed'),
  );

  constructor(private readonly deps: { knex: Knex; clock: Clock; timeZone: string; logger?: Logger }) {}

  /** The last day summed into report_daily, or null before the first run. */
  async through(): Promise<string | null> {
    const row = await this.deps.knex('report_rollup').where({ id: 1 }).first('through');
    return row?.through ? String(row.through).slice(0, 10) : null;
  }

  /**
   * A metric's rows for the days [from, to] within the scope, each day either from report_daily (closed days) or
   * counted live. `perDay: false` lets the database sum the closed days (figures not shown per day).
   */
  async rows(metric: Metric, from: string, to: string, scope: Scope, perDay = true): Promise<MetricRow[]> {
    const through = await this.through();
    const rolledTo = through && through < to ? through : through ? to : null;
    const out: MetricRow[] = [];
    if (rolledTo && rolledTo >= from) out.push(...(await this.rolled(metric, from, rolledTo, scope, perDay)));
    const liveFrom = rolledTo && rolledTo >= from ? addDays(rolledTo, 1) : from;
    if (liveFrom <= to) out.push(...(await this.live(this.deps.knex, metric, liveFrom, to, scope, perDay)));
    return out;
  }

  private async rolled(metric: Metric, from: string, to: string, scope: Scope, perDay: boolean): Promise<MetricRow[]> {
    const { knex } = this.deps;
    const q = knex('report_daily').where({ metric }).whereBetween('day', [from, to]);
    if (scope.campusId) q.where('campus_id', scope.campusId);
    if (scope.departmentId) q.where('department_id', scope.departmentId);
    if (!perDay && metric !== 'step' && metric !== 'submit') {
      q.groupBy('key').select('key', knex.raw('min(label) as label'), knex.raw('sum(n)::int as n'));
      return (await q).map((r: any) => ({ day: '', campusId: 0, departmentId: 0, key: r.key, label: r.label, n: Number(r.n), hist: null }));
    }
    q.select(knex.raw('day::text as day'), 'campus_id', 'department_id', 'key', 'label', 'n', 'hist');
    return (await q).map((r: any) => ({
      day: r.day,
      campusId: r.campus_id,
      departmentId: r.department_id,
      key: r.key,
      label: r.label,
      n: Number(r.n),
      hist: r.hist ? (typeof r.hist === 'string' ? JSON.parse(r.hist) : r.hist) : null,
    }));
  }

  /**
   * Counts a metric from the tables for the campus days [from, to], one row per day, campus, department and key;
   * `perDay: false` groups by key alone (what a report that shows no day, campus or department needs: far fewer
   * groups than a year of days times departments).
   */
  async live(db: Knex, metric: Metric, from: string, to: string, scope: Scope, perDay = true): Promise<MetricRow[]> {
    const { timeZone } = this.deps;
    const start = campusInstant(from, '00:00', timeZone);
    const end = campusInstant(addDays(to, 1), '00:00', timeZone);
    const scoped = (q: Knex.QueryBuilder, table: string) => {
      if (scope.campusId) q.where(`${table}.campus_id`, scope.campusId);
      if (scope.departmentId) q.where(`${table}.department_id`, scope.departmentId);
      return q;
    };
    // The day, campus and department columns, or constants when the rows are not wanted per day.
    const where = (column: string, table: string) =>
      perDay
        ? [db.raw(`(${table}.${column} at time zone ?)::date::text as day`, [timeZone]), `${table}.campus_id`, `${table}.department_id`]
        : [db.raw("'' as day"), db.raw('0 as campus_id'), db.raw('0 as department_id')];
    const row = (r: any, key: string, n: number, hist: number[] | null = null): MetricRow => ({
      day: r.day,
      campusId: r.campus_id ?? 0,
      departmentId: r.department_id ?? 0,
      key,
      label: r.label ?? null,
      n,
      hist,
    });
    switch (metric) {
      case 'visit': {
        const apps = scoped(
          db('applications')
            .whereBetween('visit_date', [from, to])
            .groupBy('visit_date', 'campus_id', 'department_id', 'status')
            .select(db.raw('visit_date::text as day'), 'campus_id', 'department_id', 'status', db.raw('count(*)::int as n')),
          'applications',
        );
        // What the retention purge deleted is kept as anonymous counts.
        const purged = scoped(
          db('report_counts').whereBetween('day', [from, to]).select(db.raw('day::text as day'), 'campus_id', 'department_id', 'status', 'count as n'),
          'report_counts',
        );
        return [...(await apps), ...(await purged)].map((r: any) => row(r, r.status, Number(r.n)));
      }
      case 'past': {
        // Approved applications whose window has passed, and how many of them never entered.
        const rows = await scoped(
          db('applications')
            .where('status', 'approved')
            .whereBetween('visit_date', [from, to])
            .where('window_end', '<', this.deps.clock.now())
            .groupBy('visit_date', 'campus_id', 'department_id')
            .select(
              db.raw('visit_date::text as day'),
              'campus_id',
              'department_id',
              db.raw('count(*)::int as approved'),
              db.raw('count(*) filter (where entered_at is null)::int as no_shows'),
            ),
          'applications',
        );
        return rows.flatMap((r: any) => [row(r, 'approved', Number(r.approved)), row(r, 'no-show', Number(r.no_shows))]);
      }
      case 'step':
      case 'submit': {
        // The minutes are computed once per row in an inner select (date_part is a float; extract() would make a
        // numeric of every row), then bucketed and counted.
        const inner =
          metric === 'step'
            ? scoped(
                db('tasks')
                  .where('status', 'completed')
                  .where('created_at', '>=', start)
                  .where('created_at', '<', end)
                  .select('created_at', 'campus_id', 'department_id', 'element_id as key', 'name', db.raw(`${minutesOf('completed_at - created_at')} as m`)),
                'tasks',
              )
            : scoped(
                db('applications')
                  .whereNotNull('decided_at')
                  .whereIn('status', ['approved', 'refused'])
                  .where('created_at', '>=', start)
                  .where('created_at', '<', end)
                  .select('created_at', 'campus_id', 'department_id', db.raw("'' as key"), db.raw('null as name'), db.raw(`${minutesOf('decided_at - created_at')} as m`)),
                'applications',
              );
        const q = db
          .from(inner.as('t'))
          .groupByRaw('1, 2, 3, 4, 5')
          .select(...where('created_at', 't'), 't.key', db.raw(`${bucketSql('t.m')} as b`), db.raw('min(t.name) as label'), db.raw('count(*)::int as n'));
        const folded = new Map<string, MetricRow>();
        for (const r of (await q) as any[]) {
          const key = r.key ?? '';
          const id = `${r.day}|${r.campus_id}|${r.department_id}|${key}`;
          const m = folded.get(id) ?? folded.set(id, row(r, key, 0, new Array(BUCKETS).fill(0))).get(id)!;
          m.n += Number(r.n);
          m.hist![Number(r.b)] += Number(r.n);
          if (r.label && (!m.label || r.label < m.label)) m.label = r.label;
        }
        return [...folded.values()];
      }
      case 'refusal': {
        const rows = await scoped(
          db('tasks')
            .where('status', 'completed')
            .whereRaw("result->>'decision' = 'refuse'")
            .where('created_at', '>=', start)
            .where('created_at', '<', end)
            .groupByRaw('1, 2, 3, 4, 5')
            .select(...where('created_at', 'tasks'), 'element_id', db.raw(`${normalisedOpinion} as opinion`))
            .select(db.raw('min(name) as label'), db.raw('count(*)::int as n')),
          'tasks',
        );
        // Opinions are free text: what looks like an ID number or a mobile is masked before it is kept or shown.
        return rows.map((r: any) => row(r, `${r.element_id}${KEY_SEP}${maskText(String(r.opinion ?? ''))}`.slice(0, 600), Number(r.n)));
      }
      case 'entry': {
        const rows = await scoped(
          db('pass_events')
            .where('kind', 'entry')
            .where('at', '>=', start)
            .where('at', '<', end)
            .groupByRaw('1, 2, 3, 4')
            .select(...where('at', 'pass_events'), db.raw('extract(hour from at at time zone ?)::int as hour', [timeZone]))
            .select(db.raw('count(*)::int as n')),
          'pass_events',
        );
        return rows.map((r: any) => row(r, String(r.hour), Number(r.n)));
      }
    }
  }

  /**
   * Sums the closed days not summed yet, and the last RECHECK_DAYS again. The first run sums the whole history
   * (about a minute per million applications here, see README). Runs in chunks of a month, each in a
   * transaction that holds the state row, so two server processes running it at once take turns.
   */
  async refresh(): Promise<{ from: string; through: string; days: number } | null> {
    const { knex, clock, timeZone } = this.deps;
    const target = addDays(campusDate(clock.now(), timeZone), -CLOSE_DAYS);
    const through = await this.through();
    let from: string | null;
    if (through) from = addDays(earlier(through, target), -(RECHECK_DAYS - 1));
    else {
      const [row] = (
        await knex.raw(
          `select least((select min(visit_date) from applications), (select min(created_at at time zone ?)::date from applications),
             (select min(day) from report_counts))::text as first`,
          [timeZone],
        )
      ).rows;
      from = row?.first ?? null;
    }
    if (!from || from > target) {
      await this.saveThrough(knex, target);
      return null;
    }
    let days = 0;
    for (let a = from; a <= target; a = addDays(a, CHUNK_DAYS)) {
      const b = earlier(addDays(a, CHUNK_DAYS - 1), target);
      await knex.transaction(async (trx) => {
        await trx('report_rollup').insert({ id: 1, through: null, refreshed_at: clock.now() }).onConflict('id').ignore();
        await trx('report_rollup').where({ id: 1 }).forUpdate().first();
        await trx('report_daily').whereBetween('day', [a, b]).delete();
        const rows: Record<string, unknown>[] = [];
        for (const metric of METRICS) {
          for (const r of await this.live(trx, metric, a, b, { campusId: null, departmentId: null })) {
            rows.push({ day: r.day, campus_id: r.campusId, department_id: r.departmentId, metric, key: r.key, label: r.label, n: r.n, hist: r.hist ? JSON.stringify(r.hist) : null });
          }
        }
        // report_counts and applications can both hold a day's visits (an application purged in between): one row.
        const merged = new Map<string, Record<string, unknown>>();
        for (const r of rows) {
          const id = `${r.day}|${r.campus_id}|${r.department_id}|${r.metric}|${r.key}`;
          const m = merged.get(id);
          if (m) m.n = Number(m.n) + Number(r.n);
          else merged.set(id, r);
        }
        const list = [...merged.values()];
        for (let i = 0; i < list.length; i += 500) await trx('report_daily').insert(list.slice(i, i + 500));
        await this.saveThrough(trx, b);
      });
      days += Math.round((Date.parse(b) - Date.parse(a)) / DAY_MS) + 1;
    }
    return { from, through: target, days };
  }

  private async saveThrough(db: Knex, day: string) {
    await db('report_rollup')
      .insert({ id: 1, through: day, refreshed_at: this.deps.clock.now() })
      .onConflict('id')
      .merge({ through: db.raw('greatest(coalesce(report_rollup.through, excluded.through), excluded.through)'), refreshed_at: this.deps.clock.now() });
  }

  /** Every hour (first a minute after start); a failed run is logged and tried again the next hour. */
  start(options: { firstDelayMs?: number; intervalMs?: number } = {}): void {
    this.schedule.start({ firstDelayMs: options.firstDelayMs ?? 60_000, intervalMs: options.intervalMs ?? 3_600_000 });
  }

  stop(): Promise<void> {
    return this.schedule.stop();
  }
}
