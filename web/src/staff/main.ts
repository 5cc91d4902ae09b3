import 'bootstrap/dist/css/bootstrap.min.css';
import '../lib/app.css';
import { ApiError, errorMessage, get, post, put } from '../lib/api.ts';
import { card, go, render, renderHeader, staffLoginForm, startApp, type View } from '../lib/app.ts';
import { alertBox, busy, clear, empty, fmtDateTime, h, loading } from '../lib/dom.ts';
import { type Key, t } from '../lib/i18n.ts';
import { kv, statusBadge, visitWindow } from '../lib/kv.ts';
import { createSession } from '../lib/session.ts';
import { watchWarningBox } from '../lib/watch.ts';
import { invitationsView } from './invitations.ts';

interface Staff {
  id: number;
  name: string;
  roles: string[];
}

const session = createSession<Staff>({ me: '/api/staff/me', key: 'staff', logout: '/api/staff/logout', go });
/** Who is signed in, for the header (drawn synchronously): leaders (and admins) get the Reports link. */
let signedInStaff: Staff | null = null;
const readsReports = () => session.signedIn() && Boolean(signedInStaff?.roles.some((r) => r === 'leader' || r === 'admin'));
/** Hosts get the Invitations link (pre-invited visitors skip their review). */
const invites = () => session.signedIn() && Boolean(signedInStaff?.roles.includes('host'));

/** One-shot message for the next screen (e.g. "decision sent" on the list). */
let flash: string | null = null;

function failed(main: HTMLElement, err: unknown) {
  if (session.needsLogin(err)) return;
  clear(main).append(alertBox(errorMessage(err), 'danger', () => void render(), t('state.retry')));
}

const login: View = (main, _p, query) => {
  main.classList.remove('vf-wide');
  staffLoginForm<Staff>(main, (staff) => {
    session.set(staff);
    signedInStaff = staff;
    const next = query.get('next');
    go(next?.startsWith('/') && next !== '/login' ? `#${next}` : '#/tasks');
  });
};

const LISTS = ['mine', 'unclaimed', 'done'] as const;

function listHash(q: URLSearchParams) {
  const clean = new URLSearchParams([...q].filter(([, v]) => v !== ''));
  return `#/tasks?${clean}`;
}

