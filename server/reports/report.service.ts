import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import { maskText } from '../admin/mask.ts';
import type { SettingsService } from '../admin/settings.service.ts';
import { AppError, badRequest, forbidden } from '../errors.ts';
import type { StaffPrincipal } from '../http/context.ts';
import { MAX_ROW_ID } from '../http/id-param.ts';
import { campusDate, campusInstant, normaliseDate } from '../shared/campus-time.ts';

/** Longest range a report answers (a full year, leap years included): keeps every query's work bounded. */
export const MAX_RANGE_DAYS = 366;
export const DEFAULT_RANGE_DAYS = 30;
/** Refusal reasons listed one by one; the rest are summed as "other". */
export const TOP_REASONS = 10;

export const REPORTS = ['visits', 'approval-times', 'refusals', 'no-shows', 'peak-hours'] as const;
export type ReportName = (typeof REPORTS)[number];

/** Outcomes the visits report counts; `pending` also holds accepted applications whose flow has not started. */
export const VISIT_STATUSES = ['approved', 'refused', 'expired', 'withdrawn', 'pending'] as const;
type VisitStatus = (typeof VISIT_STATUSES)[number];
type StatusCounts = Record<VisitStatus, number> & { total: number };

const optionalId = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z.coerce.number({ error: '应为正整数' }).int('应为正整数').min(1, '应为正整数').max(MAX_ROW_ID, '编号过大').optional(),
);
const optionalDate = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string({ error: '日期格式应为 YYYY-MM-DD' })
    .regex(/^\d{4}-\d{2}-\d{2}$/, '日期格式应为 YYYY-MM-DD')
    .refine((v) => normaliseDate(v, 'UTC') === v, '不是有效的日期')
    .optional(),
);

export const reportQuery = z.object({ from: optionalDate, to: optionalDate, campusId: optionalId, departmentId: optionalId });

export interface ReportFilter {
  from: string;
  to: string;
  campusId: number | null;
  departmentId: number | null;
  /** `department`: a leader's view, fixed to their own department. */
  scope: 'all' | 'department';
}

interface Range {
  filter: ReportFilter;
  /** The campus-day range as instants: [start, end). */
  start: Date;
  end: Date;
}

const DAY_MS = 86_400_000;
const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
const zeroCounts = (): StatusCounts => ({ total: 0, approved: 0, refused: 0, expired: 0, withdrawn: 0, pending: 0 });
const visitStatus = (status: string): VisitStatus => ((VISIT_STATUSES as readonly string[]).includes(status) ? (status as VisitStatus) : 'pending');
const seconds = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v)));

/**
 * The figures of the Reports page (issue 15): visits per day, campus and department, review times per step,
 * refusals by reason, no-shows and gate entries per hour. Administrators see everything; a leader sees only
 * their own department. Every report reads one date range of campus days (Asia/Shanghai by default):
 * visits and no-shows by visit date, review times and refusals by the day the step (or the application)
 * started, peak hours by the time of the entry. Each query is one statement over an index that starts with
 * that date (migration 013).
 */
export class ReportService {
  constructor(
    private readonly deps: { knex: Knex; clock: Clock; timeZone: string; settings: SettingsService },
  ) {}

  /** Validates the query and fixes the scope: 403 for a leader asking for another department. */
  async filterFor(staff: StaffPrincipal, raw: unknown): Promise<Range> {
    const q = reportQuery.parse(raw);
    const { knex, timeZone } = this.deps;
    const today = campusDate(this.deps.clock.now(), timeZone);
    const to = q.to ?? (q.from ? addDays(q.from, DEFAULT_RANGE_DAYS - 1) : today);
    const from = q.from ?? addDays(to, -(DEFAULT_RANGE_DAYS - 1));
    if (from > to) throw badRequest('REPORT_RANGE_INVALID', '开始日期应不晚于结束日期', [{ field: 'from', message: '开始日期应不晚于结束日期' }]);
    if (daysBetween(from, to) > MAX_RANGE_DAYS) {
      throw badRequest('REPORT_RANGE_TOO_LONG', `日期范围最长 ${MAX_RANGE_DAYS} 天`, [{ field: 'to', message: `日期范围最长 ${MAX_RANGE_DAYS} 天` }]);
    }
    let departmentId = q.departmentId ?? null;
    let scope: ReportFilter['scope'] = 'all';
    if (!staff.roles.includes('admin')) {
      // Only leaders get here besides admins (the router lets no other role in).
      if (!staff.departmentId) throw forbidden('REPORT_DEPARTMENT_FORBIDDEN', '您不属于任何部门，无法查看部门报表');
      if (departmentId !== null && departmentId !== staff.departmentId) {
        throw forbidden('REPORT_DEPARTMENT_FORBIDDEN', '只能查看本部门的报表');
      }
      departmentId = staff.departmentId;
      scope = 'department';
    }
    if (q.campusId && !(await knex('campuses').where({ id: q.campusId }).first('id'))) {
      throw badRequest('REPORT_FILTER_INVALID', '校区不存在', [{ field: 'campusId', message: '校区不存在' }]);
    }
    if (departmentId !== null) {
      const dept = await knex('departments').where({ id: departmentId }).first('id', 'campus_id');
      if (!dept) throw badRequest('REPORT_FILTER_INVALID', '部门不存在', [{ field: 'departmentId', message: '部门不存在' }]);
      if (q.campusId && dept.campus_id !== q.campusId) {
        throw badRequest('REPORT_FILTER_INVALID', '该部门不在所选校区', [{ field: 'departmentId', message: '该部门不在所选校区' }]);
      }
    }
    return {
      filter: { from, to, campusId: q.campusId ?? null, departmentId, scope },
      start: campusInstant(from, '00:00', timeZone),
      end: campusInstant(addDays(to, 1), '00:00', timeZone),
    };
  }

