import 'bootstrap/dist/css/bootstrap.min.css';
import '../lib/app.css';
import { ApiError, errorMessage, get, post } from '../lib/api.ts';
import { authForm, card, field, go, render, renderHeader, startApp, type View } from '../lib/app.ts';
import { alertBox, append, busy, clear, empty, fmtDateTime, h, loading } from '../lib/dom.ts';
import { t } from '../lib/i18n.ts';
import { kv, statusBadge, visitWindow } from '../lib/kv.ts';
import { createSession } from '../lib/session.ts';
import { type ApplySource, invitedSource, inviteLanding, takeInviteFromUrl } from './invite.ts';
import { groupCard, linkPass, type PassAnswer, passScreen, takePassLinkFromUrl } from './group.ts';

interface Visitor {
  id: number;
  name: string;
  mobile: string;
  idNumber: string;
}

const session = createSession<Visitor>({ me: '/api/visitors/me', key: 'visitor', logout: '/api/visitors/logout', go });

function failed(main: HTMLElement, err: unknown, retry: () => void) {
  if (session.needsLogin(err)) return;
  clear(main).append(alertBox(errorMessage(err), 'danger', retry, t('state.retry')));
}

const landing: View = async (main) => {
  main.append(loading(t('state.loading')));
  let visitor: Visitor | null = null;
  try {
    visitor = await session.current();
  } catch {
    // The landing page still offers login and registration when the API is down.
  }
  const links = visitor
    ? [
        h('p', { class: 'fw-semibold' }, t('landing.hello', { name: visitor.name })),
        h('a', { class: 'btn btn-primary btn-lg w-100 mb-2', href: '#/apply' }, t('landing.apply')),
        h('a', { class: 'btn btn-outline-primary btn-lg w-100', href: '#/applications' }, t('landing.mine')),
      ]
    : [
        h('a', { class: 'btn btn-primary btn-lg w-100 mb-2', href: '#/register' }, t('landing.register')),
        h('a', { class: 'btn btn-outline-primary btn-lg w-100', href: '#/login' }, t('landing.login')),
      ];
  clear(main).append(card(t('app.title'), h('p', { class: 'text-secondary' }, t('landing.lead')), ...links));
};

function afterLogin(query: URLSearchParams) {
  const next = query.get('next');
  go(next?.startsWith('/') ? `#${next}` : '#/apply');
}

const register: View = (main, _p, query) => {
  authForm(
    main,
    t('reg.title'),
    [
      field('name', t('reg.name'), { autocomplete: 'name', required: true, maxLength: 50 }),
      field('organisation', t('reg.organisation'), { value: '个人', required: true, maxLength: 100 }, t('reg.organisationHelp')),
      field('idNumber', t('reg.idNumber'), { autocomplete: 'off', required: true, maxLength: 18, inputMode: 'text' }, t('reg.idHelp')),
      field('mobile', t('reg.mobile'), { type: 'tel', autocomplete: 'tel', required: true, maxLength: 11, inputMode: 'numeric' }, t('reg.mobileHelp')),
    ],
    t('reg.submit'),
    async (data) => {
      session.set((await post<{ visitor: Visitor }>('/api/visitors/register', data)).visitor);
      afterLogin(query);
    },
    h('a', { class: 'd-block text-center mt-3', href: '#/login' }, t('reg.haveAccount')),
    t('reg.privacy'),
  );
};

const login: View = (main, _p, query) => {
  authForm(
    main,
    t('login.title'),
    [
      field('mobile', t('login.mobile'), { type: 'tel', autocomplete: 'username', required: true, maxLength: 11, inputMode: 'numeric' }),
      field('password', t('login.password'), { type: 'password', autocomplete: 'current-password', required: true, maxLength: 8 }, t('login.passwordHelp')),
    ],
    t('login.submit'),
    async (data) => {
      session.set((await post<{ visitor: Visitor }>('/api/visitors/login', data)).visitor);
      afterLogin(query);
    },
    h('a', { class: 'd-block text-center mt-3', href: '#/register' }, t('login.noAccount')),
  );
};

const DRAFT_KEY = 'vf_apply_draft';

const ordinary = (): ApplySource => ({
  title: t('apply.title'),
  form: () => get('/api/applications/form'),
  submit: async (data) => (await post('/api/applications', { data })).application,
});