const tasks: View = async (main, _p, query) => {
  main.classList.add('vf-wide');
  const list = (LISTS as readonly string[]).includes(query.get('list') ?? '') ? query.get('list')! : 'mine';
  const page = Math.max(1, Number(query.get('page')) || 1);
  const pageSize = 20;
  if (flash) {
    main.append(alertBox(flash, 'success'));
    flash = null;
  }
  const tabs = h('ul', { class: 'nav nav-tabs mb-3', role: 'tablist' });
  const filters = h('form', { class: 'row g-2 align-items-end mb-3', id: 'task-filters' });
  const body = h('div', null, loading(t('state.loading')));
  main.append(h('section', { class: 'card vf-card' }, h('div', { class: 'card-body' }, tabs, filters, body)));

  const params = new URLSearchParams({ list, page: String(page), pageSize: String(pageSize) });
  for (const k of ['campusId', 'departmentId', 'from', 'to', 'q']) if (query.get(k)) params.set(k, query.get(k)!);

  // Filters: campus and department lists come from the public directory.
  const campusSel = h('select', { class: 'form-select', name: 'campusId', id: 'flt-campus' }, h('option', { value: '' }, t('staff.filter.all')));
  const deptSel = h('select', { class: 'form-select', name: 'departmentId', id: 'flt-dept' }, h('option', { value: '' }, t('staff.filter.all')));
  const col = (label: string, control: HTMLElement) => h('div', { class: 'col-6 col-md' }, h('label', { class: 'form-label small mb-1' }, label), control);
  const fromIn = h('input', { class: 'form-control', type: 'date', name: 'from', value: query.get('from') ?? '' });
  const toIn = h('input', { class: 'form-control', type: 'date', name: 'to', value: query.get('to') ?? '' });
  const qIn = h('input', { class: 'form-control', type: 'search', name: 'q', maxlength: 40, value: query.get('q') ?? '', placeholder: t('staff.filter.q') });
  filters.append(
    col(t('staff.filter.campus'), campusSel),
    col(t('staff.filter.department'), deptSel),
    col(t('staff.filter.from'), fromIn),
    col(t('staff.filter.to'), toIn),
    h('div', { class: 'col-12 col-md-3' }, h('label', { class: 'form-label small mb-1' }, t('staff.filter.q')), qIn),
    h('div', { class: 'col-12 col-md-auto' }, h('button', { class: 'btn btn-outline-primary w-100', type: 'submit' }, t('staff.filter.apply'))),
  );
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams([...new FormData(filters)].map(([k, v]) => [k, String(v)]));
    next.set('list', list);
    go(listHash(next));
  });
  const fillDepartments = async (campusId: string, selected = '') => {
    clear(deptSel).append(h('option', { value: '' }, t('staff.filter.all')));
    if (!campusId) return;
    const { departments } = await get(`/api/directory/departments?campusId=${encodeURIComponent(campusId)}`);
    for (const d of departments) deptSel.append(h('option', { value: String(d.id), selected: String(d.id) === selected }, d.name));
  };
  campusSel.addEventListener('change', () => void fillDepartments(campusSel.value).catch(() => {}));
  void get('/api/directory/campuses')
    .then(async ({ campuses }) => {
      for (const c of campuses) campusSel.append(h('option', { value: String(c.id), selected: String(c.id) === query.get('campusId') }, c.name));
      await fillDepartments(query.get('campusId') ?? '', query.get('departmentId') ?? '');
    })
    .catch(() => {});

  const drawTabs = (counts?: Record<string, number>) => {
    clear(tabs);
    for (const name of LISTS) {
      const q = new URLSearchParams(query);
      q.set('list', name);
      q.delete('page');
      tabs.append(
        h(
          'li',
          { class: 'nav-item' },
          h(
            'a',
            { class: `nav-link${name === list ? ' active' : ''}`, href: listHash(q), dataset: { list: name }, 'aria-current': name === list ? 'page' : undefined },
            t(`staff.list.${name}` as Key),
            counts ? h('span', { class: 'badge rounded-pill text-bg-secondary ms-1' }, counts[name] ?? 0) : null,
          ),
        ),
      );
    }
  };
  drawTabs();

  let res: any;
  try {
    res = await get(`/api/tasks?${params}`);
  } catch (err) {
    if (session.needsLogin(err)) return;
    clear(body).append(alertBox(errorMessage(err), 'danger', () => void render(), t('state.retry')));
    return;
  }
  drawTabs(res.counts);
  clear(body);
  if (!res.tasks.length) {
    body.append(empty(t('staff.empty')));
    return;
  }
  const rowAction = (task: any) => {
    if (list === 'unclaimed') {
      const b = h('button', { type: 'button', class: 'btn btn-sm btn-primary', dataset: { action: 'claim' } }, t('staff.claim'));
      b.addEventListener('click', () =>
        void busy(b, async () => {
          try {
            await post(`/api/tasks/${task.id}/claim`);
            go(`#/task/${task.id}`);
          } catch (err) {
            if (!session.needsLogin(err)) body.prepend(alertBox(errorMessage(err)));
          }
        }),
      );
      return b;
    }
    return h('a', { class: `btn btn-sm ${list === 'done' ? 'btn-outline-secondary' : 'btn-primary'}`, href: `#/task/${task.id}` }, t(list === 'done' ? 'staff.view' : 'staff.open'));
  };
  const cell = (label: Key, ...content: (Node | string | null)[]) => h('td', { 'data-label': t(label) }, ...content);
  body.append(
    h(
      'div',
      { class: 'table-responsive' },
      h(
        'table',
        { class: 'table table-hover align-middle vf-tasks mb-2' },
        h(
          'thead',
          null,
          h('tr', null, ...(['staff.col.flow', 'staff.col.task', 'staff.col.visitor', 'staff.col.unit', 'staff.col.window', 'staff.col.created'] as Key[]).map((k) => h('th', null, t(k))), h('th')),
        ),
        h(
          'tbody',
          null,
          ...res.tasks.map((task: any) =>
            h(
              'tr',
              { dataset: { taskId: String(task.id), flow: task.application?.flowNumber ?? '' } },
              cell('staff.col.flow', h('a', { href: `#/task/${task.id}` }, task.application?.flowNumber ?? `#${task.id}`)),
              cell('staff.col.task', task.name),
              cell('staff.col.visitor', task.application?.visitorName ?? ''),
              cell('staff.col.unit', `${task.application?.campus ?? ''} / ${task.application?.department ?? ''}`),
              cell('staff.col.window', task.application ? visitWindow(task.application) : ''),
              cell('staff.col.created', fmtDateTime(task.createdAt)),
              h('td', { class: 'text-end' }, rowAction(task)),
            ),
          ),
        ),
      ),
    ),
  );
  const pages = Math.max(1, Math.ceil(res.total / res.pageSize));
  const pager = (label: Key, target: number, disabled: boolean) => {
    const q = new URLSearchParams(query);
    q.set('list', list);
    q.set('page', String(target));
    return h('a', { class: `btn btn-sm btn-outline-secondary${disabled ? ' disabled' : ''}`, href: disabled ? undefined : listHash(q), 'aria-disabled': disabled ? 'true' : undefined }, t(label));
  };
  body.append(
    h(
      'div',
      { class: 'd-flex justify-content-between align-items-center gap-2' },
      pager('staff.prev', page - 1, page <= 1),
      h('span', { class: 'small text-secondary' }, t('staff.page', { page, pages, total: res.total })),
      pager('staff.next', page + 1, page >= pages),
    ),
  );
};