  private scoped<T extends Knex.QueryBuilder>(q: T, f: ReportFilter, table: string): T {
    if (f.campusId) q.where(`${table}.campus_id`, f.campusId);
    if (f.departmentId) q.where(`${table}.department_id`, f.departmentId);
    return q;
  }

  private async names() {
    const { knex } = this.deps;
    const [campuses, departments] = await Promise.all([
      knex('campuses').select('id', 'name'),
      knex('departments').select('id', 'name', 'campus_id'),
    ]);
    return {
      campus: new Map<number, string>(campuses.map((c: any) => [c.id, c.name])),
      department: new Map<number, { name: string; campusId: number }>(departments.map((d: any) => [d.id, { name: d.name, campusId: d.campus_id }])),
    };
  }

  /**
   * Applications per visit day, campus and department by outcome. Days whose applications the retention purge
   * deleted still count: the purge leaves anonymous counts in report_counts.
   */
  async visits({ filter: f }: Range) {
    const { knex } = this.deps;
    const live = this.scoped(
      knex('applications')
        .whereBetween('visit_date', [f.from, f.to])
        .groupBy('visit_date', 'campus_id', 'department_id', 'status')
        .select(knex.raw('visit_date::text as day'), 'campus_id', 'department_id', 'status', knex.raw('count(*)::int as n')),
      f,
      'applications',
    );
    const purged = this.scoped(
      knex('report_counts').whereBetween('day', [f.from, f.to]).select(knex.raw('day::text as day'), 'campus_id', 'department_id', 'status', 'count as n'),
      f,
      'report_counts',
    );
    const [rows, kept, names] = await Promise.all([live, purged, this.names()]);
    const byDay = new Map<string, StatusCounts>();
    for (let d = f.from; d <= f.to; d = addDays(d, 1)) byDay.set(d, zeroCounts());
    const byCampus = new Map<number, StatusCounts>();
    const byDepartment = new Map<number, StatusCounts>();
    const total = zeroCounts();
    for (const r of [...rows, ...kept] as Array<{ day: string; campus_id: number; department_id: number; status: string; n: number }>) {
      const day = String(r.day);
      const s = visitStatus(r.status);
      const n = Number(r.n);
      for (const c of [
        byDay.get(day),
        byCampus.get(r.campus_id) ?? byCampus.set(r.campus_id, zeroCounts()).get(r.campus_id),
        byDepartment.get(r.department_id) ?? byDepartment.set(r.department_id, zeroCounts()).get(r.department_id),
        total,
      ]) {
        if (!c) continue;
        c[s] += n;
        c.total += n;
      }
    }
    return {
      filter: f,
      statuses: VISIT_STATUSES,
      total,
      byDay: [...byDay].map(([day, c]) => ({ day, ...c })),
      byCampus: [...byCampus]
        .map(([campusId, c]) => ({ campusId, campus: names.campus.get(campusId) ?? String(campusId), ...c }))
        .sort((a, b) => b.total - a.total || a.campusId - b.campusId),
      byDepartment: [...byDepartment]
        .map(([departmentId, c]) => {
          const d = names.department.get(departmentId);
          return { departmentId, department: d?.name ?? String(departmentId), campusId: d?.campusId ?? null, campus: names.campus.get(d?.campusId ?? -1) ?? '', ...c };
        })
        .sort((a, b) => b.total - a.total || a.departmentId - b.departmentId),
    };
  }

