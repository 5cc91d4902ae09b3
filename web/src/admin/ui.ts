/** Small pieces shared by the admin screens: login state, failure display, tables, status messages. */
import { errorMessage } from '../lib/api.ts';
import { alertBox, busy, clear, h } from '../lib/dom.ts';
import { createSession } from '../lib/session.ts';
import { type AdminKey, at } from './i18n.ts';

export interface Admin {
  id: number;
  name: string;
  roles: string[];
}

export function go(hash: string) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** A 401 (or a non-admin, 403 ROLE_REQUIRED) sends the administrator to the login screen and back. */
export const session = createSession<Admin>({
  me: '/api/staff/me',
  key: 'staff',
  logout: '/api/staff/logout',
  go,
  loggedOut: (err) => err.status === 401 || err.code === 'ROLE_REQUIRED',
});
export const { current: currentAdmin, set: setAdmin, needsLogin } = session;

export function failed(slot: HTMLElement, err: unknown, retry?: () => void) {
  if (needsLogin(err)) return;
  clear(slot).append(alertBox(errorMessage(err), 'danger', retry, retry ? '重试' : undefined));
}

/** Replaces the message area's content with one alert (success after an action, or what went wrong). */
export function say(slot: HTMLElement, text: string, kind: 'danger' | 'success' | 'warning' | 'info' = 'success') {
  clear(slot).append(alertBox(text, kind));
}

/**
 * Says that an editor came back with earlier unsaved work, with a button to drop it: `discard` puts the saved
 * version back (the message goes once it is done).
 */
export function sayRestored(slot: HTMLElement, text: string, buttonId: string, discard: () => Promise<void>) {
  const button = h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary ms-2', id: buttonId }, at('common.discardChanges'));
  button.addEventListener('click', () =>
    void busy(button, async () => {
      await discard();
      clear(slot);
    }),
  );
  say(slot, text, 'info');
  slot.firstElementChild?.append(button);
}

export function panel(title: string, ...body: (Node | string | null | false | undefined)[]) {
  return h('section', { class: 'card vf-card mb-3' }, h('div', { class: 'card-body' }, h('h2', { class: 'h5 card-title mb-3' }, title), ...body));
}

export function table(headers: string[], rows: HTMLTableRowElement[], attrs: Record<string, string> = {}) {
  return h(
    'div',
    { class: 'table-responsive' },
    h(
      'table',
      { class: 'table table-sm table-hover align-middle mb-0', ...attrs },
      h('thead', null, h('tr', null, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, ...rows),
    ),
  );
}

export function button(label: string, onclick: (ev: MouseEvent) => void, cls = 'btn-outline-primary', attrs: Record<string, unknown> = {}) {
  return h('button', { type: 'button', class: `btn btn-sm ${cls}`, onclick, ...attrs }, label);
}

export function labelled(label: string, control: HTMLElement, cls = 'col-md') {
  const id = control.id || `c-${Math.random().toString(36).slice(2, 8)}`;
  control.id = id;
  return h('div', { class: cls }, h('label', { class: 'form-label small mb-1', for: id }, label), control);
}

export const roleName = (r: string) => (['host', 'leader', 'admin', 'guard', 'security'].includes(r) ? at(`role.${r}` as AdminKey) : r);

/** Downloads text (an exported .bpmn) without a round trip. */
export function download(name: string, content: Blob) {
  const url = URL.createObjectURL(content);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