const applyWith = (source: () => ApplySource): View => async (main) => {
  const src = source();
  // Both downloads start at once: the renderer chunk is the long pole on a slow network.
  const formio = import('../lib/formio.ts');
  const formDef = src.form();
  formio.catch(() => {});
  formDef.catch(() => {});
  const slot = h('div', { class: 'vf-form' }, loading(t('state.loading')));
  const messages = h('div');
  main.append(card(src.title, src.note ? alertBox(src.note, 'info') : null, messages, slot));
  // The first Intl.DateTimeFormat of a page loads ICU's locale and time-zone data (~50 ms on a slow phone);
  // Form.io makes one while rendering the date field. Pay for it after this frame, while the page waits for
  // the renderer chunk.
  requestAnimationFrame(() => window.setTimeout(() => Intl.DateTimeFormat().resolvedOptions(), 0));
  let def: any;
  let lib: typeof import('../lib/formio.ts');
  try {
    [def, lib] = await Promise.all([formDef, formio]);
  } catch (err) {
    if (session.needsLogin(err)) return;
    clear(slot).append(alertBox(t('apply.formFailed', { message: errorMessage(err) }), 'danger', () => void render(), t('state.retry')));
    const more = src.formFailed?.(err);
    if (more) slot.append(more);
    return;
  }
  const prefillKeys = new Set(Object.keys(def.prefill ?? {}));
  let draft: Record<string, any> = {};
  try {
    draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? '{}');
  } catch {
    draft = {};
  }
  const departments: { id: number; campusId: number; name: string }[] = def.departments ?? [];
  let created: any;
  clear(slot);
  const form = await lib.renderForm(slot, def.form, {
    onSubmit: async (data) => {
      clear(messages);
      try {
        created = await src.submit(data);
      } catch (err) {
        if (session.needsLogin(err)) throw { silent: true };
        const fieldErrors = err instanceof ApiError ? err.fieldErrors : [];
        // Field errors are listed by Form.io above the form and under each field; others need our alert.
        if (!fieldErrors.length) messages.append(alertBox(t('apply.failed', { message: errorMessage(err) })));
        throw lib.toFormioErrors(errorMessage(err), fieldErrors);
      }
    },
  });
  main.removeAttribute('aria-busy');

  const deptComponent = form.getComponent('departmentId');
  const filterDepartments = (campusId: unknown, keep: boolean) => {
    if (!deptComponent) return;
    const values = departments.filter((d) => String(d.campusId) === String(campusId)).map((d) => ({ label: d.name, value: String(d.id) }));
    deptComponent.component.data.values = values;
    deptComponent.component.placeholder = values.length ? '' : t('apply.pickCampus');
    if (!keep && deptComponent.dataValue && !values.some((v) => v.value === String(deptComponent.dataValue))) deptComponent.setValue('');
    deptComponent.updateItems?.(null, true);
  };

  const restore = Object.fromEntries(Object.entries(draft).filter(([k]) => !prefillKeys.has(k)));
  // A form with the campus filled in by the server (an invitation) lists that campus's departments at once.
  filterDepartments(restore.campusId ?? def.prefill?.campusId, true);
  if (Object.keys(restore).length) {
    await form.setSubmission({ data: { ...form.data, ...restore } });
    filterDepartments(restore.campusId, true);
    messages.append(alertBox(t('apply.restored'), 'info'));
  }

  let timer: number | undefined;
  form.on('change', (ev: any) => {
    if (ev?.changed?.component?.key === 'campusId') filterDepartments(ev.changed.value, false);
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      const keep = Object.fromEntries(Object.entries(form.data ?? {}).filter(([k]) => !prefillKeys.has(k) && k !== 'submit'));
      try {
        sessionStorage.setItem(DRAFT_KEY, JSON.stringify(keep));
      } catch {
        // storage full or disabled: the form on screen still holds the data
      }
    }, 300);
  });
  // With nosubmit Form.io emits 'submit' (not 'submitDone') once beforeSubmit has passed.
  form.on('submit', () => {
    window.clearTimeout(timer);
    sessionStorage.removeItem(DRAFT_KEY);
    if (created) {
      src.submitted?.();
      sessionStorage.setItem(`vf_next_${created.id}`, created.next ?? '');
      go(`#/submitted/${created.id}`);
    }
  });
  return () => {
    window.clearTimeout(timer);
    form.destroy?.(true);
  };
};

const apply = applyWith(ordinary);

const submitted: View = async (main, { id }) => {
  main.append(loading(t('state.loading')));
  try {
    const { application: a } = await get(`/api/applications/${encodeURIComponent(id)}`);
    const next = sessionStorage.getItem(`vf_next_${a.id}`) || a.currentStep || '';
    clear(main).append(
      card(
        t('submitted.title'),
        h('div', { class: 'text-center my-3' }, h('div', { class: 'text-secondary small' }, t('submitted.flow')), h('div', { class: 'vf-flow', id: 'flow-number' }, a.flowNumber)),
        kv([
          [t('detail.status'), statusBadge(a.status, a.statusText)],
          [t('detail.campus'), `${a.campus?.name ?? ''} ${a.department?.name ?? ''}`],
          [t('detail.window'), visitWindow(a)],
          [t('submitted.next'), next],
        ]),
        h('a', { class: 'btn btn-primary w-100 mt-3', href: `#/applications/${a.id}` }, t('submitted.view')),
      ),
    );
  } catch (err) {
    failed(main, err, () => void render());
  }
};

