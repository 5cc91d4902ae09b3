/** The SMS and WeChat outboxes side by side (tabs): recent messages with status, attempts and the last error; recipients masked. */
import { get } from '../lib/api.ts';
import { clear, empty, fmtDateTime, h } from '../lib/dom.ts';
import { type AdminKey, at } from './i18n.ts';
import type { View } from './main.ts';
import { button, go, table } from './ui.ts';

const STATUSES = ['pending', 'sending', 'sent', 'failed'] as const;
const PAGE_SIZE = 20;

const statusBadge = (status: string) =>
  h(
    'span',
    { class: `badge ${status === 'sent' ? 'text-bg-success' : status === 'failed' ? 'text-bg-danger' : 'text-bg-secondary'}`, dataset: { status } },
    at(`msg.status.${status}` as AdminKey),
  );

const errorCell = (code: string | null, text: string | null) =>
  h('td', { class: 'small text-break vf-msg-error' }, code ? h('code', { class: 'me-1' }, code) : null, text && code ? text.replace(/^[A-Z_]+(?: \([^)]*\))?:\s*/, '') : (text ?? ''));

export const messages: View = async (main, _p, query) => {
  const tab = query.get('tab') === 'wechat' ? 'wechat' : 'sms';
  const status = STATUSES.find((s) => s === query.get('status'));
  const page = Math.max(1, Number(query.get('page')) || 1);
  const link = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams({ tab, ...(status ? { status } : {}), page: String(page) });
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) next.delete(k);
      else next.set(k, v);
    }
    return `#/messages?${next}`;
  };
  const params = new URLSearchParams({ page: String(page), pageSize: String(PAGE_SIZE), ...(status ? { status } : {}) });

  let rows: HTMLTableRowElement[];
  let headers: string[];
  let total: number;
  if (tab === 'sms') {
    const data = await get<{ messages: any[]; total: number }>(`/api/admin/sms?${params}`);
    total = data.total;
    headers = [at('msg.createdAt'), at('msg.to'), at('msg.template'), at('common.status'), at('msg.attempts'), at('msg.lastError')];
    rows = data.messages.map((m) =>
      h(
        'tr',
        { dataset: { id: String(m.id), status: m.status } },
        h('td', { class: 'text-nowrap small' }, fmtDateTime(m.createdAt)),
        h('td', { class: 'text-nowrap' }, m.to),
        h('td', null, at(`sms.${m.template}` as AdminKey)),
        h('td', null, statusBadge(m.status)),
        h('td', null, String(m.attempts)),
        errorCell(m.lastErrorCode, m.lastError),
      ),
    );
  } else {
    const data = await get<{ notices: any[]; total: number }>(`/api/admin/wechat?${params}`);
    total = data.total;
    headers = [at('msg.createdAt'), at('msg.staff'), at('msg.template'), at('common.status'), at('msg.attempts'), at('msg.lastError')];
    rows = data.notices.map((n) =>
      h(
        'tr',
        { dataset: { id: String(n.id), status: n.status } },
        h('td', { class: 'text-nowrap small' }, fmtDateTime(n.createdAt)),
        h('td', { class: 'text-nowrap' }, n.staffName ?? `#${n.staffId}`, h('div', { class: 'small text-secondary font-monospace' }, n.to)),
        h('td', null, at(`sms.${n.notice}` as AdminKey)),
        h('td', null, statusBadge(n.status)),
        h('td', null, String(n.attempts)),
        errorCell(n.lastErrorCode, n.lastError),
      ),
    );
  }

  const tabs = h(
    'ul',
    { class: 'nav nav-tabs mb-2' },
    ...(['sms', 'wechat'] as const).map((t) =>
      h('li', { class: 'nav-item' }, h('a', { class: `nav-link${t === tab ? ' active' : ''}`, href: `#/messages?tab=${t}`, id: `msg-tab-${t}`, 'aria-current': t === tab ? 'page' : undefined }, at(`msg.tab.${t}` as AdminKey))),
    ),
  );
  const filter = h(
    'select',
    { class: 'form-select form-select-sm w-auto', id: 'msg-status' },
    h('option', { value: '' }, at('common.all')),
    ...STATUSES.map((s) => h('option', { value: s, selected: s === status }, at(`msg.status.${s}` as AdminKey))),
  );
  filter.addEventListener('change', () => go(link({ status: filter.value || undefined, page: '1' })));
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const pager = h(
    'div',
    { class: 'd-flex align-items-center gap-2 mt-2' },
    button(at('common.prev'), () => go(link({ page: String(page - 1) })), 'btn-outline-secondary', { disabled: page <= 1 }),
    h('span', { class: 'small' }, at('common.page', { page, pages, total })),
    button(at('common.next'), () => go(link({ page: String(page + 1) })), 'btn-outline-secondary', { disabled: page >= pages }),
  );
  clear(main).append(
    h('h1', { class: 'h5 mb-1' }, at('nav.messages')),
    h('p', { class: 'text-secondary small' }, at(tab === 'sms' ? 'msg.smsHelp' : 'msg.wechatHelp')),
    tabs,
    h('div', { class: 'd-flex gap-2 align-items-center mb-2' }, h('label', { class: 'small', for: 'msg-status' }, at('common.status')), filter),
    rows.length ? table(headers, rows, { id: 'msg-table' }) : empty(at('msg.empty')),
    pager,
  );
};
