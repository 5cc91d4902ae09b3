/** A tiny element builder: text is always set as text, never parsed as HTML (API data can hold anything). */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, unknown> & { class?: string; dataset?: Record<string, string> };

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: (Child | Child[])[]) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el: Element): Element {
  el.replaceChildren();
  return el;
}

export const $ = <T extends Element = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector<T>(sel);

/** Disables the button (and shows a spinner) while the action runs, so a double tap cannot send twice. */
export async function busy<T>(button: HTMLButtonElement | null, action: () => Promise<T>): Promise<T> {
  if (!button) return action();
  const label = button.innerHTML;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.prepend(h('span', { class: 'spinner-border spinner-border-sm me-1', 'aria-hidden': 'true' }));
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.innerHTML = label;
  }
}

export function loading(text: string) {
  return h('div', { class: 'vf-state text-center text-secondary py-5', role: 'status' }, h('div', { class: 'spinner-border mb-2', 'aria-hidden': 'true' }), h('div', null, text));
}

export function empty(text: string) {
  return h('div', { class: 'vf-state vf-empty text-center text-secondary py-5' }, text);
}

export function alertBox(text: string, kind: 'danger' | 'success' | 'warning' | 'info' | 'secondary' = 'danger', retry?: () => void, retryLabel?: string) {
  return h(
    'div',
    { class: `alert alert-${kind} vf-alert`, role: kind === 'danger' ? 'alert' : 'status' },
    h('span', null, text),
    retry ? h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary ms-2', onclick: retry }, retryLabel ?? '') : null,
  );
}

export function fmtDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** "2026-12-03 09:00–11:00" when both ends fall on one day (fits a phone line), else both in full. */
export function fmtRange(from: string | null | undefined, until: string | null | undefined): string {
  const a = fmtDateTime(from);
  const b = fmtDateTime(until);
  return a.slice(0, 10) === b.slice(0, 10) ? `${a}–${b.slice(11)}` : `${a} – ${b}`;
}
