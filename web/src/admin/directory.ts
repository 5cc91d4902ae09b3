/** Directory: campuses (opening hours), departments, staff and roles, CSV import with the per-row report. */
import { ApiError, errorMessage, get, post, put } from '../lib/api.ts';
import { showFieldErrors } from '../lib/app.ts';
import { busy, clear, h, loading } from '../lib/dom.ts';
import { at } from './i18n.ts';
import type { View } from './main.ts';
import { button, download, failed, go, labelled, needsLogin, panel, roleName, say, table } from './ui.ts';

const TABS = ['campuses', 'gates', 'departments', 'staff', 'import'] as const;
type Tab = (typeof TABS)[number];
const ROLES = ['host', 'leader', 'admin', 'guard', 'security'];

interface Field {
  name: string;
  label: string;
  type?: 'text' | 'time' | 'select' | 'roles' | 'password';
  options?: [string, string][];
  required?: boolean;
}

/**
 * A create/edit form: empty for "new", filled for "edit". Field errors from the API land under their inputs.
 */
function entityForm(fields: Field[], values: Record<string, any> | null, onSave: (data: Record<string, any>) => Promise<void>, onCancel: () => void) {
  const slot = h('div', { class: 'col-12' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, at('common.save'));
  const controls = fields.map((f) => {
    let control: HTMLElement;
    if (f.type === 'select') {
      control = h('select', { class: 'form-select form-select-sm', name: f.name, id: `d-${f.name}` }, ...(f.options ?? []).map(([v, l]) => h('option', { value: v, selected: String(values?.[f.name] ?? '') === v }, l)));
    } else if (f.type === 'roles') {
      const have: string[] = values?.roles ?? [];
      control = h(
        'div',
        { id: `d-${f.name}`, class: 'pt-1' },
        ...ROLES.map((r) =>
          h(
            'label',
            { class: 'form-check form-check-inline mb-0' },
            h('input', { class: 'form-check-input', type: 'checkbox', name: 'roles', value: r, checked: have.includes(r) }),
            h('span', { class: 'form-check-label' }, roleName(r)),
          ),
        ),
      );
    } else {
      control = h('input', { class: 'form-control form-control-sm', name: f.name, id: `d-${f.name}`, type: f.type ?? 'text', value: values?.[f.name] ?? '', required: f.required });
    }
    return h('div', { class: 'col-md', dataset: { field: f.name } }, h('label', { class: 'form-label small mb-1', for: `d-${f.name}` }, f.label), control, h('div', { class: 'invalid-feedback' }));
  });
  const form = h(
    'form',
    { class: 'row g-2 align-items-end mb-3 p-2 border rounded bg-light', novalidate: true, id: 'dir-form' },
    ...controls,
    h('div', { class: 'col-md-auto d-flex gap-1' }, submit, h('button', { type: 'button', class: 'btn btn-outline-secondary btn-sm', onclick: onCancel }, at('common.cancel'))),
    slot,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data: Record<string, any> = {};
    for (const f of fields) {
      if (f.type === 'roles') data.roles = [...form.querySelectorAll<HTMLInputElement>('input[name=roles]:checked')].map((i) => i.value);
      else data[f.name] = (form.querySelector<HTMLInputElement>(`[name="${f.name}"]`)?.value ?? '').trim();
    }
    clear(slot);
    void busy(submit, async () => {
      try {
        await onSave(data);
      } catch (err) {
        if (needsLogin(err)) return;
        if (err instanceof ApiError) showFieldErrors(form, err.fieldErrors);
        say(slot, errorMessage(err), 'danger');
      }
    });
  });
  return form;
}

function activeBadge(active: boolean) {
  return h('span', { class: `badge ${active ? 'text-bg-success' : 'text-bg-secondary'}` }, active ? at('common.active') : at('common.inactive'));
}

export const directory: View = async (main, _p, query) => {
  const tab: Tab = (TABS as readonly string[]).includes(query.get('tab') ?? '') ? (query.get('tab') as Tab) : 'campuses';
  const labels: Record<Tab, string> = { campuses: at('dir.campuses'), gates: at('dir.gates'), departments: at('dir.departments'), staff: at('dir.staff'), import: at('dir.import') };
  const body = h('div', null, loading('正在加载…'));
  main.append(
    h(
      'section',
      { class: 'card vf-card' },
      h(
        'div',
        { class: 'card-body' },
        h('ul', { class: 'nav nav-tabs mb-3' }, ...TABS.map((x) => h('li', { class: 'nav-item' }, h('a', { class: `nav-link${x === tab ? ' active' : ''}`, href: `#/directory?tab=${x}`, dataset: { tab: x } }, labels[x])))),
        body,
      ),
    ),
  );
  const reload = () => go(`#/directory?${query}`);
  try {
    if (tab === 'campuses') await campuses(body, reload);
    else if (tab === 'gates') await gatesTab(body, reload, query);
    else if (tab === 'departments') await departments(body, reload, query);
    else if (tab === 'staff') await staff(body, reload, query);
    else await csvImport(body);
  } catch (err) {
    failed(body, err);
  }
};

