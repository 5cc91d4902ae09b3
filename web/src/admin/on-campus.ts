/**
 * Who is on campus now, for the security office: counts per campus and gate of entry, the visitors (masked) with
 * overstays first and in red, filters by campus, gate and overstays only; refreshes itself while open.
 */
import { get } from '../lib/api.ts';
import { clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { type CampusCount, gateLabel, type OnCampusAnswer, oc, REFRESH_SECONDS, stateBadge } from '../lib/on-campus.ts';
import type { View } from './main.ts';
import { failed, go, labelled, panel, table } from './ui.ts';

interface Campus {
  id: number;
  name: string;
  active: boolean;
}
interface Gate {
  id: number;
  campusId: number;
  name: string;
  active: boolean;
}

export const onCampusPage: View = async (main, _p, query) => {
  const campusId = query.get('campusId') ?? '';
  const gateId = query.get('gateId') ?? '';
  const overstayOnly = query.get('overstay') === '1';
  const auto = query.get('auto') !== '0';
  const [{ campuses }, { gates }] = await Promise.all([get<{ campuses: Campus[] }>('/api/admin/campuses'), get<{ gates: Gate[] }>('/api/admin/gates')]);

  const campusSel = h(
    'select',
    { class: 'form-select form-select-sm', id: 'oc-campus', name: 'campusId' },
    h('option', { value: '' }, oc('allCampuses')),
    ...campuses.map((c) => h('option', { value: String(c.id), selected: String(c.id) === campusId }, c.name)),
  );
  const gateChoices = gates.filter((g) => !campusId || String(g.campusId) === campusId);
  const campusName = new Map(campuses.map((c) => [c.id, c.name]));
  const gateSel = h(
    'select',
    { class: 'form-select form-select-sm', id: 'oc-gate', name: 'gateId' },
    h('option', { value: '' }, oc('allGates')),
    ...gateChoices.map((g) => h('option', { value: String(g.id), selected: String(g.id) === gateId }, campusId ? g.name : `${campusName.get(g.campusId) ?? ''} · ${g.name}`)),
    h('option', { value: 'unknown', selected: gateId === 'unknown' }, oc('unknownGate')),
  );
  const overstayBox = h('input', { type: 'checkbox', class: 'form-check-input', id: 'oc-overstay', checked: overstayOnly });
  const autoBox = h('input', { type: 'checkbox', class: 'form-check-input', id: 'oc-auto', checked: auto });
  const refresh = h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary', id: 'oc-refresh' }, oc('refresh'));
  const updated = h('span', { class: 'small text-secondary', id: 'oc-updated' });
  const filters = h(
    'form',
    { class: 'row g-2 align-items-end mb-3', id: 'oc-filters' },
    labelled(oc('campus'), campusSel, 'col-md-3'),
    labelled(oc('gate'), gateSel, 'col-md-3'),
    h('div', { class: 'col-md-auto form-check ms-2' }, overstayBox, h('label', { class: 'form-check-label', for: 'oc-overstay' }, oc('overstayOnly'))),
    h('div', { class: 'col-md-auto form-check ms-2' }, autoBox, h('label', { class: 'form-check-label', for: 'oc-auto' }, oc('autoRefresh'))),
    h('div', { class: 'col-md-auto' }, refresh),
    h('div', { class: 'col-12' }, updated),
  );
  const navigate = (change: Record<string, string>) => {
    const next = new URLSearchParams({ campusId, gateId, overstay: overstayOnly ? '1' : '', auto: auto ? '' : '0', ...change });
    for (const [k, v] of [...next]) if (!v) next.delete(k);
    go(`#/on-campus?${next}`);
  };
  // A gate belongs to one campus: choosing another campus clears the gate.
  campusSel.addEventListener('change', () => navigate({ campusId: campusSel.value, gateId: gateId === 'unknown' ? gateId : '' }));
  gateSel.addEventListener('change', () => navigate({ gateId: gateSel.value }));
  overstayBox.addEventListener('change', () => navigate({ overstay: overstayBox.checked ? '1' : '' }));
  autoBox.addEventListener('change', () => navigate({ auto: autoBox.checked ? '' : '0' }));
  filters.addEventListener('submit', (ev) => ev.preventDefault());

  const summary = h('div', { id: 'oc-summary' });
  const body = h('div', null, loading(oc('title')));
  main.append(panel(oc('title'), filters, summary, body));

  const gateChip = (g: CampusCount['gates'][number]) =>
    h(
      'span',
      { class: `badge me-1 mb-1 ${g.overstays ? 'text-bg-danger' : 'text-bg-light border text-dark'}`, dataset: { gate: String(g.id ?? 'unknown') } },
      `${gateLabel(g)} ${g.total}`,
      g.overstays ? `（${oc('overstayCount', { n: g.overstays })}）` : '',
    );

  const show = (answer: OnCampusAnswer) => {
    const s = answer.summary;
    clear(summary).append(
      h(
        'div',
        { class: 'd-flex gap-3 mb-3' },
        h('div', { class: 'border rounded px-3 py-2' }, h('div', { class: 'fs-3 fw-bold', id: 'oc-total' }, String(s.total)), h('div', { class: 'small text-secondary' }, oc('inside'))),
        h(
          'div',
          { class: `border rounded px-3 py-2 ${s.overstays ? 'bg-danger text-white border-danger' : ''}` },
          h('div', { class: 'fs-3 fw-bold', id: 'oc-overstays' }, String(s.overstays)),
          h('div', { class: 'small' }, oc('overstays')),
        ),
      ),
      table(
        [oc('campus'), oc('inside'), oc('overstays'), oc('gate')],
        s.campuses.map((c) =>
          h(
            'tr',
            { dataset: { campus: String(c.id) }, class: c.overstays ? 'table-danger' : undefined },
            h('td', null, c.name),
            h('td', null, String(c.total)),
            h('td', { class: c.overstays ? 'fw-bold text-danger' : undefined }, String(c.overstays)),
            h('td', null, ...c.gates.map(gateChip)),
          ),
        ),
        { id: 'oc-campus-table' },
      ),
    );
    const rows = answer.visitors.map((r) =>
      h(
        'tr',
        { class: r.overstay ? 'table-danger vf-oc-overstay' : undefined, dataset: { pass: String(r.passId), overstay: String(r.overstay) } },
        h('td', { class: 'text-nowrap' }, stateBadge(r)),
        h('td', { class: 'text-nowrap' }, h('a', { href: `#/instances/${r.applicationId}` }, r.name)),
        h('td', { class: 'text-nowrap' }, r.mobile),
        h('td', null, r.organisation),
        h('td', null, r.department.name),
        h('td', { class: 'text-nowrap' }, r.campus.name),
        h('td', { class: 'text-nowrap vf-oc-gate' }, gateLabel(r.gate)),
        h('td', { class: 'text-nowrap' }, fmtDateTime(r.enteredAt)),
        h('td', { class: 'text-nowrap' }, r.plateNumber ?? ''),
        h('td', { class: 'text-nowrap' }, fmtDateTime(r.validUntil)),
      ),
    );
    clear(body).append(
      h('h3', { class: 'h6 mt-4', id: 'oc-matching' }, oc('matching', { n: answer.total })),
      rows.length
        ? table(
            [oc('state'), oc('visitor'), oc('mobile'), oc('organisation'), oc('department'), oc('campus'), oc('gate'), oc('enteredAt'), oc('plate'), oc('validUntil')],
            rows,
            { id: 'oc-table' },
          )
        : h('p', { class: 'text-secondary', id: 'oc-empty' }, overstayOnly ? oc('noOverstays') : oc('none')),
      answer.truncated ? h('p', { class: 'small text-secondary mt-2' }, oc('truncated', { shown: answer.visitors.length, total: answer.total })) : '',
    );
    // The server's time of the answer: what the overstays are counted against.
    updated.textContent = auto ? oc('updated', { time: fmtDateTime(answer.at), seconds: REFRESH_SECONDS }) : oc('asOf', { time: fmtDateTime(answer.at) });
  };

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const params = new URLSearchParams();
  if (campusId) params.set('campusId', campusId);
  if (gateId) params.set('gateId', gateId);
  if (overstayOnly) params.set('overstay', 'true');
  async function load() {
    clearTimeout(timer);
    try {
      const answer = await get<OnCampusAnswer>(`/api/gate/on-campus?${params}`);
      if (stopped) return;
      show(answer);
    } catch (err) {
      if (stopped) return;
      failed(body, err);
    }
    if (auto && !stopped) timer = setTimeout(() => void load(), REFRESH_SECONDS * 1000);
  }
  refresh.addEventListener('click', () => void load());
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
};
