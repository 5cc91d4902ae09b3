/** Page shell shared by the three entry points: header, language switch, hash routing, unload of the old view. */
import { ApiError, errorMessage, get, post } from './api.ts';
import { $, alertBox, busy, clear, h } from './dom.ts';
import { currentLang, type Key, setLang, t } from './i18n.ts';

export type Cleanup = (() => void) | void;
export type View = (main: HTMLElement, params: Record<string, string>, query: URLSearchParams) => Promise<Cleanup> | Cleanup;

export interface Route {
  path: string; // e.g. '/applications/:id'
  view: View;
}

export interface NavLink {
  href?: string;
  label: Key;
  onClick?: () => void;
  show?: () => boolean;
}

let cleanup: Cleanup;
let routes: Route[] = [];
let nav: NavLink[] = [];
let titleKey: Key = 'app.title';

function match(path: string): { route: Route; params: Record<string, string> } | null {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    const want = route.path.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = want.every((w, i) => {
      if (!w.startsWith(':')) return w === parts[i];
      params[w.slice(1)] = decodeURIComponent(parts[i]);
      return true;
    });
    if (ok) return { route, params };
  }
  return null;
}

export function renderHeader() {
  const title = $('#vf-title');
  if (title) title.textContent = t(titleKey);
  const navEl = $('#vf-nav');
  if (navEl) {
    clear(navEl);
    for (const link of nav) {
      if (link.show && !link.show()) continue;
      navEl.append(
        link.href
          ? h('a', { class: 'btn btn-sm btn-link text-white text-decoration-none', href: link.href }, t(link.label))
          : h('button', { type: 'button', class: 'btn btn-sm btn-link text-white text-decoration-none', onclick: link.onClick }, t(link.label)),
      );
    }
  }
  const lang = $<HTMLButtonElement>('#vf-lang');
  if (lang) lang.textContent = t('lang.switch');
}

export async function render() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const main = $('#app')!;
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  renderHeader();
  const found = match(path) ?? match('/')!;
  clear(main);
  main.removeAttribute('aria-busy');
  window.scrollTo(0, 0);
  cleanup = await found.route.view(main, found.params, new URLSearchParams(qs ?? ''));
}

export function go(hash: string) {
  if (location.hash === hash) void render();
  else location.hash = hash;
}

export function startApp(options: { title: Key; routes: Route[]; nav?: NavLink[] }) {
  titleKey = options.title;
  routes = options.routes;
  nav = options.nav ?? [];
  setLang(currentLang());
  $('#vf-lang')?.addEventListener('click', () => {
    setLang(currentLang() === 'zh' ? 'en' : 'zh');
    void render();
  });
  window.addEventListener('hashchange', () => void render());
  void render();
}

/** A card with a title; most screens are one of these on a phone. */
export function card(title: string, ...body: (Node | string | null | false)[]) {
  return h('section', { class: 'card vf-card mb-3' }, h('div', { class: 'card-body' }, h('h1', { class: 'h5 card-title mb-3' }, title), ...body));
}

/** A labelled input with room for a field error under it (Bootstrap's invalid-feedback). */
export function field(name: string, label: string, input: Partial<HTMLInputElement> & Record<string, any> = {}, help?: string) {
  const id = `f-${name}`;
  const el = h('input', { class: 'form-control', id, name, ...input } as any);
  return h(
    'div',
    { class: 'mb-3', dataset: { field: name } },
    h('label', { class: 'form-label', for: id }, label),
    el,
    help ? h('div', { class: 'form-text' }, help) : null,
    h('div', { class: 'invalid-feedback' }),
  );
}

/** Shows field errors from the API (`details: [{field, message}]`) next to the inputs; returns whether any matched. */
export function showFieldErrors(form: HTMLElement, errors: { field: string; message: string }[]): boolean {
  let matched = false;
  for (const el of form.querySelectorAll('.is-invalid')) el.classList.remove('is-invalid');
  for (const e of errors) {
    const wrap = form.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
    if (!wrap) continue;
    matched = true;
    wrap.querySelector('input, select, textarea')?.classList.add('is-invalid');
    const fb = wrap.querySelector('.invalid-feedback');
    if (fb) fb.textContent = e.message;
  }
  return matched;
}

/** A small form (login, registration): field errors from the API under the inputs, the message above the button. */
export function authForm(
  main: HTMLElement,
  title: string,
  fields: HTMLElement[],
  submitLabel: string,
  send: (data: Record<string, string>) => Promise<void>,
  footer: HTMLElement,
  note?: string,
): HTMLFormElement {
  const errorSlot = h('div');
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-lg w-100' }, submitLabel);
  const form = h('form', { novalidate: true }, ...fields, errorSlot, button);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
    clear(errorSlot);
    void busy(button, async () => {
      try {
        await send(data);
      } catch (err) {
        const matched = err instanceof ApiError && showFieldErrors(form, err.fieldErrors);
        if (!matched) showFieldErrors(form, []);
        errorSlot.append(alertBox(errorMessage(err)));
      }
    });
  });
  main.append(card(title, note ? h('p', { class: 'small text-secondary' }, note) : null, form, footer));
  return form;
}

/**
 * The campus single sign-on of a staff login form, when the server has one (GET /api/staff/sso): a
 * "统一身份认证登录" button above the form, or in its place when local passwords are switched off.
 * `next` is the staff page the sign-in comes back to.
 */
export function addSsoLogin(form: HTMLElement, next: '/staff/' | '/admin/' | '/gate/') {
  void get<{ mode: 'none' | 'oidc' | 'cas'; localPasswords: boolean }>('/api/staff/sso')
    .then((sso) => {
      if (sso.mode === 'none') return;
      const button = h(
        'a',
        { class: 'btn btn-primary btn-lg w-100', id: 'sso-login', href: `/api/staff/sso/start?next=${encodeURIComponent(next)}` },
        t('staff.sso'),
      );
      if (sso.localPasswords) form.before(button, h('p', { class: 'text-center text-secondary small my-3' }, t('staff.or')));
      else form.replaceWith(button);
    })
    .catch(() => {}); // without the answer the password form stays, as before SSO existed
}

/** The staff login form of the task list and the gate; `loggedIn` gets the staff member the server answered. */
export function staffLoginForm<S>(main: HTMLElement, loggedIn: (staff: S) => void) {
  const form = authForm(
    main,
    t('staff.login'),
    [
      field('username', t('staff.username'), { autocomplete: 'username', required: true, maxLength: 64 }),
      field('password', t('staff.password'), { type: 'password', autocomplete: 'current-password', required: true }),
    ],
    t('login.submit'),
    async (data) => loggedIn((await post<{ staff: S }>('/api/staff/login', data)).staff),
    h('div'),
  );
  addSsoLogin(form, location.pathname.startsWith('/gate') ? '/gate/' : '/staff/');
}