async function campuses(body: HTMLElement, reload: () => void) {
  const { campuses: list } = await get<{ campuses: any[] }>('/api/admin/campuses');
  const formSlot = h('div');
  const slot = h('div');
  const fields: Field[] = [
    { name: 'code', label: at('common.code'), required: true },
    { name: 'name', label: at('common.name'), required: true },
    { name: 'opensAt', label: at('dir.opensAt'), type: 'time', required: true },
    { name: 'closesAt', label: at('dir.closesAt'), type: 'time', required: true },
  ];
  const edit = (c: any | null) => {
    clear(formSlot).append(
      entityForm(fields, c, async (data) => {
        if (c) await put(`/api/admin/campuses/${c.id}`, data);
        else await post('/api/admin/campuses', data);
        reload();
      }, () => clear(formSlot)),
    );
  };
  const toggle = async (c: any) => {
    try {
      await post(`/api/admin/campuses/${c.id}/${c.active ? 'deactivate' : 'activate'}`);
      reload();
    } catch (err) {
      if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
    }
  };
  const rows = list.map((c) =>
    h(
      'tr',
      { dataset: { campus: c.code } },
      h('td', null, h('code', null, c.code)),
      h('td', null, c.name),
      h('td', null, `${c.opensAt}–${c.closesAt}`),
      h('td', null, activeBadge(c.active)),
      h(
        'td',
        { class: 'text-nowrap' },
        button(at('common.edit'), () => edit(c), 'btn-outline-primary me-1'),
        button(c.active ? at('common.deactivate') : at('common.activate'), () => void toggle(c), 'btn-outline-secondary me-1'),
        h('a', { class: 'btn btn-sm btn-outline-secondary', href: `/api/admin/campuses/${c.id}/poster.png`, download: `poster-${c.code}.png` }, at('dir.poster')),
      ),
    ),
  );
  clear(body).append(
    h('div', { class: 'mb-2' }, button(at('common.create'), () => edit(null), 'btn-primary', { id: 'dir-new' })),
    formSlot,
    slot,
    table([at('common.code'), at('common.name'), at('dir.hours'), at('common.status'), at('common.actions')], rows, { id: 'dir-table' }),
  );
}

/** The gates of each campus (门岗): a guard picks one on the gate page; a gate stays on its campus (name only). */
async function gatesTab(body: HTMLElement, reload: () => void, query: URLSearchParams) {
  const filterId = query.get('campusId') ?? '';
  const [{ campuses: campusList }, { gates: list }] = await Promise.all([
    get<{ campuses: any[] }>('/api/admin/campuses'),
    get<{ gates: any[] }>(`/api/admin/gates${filterId ? `?campusId=${encodeURIComponent(filterId)}` : ''}`),
  ]);
  const campusName = new Map(campusList.map((c) => [c.id, c.name]));
  const formSlot = h('div');
  const slot = h('div');
  const edit = (g: any | null) => {
    const fields: Field[] = [
      ...(g ? [] : [{ name: 'campusId', label: at('dir.campus'), type: 'select' as const, options: campusList.filter((c) => c.active).map((c): [string, string] => [String(c.id), c.name]) }]),
      { name: 'name', label: at('common.name'), required: true },
    ];
    clear(formSlot).append(
      entityForm(fields, g ?? (filterId ? { campusId: filterId } : null), async (data) => {
        if (g) await put(`/api/admin/gates/${g.id}`, { name: data.name });
        else await post('/api/admin/gates', { campusId: Number(data.campusId), name: data.name });
        reload();
      }, () => clear(formSlot)),
    );
  };
  const toggle = async (g: any) => {
    try {
      await post(`/api/admin/gates/${g.id}/${g.active ? 'deactivate' : 'activate'}`);
      reload();
    } catch (err) {
      if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
    }
  };
  const filter = h('select', { class: 'form-select form-select-sm w-auto', id: 'dir-campus-filter' }, h('option', { value: '' }, at('common.all')), ...campusList.map((c) => h('option', { value: String(c.id), selected: String(c.id) === filterId }, c.name)));
  filter.addEventListener('change', () => go(`#/directory?tab=gates${filter.value ? `&campusId=${filter.value}` : ''}`));
  const rows = list.map((g) =>
    h(
      'tr',
      { dataset: { gate: String(g.id) } },
      h('td', null, campusName.get(g.campusId) ?? g.campusId),
      h('td', null, g.name),
      h('td', null, activeBadge(g.active)),
      h('td', { class: 'text-nowrap' }, button(at('common.edit'), () => edit(g), 'btn-outline-primary me-1'), button(g.active ? at('common.deactivate') : at('common.activate'), () => void toggle(g), 'btn-outline-secondary')),
    ),
  );
  clear(body).append(
    h('p', { class: 'small text-secondary' }, at('dir.gateHelp')),
    h('div', { class: 'd-flex gap-2 mb-2' }, button(at('common.create'), () => edit(null), 'btn-primary', { id: 'dir-new' }), filter),
    formSlot,
    slot,
    table([at('dir.campus'), at('common.name'), at('common.status'), at('common.actions')], rows, { id: 'dir-table' }),
  );
}

