import { h } from './dom.ts';
import { currentLang, statusText } from './i18n.ts';

/** A definition list; empty values leave their row out. */
export function kv(rows: [string, Node | string | null | undefined][]) {
  return h(
    'dl',
    { class: 'vf-kv' },
    ...rows.filter(([, v]) => v !== null && v !== undefined && v !== '').flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v as Node | string)]),
  );
}

export function statusBadge(status: string, text?: string) {
  const color =
    ({ approved: 'success', refused: 'danger', expired: 'secondary', withdrawn: 'secondary', pending: 'primary', submitted: 'info', open: 'primary', completed: 'success', canceled: 'secondary' } as Record<string, string>)[status] ?? 'secondary';
  return h('span', { class: `badge text-bg-${color}`, dataset: { status } }, currentLang() === 'zh' && text ? text : statusText(status));
}

export const visitWindow = (a: { visitDate?: string | null; visitStartTime?: string | null; visitEndTime?: string | null }) =>
  `${a.visitDate ?? ''} ${a.visitStartTime ?? ''}–${a.visitEndTime ?? ''}`;
