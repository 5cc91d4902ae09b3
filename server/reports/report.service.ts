import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import { maskText } from '../admin/mask.ts';
import type { SettingsService } from '../admin/settings.service.ts';
import { AppError, badRequest, forbidden } from '../errors.ts';
import type { StaffPrincipal } from '../http/context.ts';
import { MAX_ROW_ID } from '../http/id-param.ts';
import { campusDate, campusInstant, normaliseDate } from '../shared/campus-time.ts';
import { addDays, BUCKETS, bucketLower, KEY_SEP, type ReportRollup } from './report.rollup.ts';

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
const daysBetween = (from: string, to: string) => Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
const zeroCounts = (): StatusCounts => ({ total: 0, approved: 0, refused: 0, expired: 0, withdrawn: 0, pending: 0 });
const visitStatus = (status: string): VisitStatus => ((VISIT_STATUSES as readonly string[]).includes(status) ? (status as VisitStatus) : 'pending');

/**
 * The figures of the Reports page (issue 15): visits per day, campus and department, review times per step,
 * refusals by reason, no-shows and gate entries per hour. Administrators see everything; a leader sees only
 * their own department. Every report reads one date range of campus days (Asia/Shanghai by default):
 * visits and no-shows by visit date, review times and refusals by the day the step (or the application)
 * started, peak hours by the time of the entry. Closed days are read from the daily sums, the recent ones
 * counted live over the indexes of migration 013 (report.rollup.ts); both give the same rows.
 */
