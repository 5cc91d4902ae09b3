import writeXlsxFile, { type SheetData } from 'write-excel-file/node';
import type { ReportFilter, ReportName, ReportService } from './report.service.ts';

export type ExportLang = 'zh' | 'en';
type Cell = string | number | null;

export interface ExportTable {
  report: ReportName;
  /** Sheet name (XLSX; at most 31 characters, none of []:*?/\). */
  title: string;
  headers: string[];
  rows: Cell[][];
}

const WORDS = {
  zh: {
    visits: '到访量',
    'approval-times': '审批用时',
    refusals: '否决原因',
    'no-shows': '未到访',
    'peak-hours': '入校高峰时段',
    day: '日期',
    campus: '校区',
    department: '部门',
    total: '申请数',
    approved: '已通过',
    refused: '未通过',
    expired: '已过期',
    withdrawn: '已撤回',
    pending: '审核中',
    level: '维度',
    byDay: '按日',
    byCampus: '按校区',
    byDepartment: '按部门',
    all: '合计',
    any: '全部',
    step: '环节',
    count: '完成数',
    p50: '中位用时（分钟）',
    p90: 'P90 用时（分钟）',
    submitToEnd: '提交至办结',
    reason: '否决原因',
    refusalCount: '否决数',
    share: '占比',
    other: '其他',
    noOpinion: '（未填写意见）',
    stock: '常用意见',
    yes: '是',
    no: '否',
    approvedPast: '已通过且到访时段已过',
    noShows: '未到访',
    rate: '未到访率',
    hour: '时段',
    entries: '入校人次',
  },
  en: {
    visits: 'Visits',
    'approval-times': 'Review times',
    refusals: 'Refusal reasons',
    'no-shows': 'No-shows',
    'peak-hours': 'Peak hours',
    day: 'Date',
    campus: 'Campus',
    department: 'Department',
    total: 'Applications',
    approved: 'Approved',
    refused: 'Refused',
    expired: 'Expired',
    withdrawn: 'Withdrawn',
    pending: 'Under review',
    level: 'By',
    byDay: 'Day',
    byCampus: 'Campus',
    byDepartment: 'Department',
    all: 'Total',
    any: 'All',
    step: 'Step',
    count: 'Completed',
    p50: 'Median (minutes)',
    p90: 'P90 (minutes)',
    submitToEnd: 'Submission to end',
    reason: 'Reason',
    refusalCount: 'Refusals',
    share: 'Share',
    other: 'Other',
    noOpinion: '(no opinion given)',
    stock: 'Stock opinion',
    yes: 'yes',
    no: 'no',
    approvedPast: 'Approved, window passed',
    noShows: 'No-shows',
    rate: 'No-show rate',
    hour: 'Hour',
    entries: 'Entries',
  },
} as const;

const minutes = (s: number | null) => (s === null ? null : Math.round(s / 6) / 10);
const ratio = (x: number) => Math.round(x * 10_000) / 10_000;
const STEP_NAMES_EN: Record<string, string> = { 'security-review': 'Security review', 'host-review': 'Host review', 'leader-review': 'Leader review' };