  /**
   * How long each review step took (from the step's start to its completion), p50 and p90, for the steps that
   * started in the range and were completed (a step withdrawn by the 72-hour timeout has no duration), and how
   * long a decided application took from submission to its end (approved or refused; expired and withdrawn
   * ones are left out: their end is a timer or the visitor, not a review).
   */
  async approvalTimes({ filter: f, start, end }: Range) {
    const { knex } = this.deps;
    const pct = (p: number, expr: string) => knex.raw(`percentile_cont(${p}) within group (order by extract(epoch from ${expr}))::float8 as p${p * 100}`);
    const steps = this.scoped(
      knex('tasks')
        .where('status', 'completed')
        .where('created_at', '>=', start)
        .where('created_at', '<', end)
        .groupBy('element_id')
        .select('element_id as step', knex.raw('min(name) as name'), knex.raw('count(*)::int as n'), pct(0.5, 'completed_at - created_at'), pct(0.9, 'completed_at - created_at')),
      f,
      'tasks',
    );
    const whole = this.scoped(
      knex('applications')
        .whereNotNull('decided_at')
        .whereIn('status', ['approved', 'refused'])
        .where('created_at', '>=', start)
        .where('created_at', '<', end)
        .select(knex.raw('count(*)::int as n'), pct(0.5, 'decided_at - created_at'), pct(0.9, 'decided_at - created_at')),
      f,
      'applications',
    );
    const [stepRows, [all]] = await Promise.all([steps, whole]);
    return {
      filter: f,
      // The first step has the most completions, the next fewer (refusals end the flow): count orders the steps.
      steps: stepRows
        .map((r: any) => ({ step: r.step, name: r.name, count: Number(r.n), p50Seconds: seconds(r.p50), p90Seconds: seconds(r.p90) }))
        .sort((a: any, b: any) => b.count - a.count || a.step.localeCompare(b.step)),
      submitToEnd: { count: Number(all?.n ?? 0), p50Seconds: seconds(all?.p50), p90Seconds: seconds(all?.p90) },
    };
  }