export class ReportService {
  constructor(
    private readonly deps: { knex: Knex; clock: Clock; timeZone: string; settings: SettingsService; rollup: ReportRollup },
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
    const [rows, names] = await Promise.all([this.deps.rollup.rows('visit', f.from, f.to, f), this.names()]);
    const byDay = new Map<string, StatusCounts>();
    for (let d = f.from; d <= f.to; d = addDays(d, 1)) byDay.set(d, zeroCounts());
    const byCampus = new Map<number, StatusCounts>();
    const byDepartment = new Map<number, StatusCounts>();
    const total = zeroCounts();
    for (const r of rows) {
      const s = visitStatus(r.key);
      for (const c of [
        byDay.get(r.day),
        byCampus.get(r.campusId) ?? byCampus.set(r.campusId, zeroCounts()).get(r.campusId),
        byDepartment.get(r.departmentId) ?? byDepartment.set(r.departmentId, zeroCounts()).get(r.departmentId),
        total,
      ]) {
        if (!c) continue;
        c[s] += r.n;
        c.total += r.n;
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
   * ones are left out: their end is a timer or the visitor, not a review). Durations are counted in buckets
   * (report.rollup.ts): exact to the minute below an hour, at most one bucket low above.
   */
  async approvalTimes({ filter: f }: Range) {
    const { rollup } = this.deps;
    const [steps, whole] = await Promise.all([rollup.rows('step', f.from, f.to, f, false), rollup.rows('submit', f.from, f.to, f, false)]);
    const byStep = new Map<string, { name: string; hist: number[] }>();
    const add = (into: number[], hist: number[] | null) => {
      for (const [b, n] of (hist ?? []).entries()) into[b] += n;
    };
    for (const r of steps) {
      const s = byStep.get(r.key) ?? byStep.set(r.key, { name: r.label ?? r.key, hist: new Array(BUCKETS).fill(0) }).get(r.key)!;
      if (r.label && r.label < s.name) s.name = r.label;
      add(s.hist, r.hist);
    }
    const wholeHist = new Array(BUCKETS).fill(0);
    for (const r of whole) add(wholeHist, r.hist);
    const summary = (hist: number[]) => {
      const pairs = hist.map((n, b) => [bucketLower(b), n] as [number, number]).filter(([, n]) => n > 0);
      const at = (p: number) => {
        const v = weightedPercentile(pairs, p);
        return v === null ? null : Math.round(v * 60);
      };
      return { count: hist.reduce((sum, n) => sum + n, 0), p50Seconds: at(0.5), p90Seconds: at(0.9) };
    };
    return {
      filter: f,
      // The first step has the most completions, the next fewer (refusals end the flow): count orders the steps.
      steps: [...byStep]
        .map(([step, s]) => ({ step, name: s.name, ...summary(s.hist) }))
        .sort((a, b) => b.count - a.count || a.step.localeCompare(b.step)),
      submitToEnd: summary(wholeHist),
    };
  }

  /**
   * Refusals by the opinion the reviewer gave. Opinions are grouped after trimming (spaces, trailing
   * punctuation); one that begins with a stock opinion (常用意见, the settings page) counts under that stock
   * opinion, so "不同意，请改期申请。下周再来" joins "不同意，请改期申请". The ten largest groups are listed,
   * the rest summed as other. Opinions are free text: anything shaped like an ID number or mobile is masked.
   */
  async refusals({ filter: f }: Range) {
    const [list, stock] = await Promise.all([this.deps.rollup.rows('refusal', f.from, f.to, f, false), this.deps.settings.get('stockOpinions')]);
    // Longest first, so "不同意，请改期申请" wins over a shorter "不同意" that it also begins with.
    const stockNorm = stock
      .map((s) => maskText(s.trim().replace(/\s+/g, ' ').replace(/[\s。．.！!；;，,]+$/, '')))
      .filter(Boolean)
      .sort((a, b) => b.length - a.length);
    const groups = new Map<string, { reason: string; count: number; stock: boolean }>();
    const bySteps = new Map<string, { step: string; name: string; count: number }>();
    let total = 0;
    for (const r of list) {
      const cut = r.key.indexOf(KEY_SEP);
      const step = r.key.slice(0, cut);
      const text = r.key.slice(cut + 1);
      total += r.n;
      const s = bySteps.get(step) ?? { step, name: r.label ?? step, count: 0 };
      s.count += r.n;
      bySteps.set(step, s);
      const matched = stockNorm.find((x) => text === x || text.startsWith(x));
      const reason = matched ?? text;
      const key = reason === '' ? '\u0000empty' : reason;
      const g = groups.get(key) ?? { reason, count: 0, stock: Boolean(matched) };
      g.count += r.n;
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
    const [list, names] = await Promise.all([this.deps.rollup.rows('past', f.from, f.to, f), this.names()]);
    const byDay = new Map<string, { approved: number; noShows: number }>();
    for (let d = f.from; d <= f.to; d = addDays(d, 1)) byDay.set(d, { approved: 0, noShows: 0 });
    const byDepartment = new Map<number, { approved: number; noShows: number }>();
    const total = { approved: 0, noShows: 0 };
    for (const r of list) {
      const field = r.key === 'no-show' ? 'noShows' : 'approved';
      for (const c of [byDay.get(r.day), byDepartment.get(r.departmentId) ?? byDepartment.set(r.departmentId, { approved: 0, noShows: 0 }).get(r.departmentId), total]) {
        if (c) c[field] += r.n;
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
  async peakHours({ filter: f }: Range) {
    const rows = await this.deps.rollup.rows('entry', f.from, f.to, f, false);
    const hours = Array.from({ length: 24 }, (_, hour) => ({ hour, entries: 0 }));
    for (const r of rows) hours[Number(r.key)].entries += r.n;
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

/**
 * percentile_cont over values given as [value, count] pairs in ascending order: the value at rank p·(n−1),
 * interpolated between its neighbours, as PostgreSQL computes it over the expanded rows.
 */
export function weightedPercentile(sorted: Array<[number, number]>, p: number): number | null {
  const n = sorted.reduce((sum, [, c]) => sum + c, 0);
  if (!n) return null;
  const rank = p * (n - 1);
  const lo = Math.floor(rank);
  const valueAt = (k: number) => {
    let seen = 0;
    for (const [v, c] of sorted) {
      seen += c;
      if (k < seen) return v;
    }
    return sorted[sorted.length - 1][0];
  };
  const a = valueAt(lo);
  return rank === lo ? a : a + (rank - lo) * (valueAt(lo + 1) - a);
}
