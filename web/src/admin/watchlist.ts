/** The watch list (deny list): entries by ID number, plate or name; add and deactivate (both audited). */
import { errorMessage, get, post } from '../lib/api.ts';
import { busy, clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { type AdminKey, at } from './i18n.ts';
import type { View } from './main.ts';
import { button, failed, go, labelled, needsLogin, panel, say, table } from './ui.ts';

const KINDS = ['id_number', 'plate', 'name'] as const;
const MODES = ['review', 'refuse'] as const;

export const watchList: View = async (main, _p, query) => {
  const page = Math.max(1, Number(query.get('page')) || 1);
  const showInactive = query.get('all') === '1';
  const slot = h('div', { id: 'watch-messages' });

  const kind = h('select', { class: 'form-select form-select-sm', name: 'kind', id: 'watch-kind' }, ...KINDS.map((k) => h('option', { value: k }, at(`watch.kind.${k}` as AdminKey))));
  const idNumber = h('input', { class: 'form-control form-control-sm', name: 'idNumber', id: 'watch-id-number', maxlength: 18, autocomplete: 'off' });
  const plate = h('input', { class: 'form-control form-control-sm', name: 'plate', id: 'watch-plate', maxlength: 12, placeholder: '京A12345', autocomplete: 'off' });
  const name = h('input', { class: 'form-control form-control-sm', name: 'name', id: 'watch-name', maxlength: 50, autocomplete: 'off' });
  const organisation = h('input', { class: 'form-control form-control-sm', name: 'organisation', id: 'watch-organisation', maxlength: 100, autocomplete: 'off' });
  const reason = h('input', { class: 'form-control form-control-sm', name: 'reason', id: 'watch-reason', maxlength: 500, required: true });
  const mode = h('select', { class: 'form-select form-select-sm', name: 'mode', id: 'watch-mode' }, ...MODES.map((m) => h('option', { value: m }, at(`watch.mode.${m}` as AdminKey))));
  const idBox = labelled(at('watch.idNumber'), idNumber);
  const plateBox = labelled(at('watch.plate'), plate);
  const nameBox = labelled(at('watch.name'), name);
  const orgBox = labelled(at('watch.organisation'), organisation);
  const showFields = () => {
    idBox.hidden = kind.value !== 'id_number';
    plateBox.hidden = kind.value !== 'plate';
    nameBox.hidden = orgBox.hidden = kind.value !== 'name';
  };
  kind.addEventListener('change', showFields);
  showFields();
  const addBtn = h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'watch-add' }, at('watch.add'));
  const form = h(
    'form',
    { class: 'row g-2 align-items-end', id: 'watch-form', novalidate: true },
    labelled(at('watch.kind'), kind, 'col-md-2'),
    idBox,
    plateBox,
    nameBox,
    orgBox,
    labelled(at('watch.reason'), reason),
    labelled(at('watch.mode'), mode, 'col-md-3'),
    h('div', { class: 'col-md-auto' }, addBtn),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void busy(addBtn, async () => {
      const body: Record<string, string> = { kind: kind.value, reason: reason.value, mode: mode.value };
      if (kind.value === 'id_number') body.idNumber = idNumber.value.trim();
      if (kind.value === 'plate') body.plate = plate.value;
      if (kind.value === 'name') Object.assign(body, { name: name.value, organisation: organisation.value });
      try {
        await post('/api/admin/watch-list', body);
        for (const input of [idNumber, plate, name, organisation, reason]) input.value = '';
        say(slot, at('watch.added'));
        await load();
      } catch (err) {
        if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
      }
    });
  });

  // CSV import: all rows or none; the server's report names each bad row.
  const csvText = h('textarea', { class: 'form-control form-control-sm font-monospace', rows: 4, id: 'watch-csv', placeholder: '类型,值,单位,原因,处理方式\n车牌号,京A12345,,多次冲卡,转安全审核' });
  const csvFile = h('input', { type: 'file', accept: '.csv,text/csv', class: 'form-control form-control-sm w-auto', id: 'watch-csv-file' });
  csvFile.addEventListener('change', () => void csvFile.files?.[0]?.text().then((text) => (csvText.value = text)));
  const csvReport = h('div', { id: 'watch-csv-report' });
  const csvBtn = button(
    at('watch.importRun'),
    () =>
      void busy(csvBtn, async () => {
        try {
          const result = await post<any>('/api/admin/watch-list/import', { csv: csvText.value });
          say(csvReport, at('watch.imported', { count: result.imported }));
          csvText.value = '';
          await load();
        } catch (err) {
          if (needsLogin(err)) return;
          say(csvReport, errorMessage(err), 'danger');
          const rows: any[] = Array.isArray((err as any)?.details) ? (err as any).details : [];
          if (rows.length) csvReport.append(h('ul', { class: 'small text-danger' }, ...rows.map((r) => h('li', null, `${r.row}: ${r.message}`))));
        }
      }),
    'btn-outline-primary',
    { id: 'watch-csv-import' },
  );
  const csvBox = h(
    'details',
    { class: 'mt-3' },
    h('summary', { class: 'small' }, at('watch.import')),
    h('p', { class: 'small text-secondary mt-2 mb-1' }, at('watch.importHelp')),
    h('div', { class: 'd-flex gap-2 mb-2' }, csvFile),
    csvText,
    h('div', { class: 'mt-2' }, csvBtn),
    csvReport,
  );

  const toggle = h('input', { type: 'checkbox', class: 'form-check-input', id: 'watch-all', checked: showInactive });
  toggle.addEventListener('change', () => go(toggle.checked ? '#/watch-list?all=1' : '#/watch-list'));
  const body = h('div', null, loading('正在加载…'));
  main.append(
    panel(
      at('watch.title'),
      h('p', { class: 'small text-secondary' }, at('watch.help')),
      slot,
      form,
      csvBox,
      h('div', { class: 'form-check my-3' }, toggle, h('label', { class: 'form-check-label', for: 'watch-all' }, at('watch.showInactive'))),
      body,
    ),
  );

  const subject = (e: any) => (e.kind === 'id_number' ? e.idNumber : e.kind === 'plate' ? e.plate : [e.name, e.organisation].filter(Boolean).join(' · '));
  async function load() {
    try {
      const params = new URLSearchParams({ page: String(page), pageSize: '50', ...(showInactive ? {} : { active: 'true' }) });
      const { entries, total } = await get<{ entries: any[]; total: number }>(`/api/admin/watch-list?${params}`);
      const rows = entries.map((e) => {
        const off = button(
          at('common.deactivate'),
          () =>
            void busy(off, async () => {
              try {
                await post(`/api/admin/watch-list/${e.id}/deactivate`);
                say(slot, at('watch.deactivated'));
                await load();
              } catch (err) {
                if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
              }
            }),
          'btn-outline-danger',
          { disabled: !e.active },
        );
        return h(
          'tr',
          { dataset: { id: String(e.id), active: String(e.active) } },
          h('td', null, at(`watch.kind.${e.kind}` as AdminKey)),
          h('td', { class: 'vf-watch-subject' }, subject(e)),
          h('td', null, e.reason),
          h('td', null, at(`watch.mode.${e.mode}` as AdminKey)),
          h('td', null, e.active ? at('common.active') : at('common.inactive')),
          h('td', null, e.createdBy?.name ?? ''),
          h('td', { class: 'text-nowrap' }, fmtDateTime(e.createdAt)),
          h('td', null, e.active ? off : ''),
        );
      });
      const q = (n: number) => `#/watch-list?${new URLSearchParams({ page: String(n), ...(showInactive ? { all: '1' } : {}) })}`;
      clear(body).append(
        entries.length
          ? table([at('watch.kind'), at('watch.subject'), at('watch.reason'), at('watch.mode'), at('common.status'), at('watch.createdBy'), at('watch.createdAt'), at('common.actions')], rows, { id: 'watch-table' })
          : h('p', { class: 'text-secondary' }, at('watch.empty')),
        h(
          'div',
          { class: 'd-flex gap-2 mt-2 small align-items-center' },
          page > 1 ? h('a', { class: 'btn btn-sm btn-outline-secondary', href: q(page - 1) }, at('common.prev')) : null,
          `${total}`,
          page * 50 < total ? h('a', { class: 'btn btn-sm btn-outline-secondary', href: q(page + 1) }, at('common.next')) : null,
        ),
      );
    } catch (err) {
      failed(body, err);
    }
  }
  await load();
};
