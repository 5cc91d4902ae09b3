/**
 * The Reports page's words. Apart from the admin table (admin/i18n.ts) because the staff page (leaders) opens
 * the same screen: it then loads these and not the admin page's. Same language switch (lib/i18n.ts).
 */
import { currentLang } from '../lib/i18n.ts';

const zh = {
  title: '统计报表',
  deptTitle: '统计报表（{department}）',
  help: '到访量与未到访按到访日期统计；审批用时与否决原因按审批环节开始的日期统计；入校高峰按门岗登记入校的时间（校区时间）统计。',
  from: '开始日期',
  to: '结束日期',
  campus: '校区',
  department: '部门',
  all: '全部',
  apply: '查询',
  last30: '近30天',
  last365: '近一年',
  exportXlsx: '导出 Excel（全部报表）',
  exportCsv: '导出 CSV',
  exported: '已导出 {file}',
  loading: '正在统计…',
  noData: '所选范围内没有数据',
  'visits.title': '到访量',
  'visits.total': '申请 {total} 件：通过 {approved}，未通过 {refused}，过期 {expired}，撤回 {withdrawn}，审核中 {pending}',
  'visits.byCampus': '按校区',
  'visits.byDepartment': '按部门',
  'status.approved': '已通过',
  'status.refused': '未通过',
  'status.expired': '已过期',
  'status.withdrawn': '已撤回',
  'status.pending': '审核中',
  total: '合计',
  'times.title': '审批用时',
  'times.step': '环节',
  'times.count': '完成数',
  'times.p50': '中位数',
  'times.p90': 'P90',
  'times.submitToEnd': '提交至办结',
  'times.hours': '小时',
  'refusals.title': '否决原因',
  'refusals.total': '共否决 {total} 件',
  'refusals.reason': '原因',
  'refusals.count': '件数',
  'refusals.share': '占比',
  'refusals.other': '其他',
  'refusals.noOpinion': '（未填写意见）',
  'refusals.stock': '常用意见',
  'noShows.title': '未到访',
  'noShows.total': '已通过且到访时段已过 {approved} 件，未入校 {noShows} 件（{rate}）',
  'noShows.approved': '已通过',
  'noShows.noShows': '未到访',
  'noShows.rate': '未到访率',
  'peak.title': '入校高峰时段',
  'peak.total': '入校 {total} 人次，高峰 {hour}',
  'peak.entries': '入校人次',
  'peak.hour': '时段',
  'unit.minutes': '{m} 分钟',
  'unit.hoursMinutes': '{h} 小时 {m} 分',
  'unit.days': '{d} 天 {h} 小时',
};

type ReportKey = keyof typeof zh;

const en: Partial<Record<ReportKey, string>> = {
  title: 'Reports',
  deptTitle: 'Reports ({department})',
  help: 'Visits and no-shows count by visit date; review times and refusals by the day the review step started; peak hours by the time the gate recorded the entry (campus time).',
  from: 'From',
  to: 'To',
  campus: 'Campus',
  department: 'Department',
  all: 'All',
  apply: 'Show',
  last30: 'Last 30 days',
  last365: 'Last year',
  exportXlsx: 'Export Excel (all reports)',
  exportCsv: 'Export CSV',
  exported: 'Exported {file}',
  loading: 'Counting…',
  noData: 'No data in this range',
  'visits.title': 'Visits',
  'visits.total': '{total} applications: {approved} approved, {refused} refused, {expired} expired, {withdrawn} withdrawn, {pending} under review',
  'visits.byCampus': 'By campus',
  'visits.byDepartment': 'By department',
  'status.approved': 'Approved',
  'status.refused': 'Refused',
  'status.expired': 'Expired',
  'status.withdrawn': 'Withdrawn',
  'status.pending': 'Under review',
  total: 'Total',
  'times.title': 'Review times',
  'times.step': 'Step',
  'times.count': 'Completed',
  'times.p50': 'Median',
  'times.p90': 'P90',
  'times.submitToEnd': 'Submission to end',
  'times.hours': 'hours',
  'refusals.title': 'Refusal reasons',
  'refusals.total': '{total} refusals',
  'refusals.reason': 'Reason',
  'refusals.count': 'Count',
  'refusals.share': 'Share',
  'refusals.other': 'Other',
  'refusals.noOpinion': '(no opinion given)',
  'refusals.stock': 'Stock opinion',
  'noShows.title': 'No-shows',
  'noShows.total': '{approved} approved with the window passed, {noShows} never entered ({rate})',
  'noShows.approved': 'Approved',
  'noShows.noShows': 'No-shows',
  'noShows.rate': 'No-show rate',
  'peak.title': 'Peak hours',
  'peak.total': '{total} entries, peak {hour}',
  'peak.entries': 'Entries',
  'peak.hour': 'Hour',
  'unit.minutes': '{m} min',
  'unit.hoursMinutes': '{h} h {m} min',
  'unit.days': '{d} d {h} h',
};

const STEP_EN: Record<string, string> = { 'host-review': 'Host review', 'leader-review': 'Leader review' };

export function rt(key: ReportKey, params: Record<string, string | number> = {}): string {
  const text = (currentLang() === 'en' ? en[key] : undefined) ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in params ? String(params[k]) : `{${k}}`));
}

/** A step's name: the BPMN's (Chinese) unless English is on and the step is one of the bundled process's. */
export function stepName(step: string, name: string): string {
  return currentLang() === 'en' ? (STEP_EN[step] ?? name) : name;
}

export function duration(seconds: number | null): string {
  if (seconds === null) return '–';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return rt('unit.minutes', { m: minutes });
  if (minutes < 48 * 60) return rt('unit.hoursMinutes', { h: Math.floor(minutes / 60), m: minutes % 60 });
  return rt('unit.days', { d: Math.floor(minutes / 1440), h: Math.floor((minutes % 1440) / 60) });
}

export const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