function attachmentList(attachments: any[]) {
  if (!attachments?.length) return empty(t('task.noAttachments'));
  return h(
    'div',
    { class: 'd-flex flex-wrap gap-2' },
    ...attachments.map((f) =>
      h(
        'a',
        { href: f.url, target: '_blank', rel: 'noopener', class: 'text-center small text-decoration-none', dataset: { attachment: String(f.id) } },
        /^image\//.test(f.mime ?? '') ? h('img', { class: 'vf-thumb d-block mb-1', src: f.url, alt: f.name, loading: 'lazy' }) : h('div', { class: 'vf-thumb d-flex align-items-center justify-content-center bg-light mb-1' }, 'PDF'),
        h('span', { class: 'd-inline-block text-truncate', style: 'max-width:6rem' }, f.name),
      ),
    ),
  );
}

/** The companions of a group visit, masked as the server sends them; nothing for a single visitor. */
function companionsCard(group: { companions: Array<{ name: string; idNumber: string; mobile: string }> } | null) {
  if (!group?.companions?.length) return '';
  return card(
    t('group.staffTitle', { count: group.companions.length }),
    h(
      'table',
      { class: 'table table-sm mb-0', id: 'task-companions' },
      h('thead', null, h('tr', null, h('th', null, t('task.visitor')), h('th', null, t('task.idNumber')), h('th', null, t('task.mobile')))),
      h('tbody', null, ...group.companions.map((c) => h('tr', null, h('td', null, c.name), h('td', null, c.idNumber), h('td', null, c.mobile)))),
    ),
  );
}

