/**
 * Who is on campus now (GET /api/gate/on-campus), as the guard's phone view and the security office's admin page
 * show it. Its words live here rather than in the shared table, so the visitor bundle does not carry them.
 */
import { h } from './dom.ts';
import { currentLang } from './i18n.ts';

export interface GateRef {
  id: number | null;
  name: string;
}

export interface OnCampusRow {
  passId: number;
  applicationId: number;
  name: string;
  mobile: string;
  organisation: string;
  department: { id: number; name: string };
  campus: { id: number; name: string };
  gate: GateRef;
  enteredAt: string;
  plateNumber: string | null;
  validUntil: string;
  passStatus: 'active' | 'revoked';
  overstay: boolean;
  overstayMinutes: number | null;
}

export interface GateCount extends GateRef {
  active: boolean;
  total: number;
  overstays: number;
}

export interface CampusCount {
  id: number;
  name: string;
  total: number;
  overstays: number;
  gates: GateCount[];
}

export interface OnCampusAnswer {
  at: string;
  scope: { campusId: number | null };
  summary: { total: number; overstays: number; campuses: CampusCount[] };
  visitors: OnCampusRow[];
  total: number;
  truncated: boolean;
}

/** How often the lists fetch again by themselves. */
export const REFRESH_SECONDS = 30;

const zh = {
  title: '在校访客',
  nav: '在校访客',
  check: '核验',
  inside: '在校',
  overstays: '超时未离校',
  overstayOnly: '只看超时未离校',
  showAll: '显示全部在校访客',
  none: '当前没有在校访客',
  noOverstays: '没有超时未离校的访客',
  unknownGate: '未知门岗',
  allCampuses: '全部校区',
  allGates: '全部门岗',
  campus: '校区',
  gate: '入校门岗',
  visitor: '访客',
  mobile: '手机号',
  organisation: '单位',
  department: '到访单位',
  enteredAt: '入校时间',
  plate: '车牌号',
  validUntil: '通行截止',
  state: '状态',
  onTime: '在有效期内',
  revoked: '通行码已作废',
  overdue: '超时 {time}',
  hours: '{h}小时{m}分',
  minutes: '{m}分钟',
  updated: '数据时间 {time}，每{seconds}秒自动刷新',
  asOf: '数据时间 {time}',
  matching: '符合条件：{n} 人',
  refresh: '刷新',
  autoRefresh: '自动刷新',
  recordExit: '登记离校',
  confirmExit: '确认 {name}（{org}）已离校？将在{gate}登记离校并记入审计日志。',
  exitRecorded: '已登记离校：{name}',
  atGate: '本门岗',
  truncated: '仅显示前 {shown} 条（共 {total} 条），请用筛选缩小范围',
  scoped: '仅显示本校区（{campus}）',
  people: '{n} 人',
  overstayCount: '超时 {n} 人',
};

const en: Record<keyof typeof zh, string> = {
  title: 'On campus now',
  nav: 'On campus',
  check: 'Check',
  inside: 'On campus',
  overstays: 'Overstays',
  overstayOnly: 'Overstays only',
  showAll: 'Show everyone on campus',
  none: 'Nobody is on campus',
  noOverstays: 'No overstays',
  unknownGate: 'Unknown gate',
  allCampuses: 'All campuses',
  allGates: 'All gates',
  campus: 'Campus',
  gate: 'Entry gate',
  visitor: 'Visitor',
  mobile: 'Mobile',
  organisation: 'Organisation',
  department: 'Visiting',
  enteredAt: 'Entered',
  plate: 'Plate',
  validUntil: 'Pass ends',
  state: 'State',
  onTime: 'Within the window',
  revoked: 'Pass revoked',
  overdue: '{time} overdue',
  hours: '{h} h {m} min',
  minutes: '{m} min',
  updated: 'As of {time}; refreshes every {seconds} s',
  asOf: 'As of {time}',
  matching: '{n} matching',
  refresh: 'Refresh',
  autoRefresh: 'Auto refresh',
  recordExit: 'Record exit',
  confirmExit: 'Has {name} ({org}) left? The exit is recorded at {gate} and written to the audit log.',
  exitRecorded: 'Exit recorded: {name}',
  atGate: 'this gate',
  truncated: 'Showing the first {shown} of {total}; narrow it with the filters',
  scoped: 'Your campus only ({campus})',
  people: '{n}',
  overstayCount: '{n} overdue',
};

export type OnCampusKey = keyof typeof zh;

export function oc(key: OnCampusKey, params: Record<string, string | number> = {}): string {
  const text = (currentLang() === 'en' ? en : zh)[key];
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in params ? String(params[k]) : `{${k}}`));
}

/** "超时 2小时5分" / "2 h 5 min overdue". */
export function overdueText(minutes: number): string {
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return oc('overdue', { time: h > 0 ? oc('hours', { h, m }) : oc('minutes', { m }) });
}

/** A gate as recorded; an entry recorded without one reads 未知门岗 / Unknown gate. */
export function gateLabel(gate: GateRef): string {
  return gate.id === null ? oc('unknownGate') : gate.name;
}

/** The red badge of an overstay, or the quiet state of a visitor within the window. */
export function stateBadge(row: OnCampusRow): HTMLElement {
  if (row.overstay && row.overstayMinutes !== null) {
    return h('span', { class: 'badge text-bg-danger vf-overdue', dataset: { minutes: String(row.overstayMinutes) } }, overdueText(row.overstayMinutes));
  }
  return h('span', { class: `badge ${row.passStatus === 'revoked' ? 'text-bg-warning' : 'text-bg-light text-secondary'}` }, row.passStatus === 'revoked' ? oc('revoked') : oc('onTime'));
}