  /**
   * Refusals by the opinion the reviewer gave. Opinions are grouped after trimming (spaces, trailing
   * punctuation); one that begins with a stock opinion (常用意见, the settings page) counts under that stock
   * opinion, so "不同意，请改期申请。下周再来" joins "不同意，请改期申请". The ten largest groups are listed,
   * the rest summed as other. Opinions are free text: anything shaped like an ID number or mobile is masked.
   */
  async refusals({ filter: f, start, end }: Range) {
    const { knex } = this.deps;
    const opinion = "regexp_replace(regexp_replace(btrim(coalesce(result->>'opinion', '')), '\\s+', ' ', 'g'), '[\\s。．.！!；;，,]+$', '')";
    const rows = this.scoped(
      knex('tasks')
        .where('status', 'completed')
        .whereRaw("result->>'decision' = 'refuse'")
        .where('created_at', '>=', start)
        .where('created_at', '<', end)
        .groupByRaw('1, 2')
        .select('element_id as step', knex.raw(`${opinion} as opinion`), knex.raw('min(name) as name'), knex.raw('count(*)::int as n')),
      f,
      'tasks',
    );
    const [list, stock] = await Promise.all([rows, this.deps.settings.get('stockOpinions')]);
    // Longest first, so "不同意，请改期申请" wins over a shorter "不同意" that it also begins with.
    const stockNorm = stock
      .map((s) => s.trim().replace(/\s+/g, ' ').replace(/[\s。．.！!；;，,]+$/, ''))
      .filter(Boolean)
      .sort((a, b) => b.length - a.length);
    const groups = new Map<string, { reason: string; count: number; stock: boolean }>();
    const bySteps = new Map<string, { step: string; name: string; count: number }>();
    let total = 0;
    for (const r of list as Array<{ step: string; name: string; opinion: string; n: number }>) {
      const n = Number(r.n);
      total += n;
      const s = bySteps.get(r.step) ?? { step: r.step, name: r.name, count: 0 };
      s.count += n;
      bySteps.set(r.step, s);
      const text = String(r.opinion ?? '');
      const matched = stockNorm.find((x) => text === x || text.startsWith(x));
      const reason = matched ?? maskText(text);
      const key = reason === '' ? '\u0000empty' : reason;
      const g = groups.get(key) ?? { reason, count: 0, stock: Boolean(matched) };
      g.count += n;
      groups.set(key, g);
    }
    const sorted = [...groups.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
    const top = sorted.slice(0, TOP_REASONS).map((g) => ({ ...g, other: false }));
    const rest = sorted.slice(TOP_REASONS);
    if (rest.length) top.push({ reason: '', count: rest.reduce((sum, g) => sum + g.count, 0), stock: false, other: true });
    return {
      filter: f,
      total,
      bySteps: [...bySteps.values()].sort((a, b) => b.count - a.count),
      // reason '' with other=false: refused without an opinion; other=true: the groups past the top ten.
      reasons: top.map((g) => ({ ...g, share: total ? g.count / total : 0 })),
    };
  }

  /**
   * Approved applications whose visit window has passed and whose pass was never used to enter (no entry at
   * the gate), per visit day and department. Windows still open (today's later visits) are not counted yet.
   */
  async noShows({ filter: f }: Range) {
    const { knex } = this.deps;
    const now = this.deps.clock.now();
    const rows = this.scoped(
      knex('applications as a')
        .leftJoin('passes as p', 'p.application_id', 'a.id')
        .where('a.status', 'approved')
        .whereBetween('a.visit_date', [f.from, f.to])
        .where('a.window_end', '<', now)
        .groupBy('a.visit_date', 'a.department_id')
        .select(
          knex.raw('a.visit_date::text as day'),
          'a.department_id',
          knex.raw('count(*)::int as approved'),
          knex.raw("count(*) filter (where not exists (select 1 from pass_events e where e.pass_id = p.id and e.kind = 'entry'))::int as no_shows"),
        ),
      f,
      'a',
    );
    const [list, names] = await Promise.all([rows, this.names()]);
    const byDay = new Map<string, { approved: number; noShows: number }>();
    for (let d = f.from; d <= f.to; d = addDays(d, 1)) byDay.set(d, { approved: 0, noShows: 0 });
    const byDepartment = new Map<number, { approved: number; noShows: number }>();
    const total = { approved: 0, noShows: 0 };
    for (const r of list as Array<{ day: string; department_id: number; approved: number; no_shows: number }>) {
      const day = String(r.day).slice(0, 10);
      for (const c of [byDay.get(day), byDepartment.get(r.department_id) ?? byDepartment.set(r.department_id, { approved: 0, noShows: 0 }).get(r.department_id), total]) {
        if (!c) continue;
        c.approved += Number(r.approved);
        c.noShows += Number(r.no_shows);
      }
    }
    const rate = (c: { approved: number; noShows: number }) => (c.approved ? c.noShows / c.approved : 0);
    return {
      filter: f,
      total: { ...total, rate: rate(total) },
      byDay: [...byDay].map(([day, c]) => ({ day, ...c, rate: rate(c) })),
      byDepartment: [...byDepartment]
        .map(([departmentId, c]) => {
          const d = names.department.get(departmentId);
          return { departmentId, department: d?.name ?? String(departmentId), campus: names.campus.get(d?.campusId ?? -1) ?? '', ...c, rate: rate(c) };
        })
        .sort((a, b) => b.noShows - a.noShows || a.departmentId - b.departmentId),
    };
  }

  /** Gate entries per hour of the campus day (0–23), over the range; a department's are its visitors' entries. */
  async peakHours({ filter: f, start, end }: Range) {
    const { knex, timeZone } = this.deps;
    const q = knex('pass_events as e')
      .where('e.kind', 'entry')
      .where('e.at', '>=', start)
      .where('e.at', '<', end)
      .groupByRaw('1')
      .select(knex.raw('extract(hour from e.at at time zone ?)::int as hour', [timeZone]), knex.raw('count(*)::int as n'));
    if (f.campusId) q.where('e.campus_id', f.campusId);
    if (f.departmentId) {
      q.whereExists((s) =>
        s
          .select(knex.raw('1'))
          .from('passes as p')
          .join('applications as a', 'a.id', 'p.application_id')
          .whereRaw('p.id = e.pass_id')
          .where('a.department_id', f.departmentId!),
      );
    }
    const rows: Array<{ hour: number; n: number }> = await q;
    const hours = Array.from({ length: 24 }, (_, hour) => ({ hour, entries: 0 }));
    for (const r of rows) hours[Number(r.hour)].entries = Number(r.n);
    const total = hours.reduce((s, h) => s + h.entries, 0);
    const peak = hours.reduce((best, h) => (h.entries > best.entries ? h : best), hours[0]);
    return { filter: f, total, hours, peakHour: total ? peak.hour : null };
  }

  async report(name: ReportName, range: Range) {
    switch (name) {
      case 'visits':
        return this.visits(range);
      case 'approval-times':
        return this.approvalTimes(range);
      case 'refusals':
        return this.refusals(range);
      case 'no-shows':
        return this.noShows(range);
      case 'peak-hours':
        return this.peakHours(range);
      default:
        throw new AppError(404, 'NOT_FOUND', '报表不存在');
    }
  }
}

export type ReportRange = Range;