const taskView: View = async (main, { id }) => {
  main.classList.add('vf-wide');
  main.append(loading(t('state.loading')));
  let res: any;
  let staff: Staff | null;
  try {
    [res, staff] = await Promise.all([get(`/api/tasks/${encodeURIComponent(id)}`), session.current()]);
  } catch (err) {
    failed(main, err);
    return;
  }
  clear(main);
  const { task, application: a } = res;
  const open = task.status === 'open';
  const mine = open && staff && task.claimedBy === staff.id;
  const messages = h('div');
  const left = h('div', { class: 'col-lg-7' });
  const right = h('div', { class: 'col-lg-5' });
  main.append(
    h('div', { class: 'mb-2' }, h('a', { href: '#/tasks', class: 'btn btn-sm btn-link px-0' }, `← ${t('nav.back')}`)),
    messages,
    h('div', { class: 'row g-3' }, left, right),
  );
  if (a) {
    if (a.watchHit?.entries?.length) left.append(watchWarningBox(a.watchHit.entries, 'review', 'task-watch'));
    left.append(
      card(
        `${t('task.application')} · ${a.flowNumber}`,
        kv([
          [t('detail.status'), statusBadge(a.status, a.statusText)],
          [t('task.visitor'), a.visitor?.name],
          [t('task.organisation'), a.visitor?.organisation],
          [t('task.idNumber'), a.visitor?.idNumber],
          [t('task.mobile'), a.visitor?.mobile],
          [t('detail.campus'), a.campus?.name],
          [t('detail.department'), a.department?.name],
          [t('detail.host'), a.hostName],
          [t('detail.invited'), a.invitedByHost ? t('detail.invitedYes', { host: a.hostName ?? '' }) : null],
          [t('detail.window'), visitWindow(a)],
          [t('detail.plate'), a.plateNumber],
          [t('detail.step'), task.name],
          ['备注 / Remark', a.data?.remark],
        ]),
      ),
      companionsCard(a.group),
      card(t('detail.attachments'), attachmentList(res.attachments)),
    );
    if (a.timeline?.length) {
      left.append(
        card(
          t('detail.timeline'),
          h(
            'ol',
            { class: 'vf-timeline' },
            ...a.timeline.map((e: any) =>
              h(
                'li',
                null,
                h('div', { class: 'fw-semibold' }, e.title),
                h('div', { class: 'small text-secondary' }, [fmtDateTime(e.at), e.actor].filter(Boolean).join(' · ')),
                e.opinion ? h('div', { class: 'small' }, `${t('detail.opinion')}：${e.opinion}`) : null,
              ),
            ),
          ),
        ),
      );
    }
  }
  if (res.notice) right.append(card(t('task.notice'), h('div', { class: 'vf-notice small' }, res.notice)));

  const formSlot = h('div', null, loading(t('state.loading')));
  const actions = h('div', { class: 'd-flex flex-wrap gap-2 mt-2' });
  right.append(card(task.name, formSlot, actions));

  if (open && !task.claimedBy) {
    const claim = h('button', { type: 'button', class: 'btn btn-primary', dataset: { action: 'claim' } }, t('staff.claim'));
    claim.addEventListener('click', () =>
      void busy(claim, async () => {
        try {
          await post(`/api/tasks/${task.id}/claim`);
          void render();
        } catch (err) {
          if (!session.needsLogin(err)) clear(messages).append(alertBox(errorMessage(err)));
        }
      }),
    );
    clear(formSlot).append(alertBox(t('task.claimFirst'), 'info'));
    actions.append(claim);
    return;
  }
  if (!mine) {
    clear(formSlot).append(alertBox(t('task.notOpen'), 'secondary'));
    if (task.result) formSlot.append(kv(Object.entries(task.result).map(([k, v]) => [k, String(v)])));
    return;
  }

  let lib: typeof import('../lib/formio.ts');
  try {
    lib = await import('../lib/formio.ts');
  } catch (err) {
    clear(formSlot).append(alertBox(errorMessage(err), 'danger', () => void render(), t('state.retry')));
    return;
  }
  clear(formSlot);
  if (res.stockOpinions?.length) {
    formSlot.append(
      h('div', { class: 'small text-secondary mb-1' }, t('task.stock')),
      h(
        'div',
        { class: 'd-flex flex-wrap gap-1 mb-3', id: 'stock-opinions' },
        ...res.stockOpinions.map((text: string) =>
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn-sm btn-outline-secondary',
              onclick: () => form.getComponent('opinion')?.setValue(text),
            },
            text,
          ),
        ),
      ),
    );
  }
  const host = h('div');
  formSlot.append(host);
  const form = await lib.renderForm(host, res.form, {
    onSubmit: async (data) => {
      clear(messages);
      try {
        await post(`/api/tasks/${task.id}/complete`, { data });
      } catch (err) {
        if (session.needsLogin(err)) throw { silent: true };
        clear(messages).append(alertBox(errorMessage(err)));
        throw lib.toFormioErrors(errorMessage(err), err instanceof ApiError ? err.fieldErrors : []);
      }
    },
  });
  if (task.draft && typeof task.draft === 'object') await form.setSubmission({ data: { ...form.data, ...task.draft } });
  form.on('submit', () => {
    flash = t('task.done');
    go('#/tasks');
  });
  const save = h('button', { type: 'button', class: 'btn btn-outline-secondary', dataset: { action: 'draft' } }, t('task.saveDraft'));
  save.addEventListener('click', () =>
    void busy(save, async () => {
      try {
        const { submit: _s, ...data } = form.data ?? {};
        await put(`/api/tasks/${task.id}/draft`, { data });
        clear(messages).append(alertBox(t('task.draftSaved'), 'success'));
      } catch (err) {
        if (!session.needsLogin(err)) clear(messages).append(alertBox(errorMessage(err)));
      }
    }),
  );
  const unclaim = h('button', { type: 'button', class: 'btn btn-outline-danger', dataset: { action: 'unclaim' } }, t('staff.unclaim'));
  unclaim.addEventListener('click', () =>
    void busy(unclaim, async () => {
      try {
        await post(`/api/tasks/${task.id}/unclaim`);
        go('#/tasks');
      } catch (err) {
        if (!session.needsLogin(err)) clear(messages).append(alertBox(errorMessage(err)));
      }
    }),
  );
  actions.append(save, unclaim);
  return () => form.destroy?.(true);
};

const reports: View = async (main, params, query) => {
  let staff: Staff | null;
  try {
    staff = await session.current();
  } catch (err) {
    failed(main, err);
    return;
  }
  if (!staff) return session.toLogin();
  signedInStaff = staff;
  renderHeader();
  const { reportsView } = await import('../admin/reports.ts');
  return reportsView({ route: '#/reports', go, needsLogin: (err) => session.needsLogin(err) })(main, params, query);
};

const home: View = async () => {
  try {
    go((await session.current()) ? '#/tasks' : '#/login');
  } catch {
    go('#/login');
  }
};

startApp({
  title: 'app.staffTitle',
  routes: [
    { path: '/', view: home },
    { path: '/login', view: login },
    { path: '/tasks', view: tasks },
    { path: '/task/:id', view: taskView },
    // A leader's department figures; the screen and Chart.js load only when it opens.
    { path: '/reports', view: reports },
    { path: '/invitations', view: invitationsView({ needsLogin: (err) => session.needsLogin(err), render: () => void render() }) },
  ],
  nav: [
    { href: '#/tasks', label: 'nav.tasks', show: () => readsReports() || invites() },
    { href: '#/invitations', label: 'nav.invitations', show: invites },
    { href: '#/reports', label: 'nav.reports', show: readsReports },
    session.logoutLink('#/login'),
  ],
});
void session.current().then((staff) => {
  signedInStaff = staff;
  renderHeader();
}, () => {});