async function departments(body: HTMLElement, reload: () => void, query: URLSearchParams) {
  const [{ campuses: campusList }, { departments: list }] = await Promise.all([
    get<{ campuses: any[] }>('/api/admin/campuses'),
    get<{ departments: any[] }>(`/api/admin/departments${query.get('campusId') ? `?campusId=${encodeURIComponent(query.get('campusId')!)}` : ''}`),
  ]);
  const campusName = new Map(campusList.map((c) => [c.id, c.name]));
  const formSlot = h('div');
  const slot = h('div');
  const fields: Field[] = [
    { name: 'campusId', label: at('dir.campus'), type: 'select', options: campusList.filter((c) => c.active).map((c) => [String(c.id), c.name]) },
    { name: 'code', label: at('common.code'), required: true },
    { name: 'name', label: at('common.name'), required: true },
  ];
  const edit = (d: any | null) => {
    clear(formSlot).append(
      entityForm(fields, d, async (data) => {
        const payload = { ...data, campusId: Number(data.campusId) };
        if (d) await put(`/api/admin/departments/${d.id}`, payload);
        else await post('/api/admin/departments', payload);
        reload();
      }, () => clear(formSlot)),
    );
  };
  const toggle = async (d: any) => {
    try {
      await post(`/api/admin/departments/${d.id}/${d.active ? 'deactivate' : 'activate'}`);
      reload();
    } catch (err) {
      if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
    }
  };
  const filter = h('select', { class: 'form-select form-select-sm w-auto', id: 'dir-campus-filter' }, h('option', { value: '' }, at('common.all')), ...campusList.map((c) => h('option', { value: String(c.id), selected: String(c.id) === query.get('campusId') }, c.name)));
  filter.addEventListener('change', () => go(`#/directory?tab=departments${filter.value ? `&campusId=${filter.value}` : ''}`));
  const rows = list.map((d) =>
    h(
      'tr',
      { dataset: { department: d.code } },
      h('td', null, campusName.get(d.campusId) ?? d.campusId),
      h('td', null, h('code', null, d.code)),
      h('td', null, d.name),
      // The group name is what a process's candidateGroups expression names (e.g. =["dept-13"]).
      h('td', null, h('code', { class: 'vf-group' }, `dept-${d.id}`)),
      h('td', null, activeBadge(d.active)),
      h('td', { class: 'text-nowrap' }, button(at('common.edit'), () => edit(d), 'btn-outline-primary me-1'), button(d.active ? at('common.deactivate') : at('common.activate'), () => void toggle(d), 'btn-outline-secondary')),
    ),
  );
  clear(body).append(
    h('div', { class: 'd-flex gap-2 mb-2' }, button(at('common.create'), () => edit(null), 'btn-primary', { id: 'dir-new' }), filter),
    formSlot,
    slot,
    table([at('dir.campus'), at('common.code'), at('common.name'), at('dir.group'), at('common.status'), at('common.actions')], rows, { id: 'dir-table' }),
  );
}

