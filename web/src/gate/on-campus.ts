/**
 * The guard's phone view of who is on campus: the counts of the campus (per gate of entry) and the overstays,
 * each with a button to record an exit the gate missed. Refreshes itself while open.
 */
import { ApiError, errorMessage, get, post } from '../lib/api.ts';
import { renderHeader } from '../lib/app.ts';
import { alertBox, busy, clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { gateLabel, type OnCampusAnswer, type OnCampusRow, oc, REFRESH_SECONDS, stateBadge } from '../lib/on-campus.ts';
import { CAMPUS_KEY, GATE_KEY, type Gate, session } from './session.ts';

const ALL_KEY = 'vf_gate_oncampus_all';
// The list's own campus choice ("all campuses" is allowed here, not on the check screen), first that of the gate.
const LIST_CAMPUS_KEY = 'vf_gate_oncampus_campus';

export async function onCampus(main: HTMLElement): Promise<() => void> {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
  };
  main.append(loading(oc('title')));
  let campuses: { id: number; name: string }[];
  let gates: Gate[];
  try {
    if (!(await session.recheck())) {
      session.toLogin();
      return stop;
    }
    renderHeader();
    [campuses, gates] = await Promise.all([
      get('/api/directory/campuses').then((r) => r.campuses),
      get<{ gates: Gate[] }>('/api/gate/gates').then((r) => r.gates),
    ]);
  } catch (err) {
    if (!session.needsLogin(err)) clear(main).append(alertBox(errorMessage(err)));
    return stop;
  }
  clear(main);

  const saved = localStorage.getItem(LIST_CAMPUS_KEY) ?? localStorage.getItem(CAMPUS_KEY) ?? '';
  const campusSel = h(
    'select',
    { class: 'form-select', id: 'oc-campus', 'aria-label': oc('campus') },
    h('option', { value: '' }, oc('allCampuses')),
    ...campuses.map((c) => h('option', { value: String(c.id), selected: String(c.id) === saved }, c.name)),
  );
  const showAll = h('input', { type: 'checkbox', class: 'form-check-input', id: 'oc-all', checked: localStorage.getItem(ALL_KEY) === '1' });
  const messages = h('div', { id: 'oc-messages', 'aria-live': 'polite' });
  const counts = h('section', { class: 'card vf-card mt-3', id: 'oc-counts' });
  const list = h('div', { class: 'mt-3', id: 'oc-list' });
  const updated = h('p', { class: 'small text-secondary mt-2 mb-0', id: 'oc-updated' });
  main.append(
    h(
      'section',
      { class: 'card vf-card' },
      h(
        'div',
        { class: 'card-body' },
        h('h1', { class: 'h5 mb-3' }, oc('title')),
        campusSel,
        h('div', { class: 'form-check mt-2' }, showAll, h('label', { class: 'form-check-label', for: 'oc-all' }, oc('showAll'))),
        updated,
      ),
    ),
    messages,
    counts,
    list,
  );

  const rowCard = (row: OnCampusRow) => {
    // The exit is recorded at the guard's own gate when it is on the visitor's campus; otherwise at no gate.
    const myGate = gates.find((g) => String(g.id) === localStorage.getItem(GATE_KEY) && g.campusId === row.campus.id) ?? null;
    const exit = h('button', { type: 'button', class: 'btn btn-outline-danger btn-sm', dataset: { exit: String(row.passId) } }, oc('recordExit'));
    exit.addEventListener('click', () => {
      const gate = myGate ? myGate.name : oc('unknownGate');
      if (!window.confirm(oc('confirmExit', { name: row.name, org: row.organisation, gate }))) return;
      void busy(exit, async () => {
        try {
          await post(`/api/gate/on-campus/${row.passId}/exit`, { gateId: myGate?.id ?? null });
          clear(messages).append(alertBox(oc('exitRecorded', { name: row.name }), 'success'));
          await load();
        } catch (err) {
          if (!session.needsLogin(err)) clear(messages).append(alertBox(errorMessage(err)));
        }
      });
    });
    return h(
      'article',
      { class: `card vf-card mb-2 vf-oc-row${row.overstay ? ' vf-oc-overstay' : ''}`, dataset: { pass: String(row.passId), overstay: String(row.overstay) } },
      h(
        'div',
        { class: 'card-body py-2' },
        h('div', { class: 'd-flex justify-content-between align-items-start gap-2' }, h('div', { class: 'fw-semibold' }, `${row.name} · ${row.organisation}`), stateBadge(row)),
        h(
          'div',
          { class: 'small text-secondary' },
          [row.mobile, row.plateNumber, row.department.name].filter(Boolean).join(' · '),
        ),
        h('div', { class: 'small' }, `${oc('gate')}：${gateLabel(row.gate)} ${fmtDateTime(row.enteredAt)}`),
        h('div', { class: 'small' }, `${oc('validUntil')}：${fmtDateTime(row.validUntil)}`),
        h('div', { class: 'mt-2' }, exit),
      ),
    );
  };

  const show = (answer: OnCampusAnswer) => {
    if (answer.scope.campusId !== null) {
      campusSel.value = String(answer.scope.campusId);
      campusSel.disabled = true;
    }
    const { summary } = answer;
    const campusCounts = summary.campuses.length === 1 ? summary.campuses[0] : null;
    const gateRows = campusCounts
      ? campusCounts.gates.map((g) =>
          h(
            'li',
            { class: 'd-flex justify-content-between', dataset: { gate: String(g.id ?? 'unknown') } },
            h('span', null, gateLabel(g)),
            h('span', null, oc('people', { n: g.total }), g.overstays ? h('span', { class: 'text-danger fw-semibold ms-2' }, oc('overstayCount', { n: g.overstays })) : ''),
          ),
        )
      : summary.campuses.map((c) =>
          h(
            'li',
            { class: 'd-flex justify-content-between', dataset: { campus: String(c.id) } },
            h('span', null, c.name),
            h('span', null, oc('people', { n: c.total }), c.overstays ? h('span', { class: 'text-danger fw-semibold ms-2' }, oc('overstayCount', { n: c.overstays })) : ''),
          ),
        );
    clear(counts).append(
      h(
        'div',
        { class: 'card-body' },
        h(
          'div',
          { class: 'd-flex gap-3 text-center' },
          h('div', { class: 'flex-fill' }, h('div', { class: 'display-6 fw-bold', id: 'oc-total' }, String(summary.total)), h('div', { class: 'small text-secondary' }, oc('inside'))),
          h(
            'div',
            { class: `flex-fill rounded ${summary.overstays ? 'bg-danger text-white' : ''}` },
            h('div', { class: 'display-6 fw-bold', id: 'oc-overstays' }, String(summary.overstays)),
            h('div', { class: 'small' }, oc('overstays')),
          ),
        ),
        gateRows.length ? h('ul', { class: 'list-unstyled small mt-3 mb-0', id: 'oc-gates' }, ...gateRows) : '',
      ),
    );
    const rows = answer.visitors;
    clear(list).append(
      ...(rows.length ? rows.map(rowCard) : [h('p', { class: 'text-secondary text-center my-4', id: 'oc-empty' }, showAll.checked ? oc('none') : oc('noOverstays'))]),
      answer.truncated ? h('p', { class: 'small text-secondary' }, oc('truncated', { shown: rows.length, total: answer.total })) : '',
    );
    updated.textContent = oc('updated', { time: fmtDateTime(answer.at), seconds: REFRESH_SECONDS });
  };

  async function load() {
    clearTimeout(timer);
    const params = new URLSearchParams();
    if (campusSel.value) params.set('campusId', campusSel.value);
    if (!showAll.checked) params.set('overstay', 'true');
    try {
      const answer = await get<OnCampusAnswer>(`/api/gate/on-campus?${params}`);
      if (stopped) return;
      show(answer);
    } catch (err) {
      if (stopped || session.needsLogin(err)) return;
      // A guard limited to their department's campus who had chosen another: ask for theirs (the answer names it).
      if (err instanceof ApiError && err.code === 'CAMPUS_NOT_IN_SCOPE' && campusSel.value) {
        campusSel.value = '';
        localStorage.setItem(LIST_CAMPUS_KEY, '');
        return load();
      }
      clear(messages).append(alertBox(errorMessage(err)));
    }
    if (!stopped) timer = setTimeout(() => void load(), REFRESH_SECONDS * 1000);
  }

  campusSel.addEventListener('change', () => {
    localStorage.setItem(LIST_CAMPUS_KEY, campusSel.value);
    void load();
  });
  showAll.addEventListener('change', () => {
    localStorage.setItem(ALL_KEY, showAll.checked ? '1' : '0');
    void load();
  });
  await load();
  return stop;
}
