/** The audit log: who changed what and when, with the (masked) before/after. */
import { get } from '../lib/api.ts';
import { clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { at } from './i18n.ts';
import type { View } from './main.ts';
import { failed, go, labelled, panel, table } from './ui.ts';

const json = (v: unknown) => (v === null || v === undefined ? '' : h('pre', { class: 'vf-audit-json' }, JSON.stringify(v, null, 1)));

export const auditLog: View = async (main, _p, query) => {
  const page = Math.max(1, Number(query.get('page')) || 1);
  const filters = h('form', { class: 'row g-2 align-items-end mb-3', id: 'audit-filters' });
  const input = (name: string, type = 'text', placeholder = '') => h('input', { class: 'form-control form-control-sm', name, type, placeholder, value: query.get(name) ?? '' });
  filters.append(
    labelled(at('audit.action'), input('action', 'text', 'process. / staff. / settings.')),
    labelled(at('audit.target'), input('targetType')),
    labelled('起', input('from', 'date')),
    labelled('止', input('to', 'date')),
    h('div', { class: 'col-md-auto' }, h('button', { type: 'submit', class: 'btn btn-sm btn-outline-primary' }, at('common.filter'))),
  );
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(`#/audit?${new URLSearchParams([...new FormData(filters)].map(([k, v]) => [k, String(v)] as [string, string]).filter(([, v]) => v))}`);
  });
  const body = h('div', null, loading('正在加载…'));
  main.append(panel(at('audit.title'), filters, body));
  const params = new URLSearchParams({ page: String(page) });
  for (const k of ['action', 'targetType', 'targetId', 'actorId', 'from', 'to']) if (query.get(k)) params.set(k, query.get(k)!);
  try {
    const { entries, total } = await get<{ entries: any[]; total: number }>(`/api/admin/audit?${params}`);
    const rows = entries.map((e) =>
      h('tr', { dataset: { action: e.action } }, h('td', { class: 'text-nowrap' }, fmtDateTime(e.at)), h('td', null, e.actor?.name ?? at('audit.system')), h('td', null, h('code', null, e.action)), h('td', null, `${e.targetType ?? ''} ${e.targetId ?? ''}`), h('td', null, json(e.before)), h('td', null, json(e.after))),
    );
    const q = (n: number) => {
      const next = new URLSearchParams(query);
      next.set('page', String(n));
      return `#/audit?${next}`;
    };
    const pages = Math.max(1, Math.ceil(total / Math.max(entries.length, 1)));
    clear(body).append(
      table([at('audit.at'), at('audit.actor'), at('audit.action'), at('audit.target'), at('audit.before'), at('audit.after')], rows, { id: 'audit-table' }),
      h('div', { class: 'd-flex gap-2 mt-2 small align-items-center' }, page > 1 ? h('a', { class: 'btn btn-sm btn-outline-secondary', href: q(page - 1) }, at('common.prev')) : null, `${total}`, entries.length && page < pages ? h('a', { class: 'btn btn-sm btn-outline-secondary', href: q(page + 1) }, at('common.next')) : null),
    );
  } catch (err) {
    failed(body, err);
  }
};