async function staff(body: HTMLElement, reload: () => void, query: URLSearchParams) {
  const params = new URLSearchParams();
  for (const k of ['departmentId', 'role', 'q']) if (query.get(k)) params.set(k, query.get(k)!);
  const [{ departments: depts }, { staff: list }] = await Promise.all([get<{ departments: any[] }>('/api/admin/departments'), get<{ staff: any[] }>(`/api/admin/staff?${params}`)]);
  const deptName = new Map(depts.map((d) => [d.id, d.name]));
  const deptOptions: [string, string][] = [['', at('common.none')], ...depts.filter((d) => d.active).map((d): [string, string] => [String(d.id), `${d.name}（${d.code}）`])];
  const formSlot = h('div');
  const slot = h('div');
  const edit = (s: any | null) => {
    const fields: Field[] = [
      ...(s ? [] : [{ name: 'username', label: at('dir.username'), required: true }]),
      { name: 'name', label: at('common.name'), required: true },
      // The list shows the number masked: editing sends a mobile only when one is typed.
      { name: 'mobile', label: at('dir.mobile'), required: !s },
      { name: 'departmentId', label: at('dir.department'), type: 'select', options: deptOptions },
      { name: 'roles', label: at('dir.roles'), type: 'roles' },
      // WeChat task notices (README "WeChat notices"): set on an existing account; empty clears it.
      ...(s ? [{ name: 'wechatOpenId', label: at('dir.wechatOpenId') }] : []),
      { name: 'staffNo', label: at('dir.staffNo') },
      { name: 'email', label: at('dir.email') },
      ...(s ? [] : [{ name: 'password', label: at('dir.password'), type: 'password' as const, required: true }]),
    ];
    clear(formSlot).append(
      entityForm(fields, s ? { ...s, mobile: '' } : null, async (data) => {
        const payload: Record<string, any> = { ...data, departmentId: data.departmentId ? Number(data.departmentId) : null };
        if (s && !payload.mobile) delete payload.mobile;
        payload.staffNo = payload.staffNo || null;
        payload.email = payload.email || null;
        if (s) await put(`/api/admin/staff/${s.id}`, payload);
        else await post('/api/admin/staff', payload);
        reload();
      }, () => clear(formSlot)),
    );
  };
  const act = async (s: any, action: string, body?: unknown) => {
    try {
      await post(`/api/admin/staff/${s.id}/${action}`, body);
      if (action === 'password') say(slot, at('common.saved'));
      else reload();
    } catch (err) {
      if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
    }
  };
  const unlinkSso = (s: any) => {
    if (!window.confirm(at('dir.ssoUnlinkConfirm', { name: s.name }))) return;
    void post(`/api/admin/staff/${s.id}/sso-unlink`).then(
      () => {
        reload();
      },
      (err) => {
        if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
      },
    );
  };
  const resetPassword = (s: any) => {
    const pw = window.prompt(`${at('dir.newPassword')}：${s.name}`);
    if (pw) void act(s, 'password', { password: pw });
  };
  const filters = h('form', { class: 'row g-2 align-items-end mb-2', id: 'staff-filters' });
  const deptSel = h('select', { class: 'form-select form-select-sm', name: 'departmentId' }, h('option', { value: '' }, at('common.all')), ...depts.map((d) => h('option', { value: String(d.id), selected: String(d.id) === query.get('departmentId') }, d.name)));
  const roleSel = h('select', { class: 'form-select form-select-sm', name: 'role' }, h('option', { value: '' }, at('common.all')), ...ROLES.map((r) => h('option', { value: r, selected: r === query.get('role') }, roleName(r))));
  const qIn = h('input', { class: 'form-control form-control-sm', name: 'q', value: query.get('q') ?? '' });
  filters.append(
    labelled(at('dir.department'), deptSel),
    labelled(at('dir.roles'), roleSel),
    labelled(`${at('common.name')} / ${at('dir.username')}`, qIn),
    h('div', { class: 'col-md-auto' }, h('button', { type: 'submit', class: 'btn btn-sm btn-outline-primary' }, at('common.filter'))),
  );
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams([['tab', 'staff'], ...[...new FormData(filters)].map(([k, v]) => [k, String(v)] as [string, string]).filter(([, v]) => v)]);
    go(`#/directory?${next}`);
  });
  const rows = list.map((s) =>
    h(
      'tr',
      { dataset: { username: s.username } },
      h('td', null, h('code', null, s.username)),
      h('td', null, s.name),
      h('td', null, s.mobile),
      h('td', null, s.departmentId ? (deptName.get(s.departmentId) ?? s.departmentId) : '—'),
      h('td', null, s.roles.map(roleName).join('、')),
      h('td', null, activeBadge(s.active)),
      h('td', { class: 'vf-sso' }, s.ssoLinked ? h('span', { class: 'badge text-bg-info' }, at('dir.ssoLinked')) : '—'),
      h(
        'td',
        { class: 'text-nowrap' },
        button(at('common.edit'), () => edit(s), 'btn-outline-primary me-1'),
        button(s.active ? at('common.deactivate') : at('common.activate'), () => void act(s, s.active ? 'deactivate' : 'activate'), 'btn-outline-secondary me-1'),
        button(at('dir.newPassword'), () => resetPassword(s), 'btn-outline-secondary'),
        s.ssoLinked ? button(at('dir.ssoUnlink'), () => unlinkSso(s), 'btn-outline-danger ms-1 vf-sso-unlink') : null,
      ),
    ),
  );
  clear(body).append(
    h('div', { class: 'mb-2' }, button(at('common.create'), () => edit(null), 'btn-primary', { id: 'dir-new' })),
    filters,
    formSlot,
    slot,
    table([at('dir.username'), at('common.name'), at('dir.mobile'), at('dir.department'), at('dir.roles'), at('common.status'), at('dir.sso'), at('common.actions')], rows, { id: 'dir-table' }),
  );
}

