import 'bootstrap/dist/css/bootstrap.min.css';
import '../lib/app.css';
import './admin.css';
import { post } from '../lib/api.ts';
import { addSsoLogin, field } from '../lib/app.ts';
import { $, alertBox, busy, clear, h, loading } from '../lib/dom.ts';
import { currentLang, setLang } from '../lib/i18n.ts';
// Not used by the shell itself: importing it here keeps the lib modules the other pages share in one chunk,
// so adding this page does not split an extra request off the visitor's first load.
import '../lib/kv.ts';
import { type AdminKey, at } from './i18n.ts';
import { type Admin, currentAdmin, failed, go, needsLogin, session, setAdmin } from './ui.ts';

export type Cleanup = (() => void) | void;
export type View = (main: HTMLElement, params: Record<string, string>, query: URLSearchParams) => Promise<Cleanup> | Cleanup;

/**
 * Each screen is its own chunk: the modeler (~430 KiB gzip) and the Form.io builder load only when their
 * screen opens, and nothing here reaches the visitor, staff or gate bundles.
 */
const routes: [string, () => Promise<View>][] = [
  ['/processes', async () => (await import('./processes.ts')).processList],
  ['/processes/new', async () => (await import('./processes.ts')).processNew],
  ['/processes/:processId/:version', async () => (await import('./processes.ts')).processEditor],
  ['/forms', async () => (await import('./forms.ts')).formList],
  ['/forms/:formKey', async () => (await import('./forms.ts')).formEditor],
  ['/directory', async () => (await import('./directory.ts')).directory],
  ['/settings', async () => (await import('./settings.ts')).settings],
  ['/integrations', async () => (await import('./integrations.ts')).integrations],
  ['/messages', async () => (await import('./messages.ts')).messages],
  ['/instances', async () => (await import('./instances.ts')).instanceList],
  ['/instances/:id', async () => (await import('./instances.ts')).instanceDetail],
  ['/audit', async () => (await import('./audit.ts')).auditLog],
  ['/watch-list', async () => (await import('./watchlist.ts')).watchList],
  ['/on-campus', async () => (await import('./on-campus.ts')).onCampusPage],
  // Chart.js comes with this screen's chunk only.
  ['/reports', async () => (await import('./reports.ts')).reportsView({ route: '#/reports', go, needsLogin })],
];

const NAV: [string, AdminKey][] = [
  ['#/processes', 'nav.processes'],
  ['#/forms', 'nav.forms'],
  ['#/directory', 'nav.directory'],
  ['#/instances', 'nav.instances'],
  ['#/settings', 'nav.settings'],
  ['#/integrations', 'nav.integrations'],
  ['#/messages', 'nav.messages'],
  ['#/watch-list', 'nav.watchList'],
  ['#/on-campus', 'nav.onCampus'],
  ['#/reports', 'nav.reports'],
  ['#/audit', 'nav.audit'],
];

function match(path: string): { load: () => Promise<View>; params: Record<string, string> } | null {
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, load] of routes) {
    const want = pattern.split('/').filter(Boolean);
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = want.every((w, i) => {
      if (!w.startsWith(':')) return w === parts[i];
      params[w.slice(1)] = decodeURIComponent(parts[i]);
      return true;
    });
    if (ok) return { load, params };
  }
  return null;
}

function header(admin: Admin | null, path: string) {
  $('#vf-title')!.textContent = at('title');
  document.title = at('title');
  const nav = clear($('#vf-nav')!);
  const who = clear($('#vf-me')!);
  $('#vf-lang')!.textContent = currentLang() === 'zh' ? 'English' : '中文';
  if (!admin) return;
  for (const [href, label] of NAV) {
    const active = path.startsWith(href.slice(1));
    nav.append(h('a', { class: `btn btn-sm btn-link text-white text-decoration-none vf-nav${active ? ' active' : ''}`, href, 'aria-current': active ? 'page' : undefined }, at(label)));
  }
  who.append(
    admin.name,
    h(
      'button',
      {
        type: 'button',
        class: 'btn btn-sm btn-link text-white',
        onclick: () => void session.logout('#/login'),
      },
      at('nav.logout'),
    ),
  );
}

const login: View = (main, _p, query) => {
  const errorSlot = h('div');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary w-100' }, '登录');
  const form = h(
    'form',
    { novalidate: true, id: 'admin-login' },
    field('username', '用户名', { autocomplete: 'username', required: true }),
    field('password', '密码', { type: 'password', autocomplete: 'current-password', required: true }),
    errorSlot,
    submit,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]));
    clear(errorSlot);
    void busy(submit, async () => {
      try {
        const { staff } = await post<{ staff: Admin }>('/api/staff/login', data);
        if (!staff.roles.includes('admin')) {
          await post('/api/staff/logout').catch(() => {});
          errorSlot.append(alertBox(at('login.notAdmin')));
          return;
        }
        setAdmin(staff);
        const next = query.get('next');
        go(next?.startsWith('/') && !next.startsWith('/login') ? `#${next}` : '#/processes');
      } catch (err) {
        failed(errorSlot, err);
      }
    });
  });
  main.append(h('div', { class: 'vf-login' }, h('section', { class: 'card vf-card' }, h('div', { class: 'card-body' }, h('h1', { class: 'h5 mb-3' }, at('login.title')), form))));
  addSsoLogin(form, '/admin/');
};

let cleanup: Cleanup;
let generation = 0;

async function render() {
  const raw = location.hash.replace(/^#/, '') || '/processes';
  const [path, qs] = raw.split('?');
  const main = $('#app')!;
  const mine = ++generation;
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  clear(main).append(loading('正在加载…'));
  main.removeAttribute('aria-busy');
  let admin: Admin | null;
  try {
    admin = await currentAdmin();
  } catch (err) {
    failed(main, err, () => void render());
    return;
  }
  if (mine !== generation) return;
  header(admin, path);
  const query = new URLSearchParams(qs ?? '');
  if (!admin?.roles.includes('admin') || path === '/login') {
    clear(main);
    if (!admin?.roles.includes('admin')) login(main, {}, path === '/login' ? query : new URLSearchParams({ next: raw }));
    else go('#/processes');
    return;
  }
  const found = match(path) ?? match('/processes')!;
  try {
    const view = await found.load();
    if (mine !== generation) return;
    clear(main);
    const result = await view(main, found.params, query);
    if (mine !== generation) {
      if (typeof result === 'function') result();
      return;
    }
    cleanup = result;
  } catch (err) {
    if (mine === generation) failed(main, err, () => void render());
  }
}

setLang(currentLang());
$('#vf-lang')!.addEventListener('click', () => {
  setLang(currentLang() === 'zh' ? 'en' : 'zh');
  void render();
});
window.addEventListener('hashchange', () => void render());
void render();