const mine: View = async (main) => {
  main.append(loading(t('state.loading')));
  try {
    const { applications } = await get<{ applications: any[] }>('/api/applications');
    clear(main);
    const list = applications.length
      ? h(
          'div',
          { class: 'list-group' },
          ...applications.map((a) =>
            h(
              'a',
              { class: 'list-group-item list-group-item-action', href: `#/applications/${a.id}`, dataset: { flow: a.flowNumber } },
              h('div', { class: 'd-flex justify-content-between align-items-center' }, h('strong', null, a.flowNumber), statusBadge(a.status, a.statusText)),
              h('div', { class: 'small text-secondary' }, `${a.campus?.name ?? ''} · ${a.department?.name ?? ''} · ${visitWindow(a)}`),
            ),
          ),
        )
      : empty(t('mine.empty'));
    main.append(card(t('mine.title'), list, h('a', { class: 'btn btn-outline-primary w-100 mt-3', href: '#/apply' }, t('mine.new'))));
  } catch (err) {
    failed(main, err, () => void render());
  }
};

const detail: View = async (main, { id }) => {
  main.append(loading(t('state.loading')));
  try {
    const { application: a } = await get(`/api/applications/${encodeURIComponent(id)}`);
    clear(main);
    const actions = h('div', { class: 'd-grid gap-2 mt-3' });
    if (a.status === 'approved') actions.append(h('a', { class: 'btn btn-success btn-lg', href: `#/pass/${a.id}` }, t('detail.pass')));
    if (a.status === 'pending' || a.status === 'submitted') {
      const withdraw = h('button', { type: 'button', class: 'btn btn-outline-danger' }, t('detail.withdraw'));
      const slot = h('div');
      withdraw.addEventListener('click', () => {
        if (!window.confirm(t('detail.withdrawConfirm'))) return;
        void busy(withdraw, async () => {
          try {
            await post(`/api/applications/${a.id}/withdraw`);
            void render();
          } catch (err) {
            clear(slot).append(alertBox(errorMessage(err)));
          }
        });
      });
      actions.append(withdraw, slot);
    }
    append(
      main,
      [card(
        t('detail.title'),
        kv([
          [t('detail.flow'), a.flowNumber],
          [t('detail.status'), statusBadge(a.status, a.statusText)],
          [t('detail.step'), a.status === 'pending' ? a.currentStep : null],
          [t('detail.campus'), a.campus?.name],
          [t('detail.department'), a.department?.name],
          [t('detail.host'), a.hostName],
          [t('detail.invited'), a.invitedByHost ? h('span', { id: 'invited-by-host' }, t('detail.invitedYes', { host: a.hostName ?? '' })) : null],
          [t('detail.window'), visitWindow(a)],
          [t('detail.plate'), a.plateNumber],
          [t('detail.opinion'), a.lastOpinion],
        ]),
        actions,
      ),
      groupCard(a.id, a.group, a.data?.visitorName ?? ''),
      card(
        t('detail.timeline'),
        a.timeline?.length
          ? h(
              'ol',
              { class: 'vf-timeline' },
              ...a.timeline.map((e: any) =>
                h(
                  'li',
                  { dataset: { kind: e.kind } },
                  h('div', { class: 'fw-semibold' }, e.title),
                  h('div', { class: 'small text-secondary' }, [fmtDateTime(e.at), e.actor].filter(Boolean).join(' · ')),
                  e.opinion ? h('div', { class: 'small' }, `${t('detail.opinion')}：${e.opinion}`) : null,
                ),
              ),
            )
          : empty('—'),
      ),
      a.attachments?.length
        ? card(
            t('detail.attachments'),
            h('ul', { class: 'mb-0' }, ...a.attachments.map((f: any) => h('li', null, h('a', { href: f.url, target: '_blank', rel: 'noopener' }, f.name)))),
          )
        : null],
    );
  } catch (err) {
    failed(main, err, () => void render());
  }
};

const pass: View = (main, params, query) =>
  passScreen(
    async () => (await get<{ pass: PassAnswer }>(`/api/applications/${encodeURIComponent(params.id)}/pass`)).pass,
    (err) => session.needsLogin(err),
  )(main, params, query);

takeInviteFromUrl();
takePassLinkFromUrl();
startApp({
  title: 'app.title',
  routes: [
    { path: '/', view: landing },
    { path: '/register', view: register },
    { path: '/login', view: login },
    { path: '/apply', view: apply },
    { path: '/submitted/:id', view: submitted },
    { path: '/applications', view: mine },
    { path: '/applications/:id', view: detail },
    { path: '/pass/:id', view: pass },
    { path: '/invite', view: inviteLanding(session) },
    { path: '/invite/apply', view: applyWith(() => invitedSource(session)) },
    { path: '/group-pass', view: linkPass },
  ],
  nav: [
    { href: '#/applications', label: 'nav.mine', show: session.signedIn },
    session.logoutLink('#/'),
  ],
});
void session.current().then(renderHeader, () => {});