async function csvImport(body: HTMLElement) {
  const kind = h('select', { class: 'form-select form-select-sm w-auto', id: 'csv-kind' }, h('option', { value: 'staff' }, at('dir.importStaff')), h('option', { value: 'departments' }, at('dir.importDepartments')));
  const hint = h('div', { class: 'form-text', id: 'csv-hint' }, at('dir.staffHeader'));
  kind.addEventListener('change', () => (hint.textContent = kind.value === 'staff' ? at('dir.staffHeader') : at('dir.deptHeader')));
  const text = h('textarea', { class: 'form-control vf-csv', rows: 10, id: 'csv-text', spellcheck: 'false' });
  const file = h('input', { type: 'file', accept: '.csv,text/csv', class: 'form-control form-control-sm w-auto', id: 'csv-file' });
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (!f) return;
    const buf = await f.arrayBuffer();
    // Spreadsheets on Chinese Windows save CSV as GB18030 unless told otherwise; UTF-8 first, then that.
    let decoded: string;
    try {
      decoded = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      decoded = new TextDecoder('gb18030').decode(buf);
    }
    text.value = decoded.replace(/^\uFEFF/, '');
  });
  const report = h('div', { id: 'csv-report' });
  const run = async (dryRun: boolean, btn: HTMLButtonElement) => {
    await busy(btn, async () => {
      clear(report);
      try {
        const result = await post<any>(`/api/admin/${kind.value}/import`, { csv: text.value, dryRun });
        say(report, dryRun ? at('dir.checkOk', { count: result.rows }) : at('dir.importOk', { count: result.imported }));
      } catch (err) {
        if (needsLogin(err)) return;
        const rows = err instanceof ApiError && Array.isArray(err.details) ? (err.details as { row: number; field: string; message: string }[]) : [];
        say(report, rows.length ? at('dir.importErrors', { count: rows.length }) : errorMessage(err), 'danger');
        if (rows.length) {
          report.append(
            table(
              [at('dir.row'), at('dir.field'), at('dir.message')],
              rows.map((r) => h('tr', { class: 'table-danger', dataset: { row: String(r.row) } }, h('td', null, String(r.row)), h('td', null, r.field), h('td', null, r.message))),
              { id: 'csv-errors' },
            ),
          );
        }
      }
    });
  };
  const checkBtn = button(at('dir.check'), () => void run(true, checkBtn), 'btn-outline-primary', { id: 'csv-check' });
  const importBtn = button(at('dir.importRun'), () => void run(false, importBtn), 'btn-primary', { id: 'csv-import' });
  const template = () => {
    const csv = kind.value === 'staff' ? '用户名,姓名,手机号,单位代码,角色,初始密码\nhost-new,新老师,13800009999,CS,接待人,Change@2026\n' : '校区代码,单位代码,单位名称\nMAIN,NEW,新单位\n';
    download(`${kind.value}-template.csv`, new Blob([`\uFEFF${csv}`], { type: 'text/csv' }));
  };
  clear(body).append(
    panel(
      at('dir.import'),
      h('div', { class: 'd-flex gap-2 align-items-center mb-2' }, h('label', { class: 'small', for: 'csv-kind' }, at('dir.importKind')), kind, file, button('模板', template, 'btn-link')),
      h('label', { class: 'form-label small', for: 'csv-text' }, at('dir.csv')),
      text,
      hint,
      h('div', { class: 'd-flex gap-2 my-2' }, checkBtn, importBtn),
      report,
    ),
  );
}