/** Each report as a table: what the CSV holds and one sheet of the XLSX. Aggregates only: no person appears. */
export async function exportTable(reports: ReportService, report: ReportName, range: Parameters<ReportService['visits']>[0], lang: ExportLang): Promise<ExportTable> {
  const w = WORDS[lang];
  const title = w[report];
  switch (report) {
    case 'visits': {
      const v = await reports.visits(range);
      const counts = (c: { total: number; approved: number; refused: number; expired: number; withdrawn: number; pending: number }) => [c.total, c.approved, c.refused, c.expired, c.withdrawn, c.pending];
      return {
        report,
        title,
        headers: [w.level, w.day, w.campus, w.department, w.total, w.approved, w.refused, w.expired, w.withdrawn, w.pending],
        rows: [
          ...v.byDay.map((d) => [w.byDay, d.day, null, null, ...counts(d)]),
          ...v.byCampus.map((c) => [w.byCampus, null, c.campus, null, ...counts(c)]),
          ...v.byDepartment.map((d) => [w.byDepartment, null, d.campus, d.department, ...counts(d)]),
          [w.all, null, null, null, ...counts(v.total)],
        ],
      };
    }
    case 'approval-times': {
      const a = await reports.approvalTimes(range);
      const stepName = (step: string, name: string) => (lang === 'en' ? (STEP_NAMES_EN[step] ?? name) : name);
      return {
        report,
        title,
        headers: [w.step, w.count, w.p50, w.p90],
        rows: [
          ...a.steps.map((s) => [stepName(s.step, s.name), s.count, minutes(s.p50Seconds), minutes(s.p90Seconds)]),
          [w.submitToEnd, a.submitToEnd.count, minutes(a.submitToEnd.p50Seconds), minutes(a.submitToEnd.p90Seconds)],
        ],
      };
    }
    case 'refusals': {
      const r = await reports.refusals(range);
      return {
        report,
        title,
        headers: [w.reason, w.stock, w.refusalCount, w.share],
        rows: [
          ...r.reasons.map((g) => [g.other ? w.other : g.reason || w.noOpinion, g.stock ? w.yes : w.no, g.count, ratio(g.share)]),
          [w.all, null, r.total, r.total ? 1 : 0],
        ],
      };
    }
    case 'no-shows': {
      const n = await reports.noShows(range);
      return {
        report,
        title,
        headers: [w.level, w.day, w.campus, w.department, w.approvedPast, w.noShows, w.rate],
        rows: [
          ...n.byDay.map((d) => [w.byDay, d.day, null, null, d.approved, d.noShows, ratio(d.rate)]),
          ...n.byDepartment.map((d) => [w.byDepartment, null, d.campus, d.department, d.approved, d.noShows, ratio(d.rate)]),
          [w.all, null, null, null, n.total.approved, n.total.noShows, ratio(n.total.rate)],
        ],
      };
    }
    case 'peak-hours': {
      const p = await reports.peakHours(range);
      const pad = (h: number) => String(h).padStart(2, '0');
      return {
        report,
        title,
        headers: [w.hour, w.entries],
        rows: [...p.hours.map((h) => [`${pad(h.hour)}:00–${pad(h.hour)}:59`, h.entries]), [w.all, p.total]],
      };
    }
  }
}

/**
 * A cell as CSV text. A text cell that a spreadsheet would read as a formula (starting with = + - @, or a tab
 * or carriage return that some programs skip before one) gets a leading apostrophe: an opinion such as
 * `=HYPERLINK(...)` must stay text when the file is opened in Excel or WPS (CSV injection). Numbers are
 * written as numbers.
 */
export function csvCell(value: Cell): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  let text = value;
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/** UTF-8 with a byte order mark: without it Excel in China reads the file as GBK and the Chinese is garbled. */
export function toCsv(table: ExportTable): Buffer {
  const lines = [table.headers, ...table.rows].map((row) => row.map(csvCell).join(','));
  return Buffer.from(`\uFEFF${lines.join('\r\n')}\r\n`, 'utf8');
}

/**
 * One sheet per table. Text goes in as text cells (shared strings), never as formulas, so an opinion that
 * starts with `=` stays what it is without an apostrophe.
 */
export async function toXlsx(
  tables: ExportTable[],
  filter: ReportFilter,
  lang: ExportLang,
  names: { campus?: string; department?: string } = {},
): Promise<Buffer> {
  const w = WORDS[lang];
  const sheets: Array<{ sheet: string; data: SheetData; columns: { width: number }[]; stickyRowsCount: number }> = tables.map((t) => ({
    sheet: t.title.replace(/[[\]:*?/\\]/g, ' ').slice(0, 31),
    data: [
      t.headers.map((value) => ({ value, fontWeight: 'bold' as const })),
      ...t.rows.map((row) => row.map((value) => (value === null ? null : { value, type: typeof value === 'number' ? Number : String }))),
    ],
    columns: t.headers.map((h, i) => ({ width: Math.max(10, Math.min(40, Math.max(h.length * 2, ...t.rows.map((r) => String(r[i] ?? '').length + 2)))) })),
    stickyRowsCount: 1,
  }));
  // The range and scope as a last sheet, so a forwarded file says what it covers.
  sheets.push({
    sheet: lang === 'en' ? 'Filter' : '筛选条件',
    data: [
      [{ value: lang === 'en' ? 'From' : '开始日期', fontWeight: 'bold' as const }, { value: filter.from, type: String }],
      [{ value: lang === 'en' ? 'To' : '结束日期', fontWeight: 'bold' as const }, { value: filter.to, type: String }],
      [{ value: w.campus, fontWeight: 'bold' as const }, { value: filter.campusId === null ? w.any : (names.campus ?? String(filter.campusId)), type: String }],
      [
        { value: w.department, fontWeight: 'bold' as const },
        { value: filter.departmentId === null ? w.any : (names.department ?? String(filter.departmentId)), type: String },
      ],
    ],
    columns: [{ width: 14 }, { width: 14 }],
    stickyRowsCount: 0,
  });
  return writeXlsxFile(sheets).toBuffer();
}
