/**
 * The watch-list warning (server/watchlist) as staff, admins and guards see it. Its texts live here, not in the
 * shared table, so that the visitor bundle does not carry them (a visitor never sees them).
 */
import { h } from './dom.ts';
import { currentLang } from './i18n.ts';

export interface WatchEntryHit {
  id: number;
  kind: 'id_number' | 'plate' | 'name';
  reason: string;
  mode: string;
  /** A companion of a group visit (never his ID number). */
  person?: { role: 'companion'; name: string; index: number };
}

const TEXT = {
  zh: {
    kinds: { id_number: '身份证号', plate: '车牌号', name: '姓名' },
    review: '关注名单提示：该访客（{kinds}）在关注名单中，请审慎审核，必要时联系保卫处。',
    gate: '注意：该访客（{kinds}）在关注名单中，请核实身份并联系保卫处。',
    reason: '原因：',
    companion: '同行人员 {name}',
  },
  en: {
    kinds: { id_number: 'ID number', plate: 'plate', name: 'name' },
    review: 'Watch list: this visitor ({kinds}) is on the watch list. Review with care and consult the security office if needed.',
    gate: 'Caution: this visitor ({kinds}) is on the watch list. Check the identity and call the security office.',
    reason: 'Reason: ',
    companion: 'Companion {name}',
  },
};

/** A warning box listing the entries hit with their reasons; `where` picks the review or the gate sentence. */
export function watchWarningBox(entries: WatchEntryHit[], where: 'review' | 'gate', id: string): HTMLElement {
  const tx = TEXT[currentLang() === 'en' ? 'en' : 'zh'];
  const kinds = [...new Set(entries.map((e) => tx.kinds[e.kind] ?? e.kind))].join(currentLang() === 'en' ? ', ' : '、');
  return h(
    'div',
    { class: 'alert alert-danger', role: 'alert', id, dataset: { entries: entries.map((e) => e.id).join(',') } },
    h('div', { class: 'fw-semibold' }, tx[where].replace('{kinds}', kinds)),
    h('ul', { class: 'mb-0 mt-1' }, ...entries.map((e) => h('li', null, `${e.person ? `${tx.companion.replace('{name}', e.person.name)} · ` : ''}${tx.kinds[e.kind] ?? e.kind} · ${tx.reason}${e.reason}`))),
  );
}
