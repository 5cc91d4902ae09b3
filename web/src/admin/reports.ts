/**
 * The Reports page (issue 15), shared by the admin page (everything) and the staff page (a leader's own
 * department; the server fixes the scope). Chart.js draws the charts: it is imported here only, so it lands
 * in this screen's chunk and the other screens of either page do not download it.
 */
import { BarController, BarElement, CategoryScale, Chart, type ChartConfiguration, Legend, LinearScale, Tooltip } from 'chart.js';
import { ApiError, errorMessage, get } from '../lib/api.ts';
import { alertBox, busy, clear, h, loading } from '../lib/dom.ts';
import { currentLang } from '../lib/i18n.ts';
import { duration, percent, rt, stepName } from './reports-i18n.ts';
import './reports.css';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);

type View = (main: HTMLElement, params: Record<string, string>, query: URLSearchParams) => Promise<(() => void) | void>;

export interface ReportsHost {
  /** The screen's own address (`#/reports`): the filter form goes there with its query. */
  route: string;
  go(hash: string): void;
  /** True when the failure means "log in again" (the page then shows its login). */
  needsLogin(err: unknown): boolean;
}

interface Filter {
  from: string;
  to: string;
  campusId: number | null;
  departmentId: number | null;
  scope: 'all' | 'department';
}

const STATUSES = ['approved', 'refused', 'expired', 'withdrawn', 'pending'] as const;
const COLORS: Record<string, string> = {
  approved: '#198754',
  refused: '#dc3545',
  expired: '#6c757d',
  withdrawn: '#adb5bd',
  pending: '#0d6efd',
  p50: '#0d6efd',
  p90: '#fd7e14',
  noShows: '#dc3545',
  entries: '#6f42c1',
  refusals: '#dc3545',
};

const addDays = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

function card(id: string, title: string, ...body: (Node | string | null)[]) {
  return h('section', { class: 'card vf-card mb-3', id }, h('div', { class: 'card-body' }, h('h2', { class: 'h6 card-title mb-2' }, title), ...body));
}

function table(id: string, headers: string[], rows: (string | number)[][]) {
  return h(
    'div',
    { class: 'table-responsive mt-2' },
    h(
      'table',
      { class: 'table table-sm align-middle mb-0 vf-report-table', id },
      h('thead', null, h('tr', null, ...headers.map((x, i) => h('th', { scope: 'col', class: i ? 'text-end' : '' }, x)))),
      h('tbody', null, ...rows.map((r) => h('tr', null, ...r.map((c, i) => h('td', { class: i ? 'text-end' : '' }, String(c)))))),
    ),
  );
}

/** Saves what the server answered under the name it gave (Content-Disposition). */
function saveFile(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function reportsView(host: ReportsHost): View {
  return async (main, _params, query) => {
    main.classList.add('vf-wide');
    const charts: Chart<'bar'>[] = [];
    const params = new URLSearchParams();
    for (const k of ['from', 'to', 'campusId', 'departmentId']) if (query.get(k)) params.set(k, query.get(k)!);
    const messages = h('div', { id: 'report-messages' });
    const body = h('div', null, loading(rt('loading')));
    const heading = h('h1', { class: 'h5 mb-1', id: 'report-title' }, rt('title'));
    const filters = h('form', { class: 'row g-2 align-items-end mb-2', id: 'report-filters', novalidate: true });
    main.append(
      h(
        'section',
        { class: 'card vf-card mb-3' },
        h('div', { class: 'card-body' }, heading, h('p', { class: 'small text-secondary mb-2' }, rt('help')), filters, messages),
      ),
      body,
    );

    let results: [any, any, any, any, any];
    let campuses: { id: number; name: string }[];
    let departments: { id: number; name: string; campusId: number }[];
    try {
      const [c, d, ...reports] = await Promise.all([
        get<{ campuses: any[] }>('/api/directory/campuses'),
        get<{ departments: any[] }>('/api/directory/departments'),
        get(`/api/reports/visits?${params}`),
        get(`/api/reports/approval-times?${params}`),
        get(`/api/reports/refusals?${params}`),
        get(`/api/reports/no-shows?${params}`),
        get(`/api/reports/peak-hours?${params}`),
      ]);
      campuses = c.campuses;
      departments = d.departments;
      results = reports as typeof results;
    } catch (err) {
      if (host.needsLogin(err)) return;
      clear(body);
      messages.append(alertBox(errorMessage(err)));
      // A refused filter still gets the form, so it can be corrected.
      drawFilters(filters, host, query, null, [], []);
      void Promise.all([get<{ campuses: any[] }>('/api/directory/campuses'), get<{ departments: any[] }>('/api/directory/departments')])
        .then(([c, d]) => drawFilters(clear(filters) as HTMLFormElement, host, query, null, c.campuses, d.departments))
        .catch(() => {});
      return;
    }
    const [visits, times, refusals, noShows, peak] = results;
    const filter: Filter = visits.filter;
    if (filter.scope === 'department') {
      const dept = departments.find((d) => d.id === filter.departmentId);
      heading.textContent = rt('deptTitle', { department: dept?.name ?? String(filter.departmentId) });
    }
    drawFilters(filters, host, query, filter, campuses, departments);
    const exportParams = new URLSearchParams({ from: filter.from, to: filter.to, lang: currentLang() });
    if (filter.campusId) exportParams.set('campusId', String(filter.campusId));
    if (filter.departmentId && filter.scope === 'all') exportParams.set('departmentId', String(filter.departmentId));
    const exportButton = (format: 'csv' | 'xlsx', report: string, label: string) => {
      const button = h('button', { type: 'button', class: `btn btn-sm ${format === 'xlsx' ? 'btn-success' : 'btn-outline-secondary'}`, dataset: { export: `${format}-${report}` } }, label);
      button.addEventListener('click', () =>
        void busy(button, async () => {
          const q = new URLSearchParams(exportParams);
          q.set('format', format);
          q.set('report', report);
          try {
            const res = await fetch(`/api/reports/export?${q}`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
            if (!res.ok) {
              const e = (await res.json().catch(() => null))?.error;
              throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? res.statusText, e?.details);
            }
            const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `report.${format}`;
            saveFile(await res.blob(), name);
            clear(messages).append(alertBox(rt('exported', { file: name }), 'success'));
          } catch (err) {
            if (!host.needsLogin(err)) clear(messages).append(alertBox(errorMessage(err)));
          }
        }),
      );
      return button;
    };
    messages.before(h('div', { class: 'd-flex flex-wrap gap-2 mb-2' }, exportButton('xlsx', 'all', rt('exportXlsx'))));

    const chartBox = (id: string) => {
      const canvas = h('canvas', { id, role: 'img' });
      return { canvas, box: h('div', { class: 'vf-chart' }, canvas) };
    };
    const draw = (canvas: HTMLCanvasElement, config: ChartConfiguration<'bar', (number | null)[], string>) => {
      canvas.setAttribute('aria-label', canvas.closest('section')?.querySelector('h2')?.textContent ?? '');
      charts.push(new Chart(canvas, { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options } }));
    };
    const csv = (report: string) => h('div', { class: 'mt-2' }, exportButton('csv', report, rt('exportCsv')));

    // Visits per day (stacked by outcome), and per campus and department.
    const vChart = chartBox('chart-visits');
    const statusHeaders = STATUSES.map((s) => rt(`status.${s}`));
    const counts = (c: any) => [c.total, ...STATUSES.map((s) => c[s])];
    const visitsCard = card(
      'report-visits',
      rt('visits.title'),
      h('p', { class: 'small mb-2', id: 'visits-summary' }, rt('visits.total', visits.total)),
      vChart.box,
      filter.scope === 'all'
        ? table('report-visits-campus', [rt('campus'), rt('total'), ...statusHeaders], visits.byCampus.map((c: any) => [c.campus, ...counts(c)]))
        : null,
      table('report-visits-department', [rt('department'), rt('total'), ...statusHeaders], visits.byDepartment.map((d: any) => [d.department, ...counts(d)])),
      csv('visits'),
    );

    const tChart = chartBox('chart-times');
    const timeRows = [
      ...times.steps.map((s: any) => ({ label: stepName(s.step, s.name), ...s })),
      { label: rt('times.submitToEnd'), ...times.submitToEnd },
    ];
    const timesCard = card(
      'report-times',
      rt('times.title'),
      tChart.box,
      table(
        'report-times-table',
        [rt('times.step'), rt('times.count'), rt('times.p50'), rt('times.p90')],
        timeRows.map((r: any) => [r.label, r.count, duration(r.p50Seconds), duration(r.p90Seconds)]),
      ),
      csv('approval-times'),
    );

    const rChart = chartBox('chart-refusals');
    const reasonLabel = (r: any) => (r.other ? rt('refusals.other') : r.reason || rt('refusals.noOpinion'));
    const refusalsCard = card(
      'report-refusals',
      rt('refusals.title'),
      h('p', { class: 'small mb-2' }, rt('refusals.total', { total: refusals.total })),
      refusals.total ? rChart.box : h('p', { class: 'text-secondary small' }, rt('noData')),
      table(
        'report-refusals-table',
        [rt('refusals.reason'), rt('refusals.count'), rt('refusals.share')],
        refusals.reasons.map((r: any) => [reasonLabel(r) + (r.stock ? ` (${rt('refusals.stock')})` : ''), r.count, percent(r.share)]),
      ),
      csv('refusals'),
    );

    const nChart = chartBox('chart-no-shows');
    const noShowsCard = card(
      'report-no-shows',
      rt('noShows.title'),
      h('p', { class: 'small mb-2', id: 'no-shows-summary' }, rt('noShows.total', { ...noShows.total, rate: percent(noShows.total.rate) })),
      nChart.box,
      table(
        'report-no-shows-table',
        [rt('department'), rt('noShows.approved'), rt('noShows.noShows'), rt('noShows.rate')],
        noShows.byDepartment.map((d: any) => [d.department, d.approved, d.noShows, percent(d.rate)]),
      ),
      csv('no-shows'),
    );

    const pChart = chartBox('chart-peak');
    const hourLabel = (hr: number) => `${String(hr).padStart(2, '0')}:00`;
    const peakCard = card(
      'report-peak',
      rt('peak.title'),
      h('p', { class: 'small mb-2', id: 'peak-summary' }, rt('peak.total', { total: peak.total, hour: peak.peakHour === null ? '–' : hourLabel(peak.peakHour) })),
      pChart.box,
      csv('peak-hours'),
    );

    clear(body).append(
      h('div', { class: 'row g-3' }, h('div', { class: 'col-12' }, visitsCard)),
      h('div', { class: 'row g-3' }, h('div', { class: 'col-lg-6' }, timesCard), h('div', { class: 'col-lg-6' }, refusalsCard)),
      h('div', { class: 'row g-3' }, h('div', { class: 'col-lg-6' }, noShowsCard), h('div', { class: 'col-lg-6' }, peakCard)),
    );

    // Charts after the canvases are in the page, so that they take their boxes' size.
    const dayLabels = visits.byDay.map((d: any) => d.day.slice(5));
    draw(vChart.canvas, {
      type: 'bar',
      data: {
        labels: dayLabels,
        datasets: STATUSES.map((s) => ({ label: rt(`status.${s}`), data: visits.byDay.map((d: any) => d[s]), backgroundColor: COLORS[s], stack: 'visits' })),
      },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
    const hours = (s: number | null) => (s === null ? null : Math.round(s / 36) / 100);
    draw(tChart.canvas, {
      type: 'bar',
      data: {
        labels: timeRows.map((r: any) => r.label),
        datasets: [
          { label: `${rt('times.p50')} (${rt('times.hours')})`, data: timeRows.map((r: any) => hours(r.p50Seconds)), backgroundColor: COLORS.p50 },
          { label: `${rt('times.p90')} (${rt('times.hours')})`, data: timeRows.map((r: any) => hours(r.p90Seconds)), backgroundColor: COLORS.p90 },
        ],
      },
      options: { scales: { y: { beginAtZero: true } } },
    });
    if (refusals.total) {
      draw(rChart.canvas, {
        type: 'bar',
        data: {
          labels: refusals.reasons.map((r: any) => {
            const text = reasonLabel(r);
            return text.length > 24 ? `${text.slice(0, 23)}…` : text;
          }),
          datasets: [{ label: rt('refusals.count'), data: refusals.reasons.map((r: any) => r.count), backgroundColor: COLORS.refusals }],
        },
        options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
    draw(nChart.canvas, {
      type: 'bar',
      data: {
        labels: noShows.byDay.map((d: any) => d.day.slice(5)),
        datasets: [
          { label: rt('noShows.approved'), data: noShows.byDay.map((d: any) => d.approved), backgroundColor: COLORS.approved },
          { label: rt('noShows.noShows'), data: noShows.byDay.map((d: any) => d.noShows), backgroundColor: COLORS.noShows },
        ],
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    draw(pChart.canvas, {
      type: 'bar',
      data: {
        labels: peak.hours.map((x: any) => hourLabel(x.hour)),
        datasets: [{ label: rt('peak.entries'), data: peak.hours.map((x: any) => x.entries), backgroundColor: COLORS.entries }],
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
    main.setAttribute('data-report-ready', 'true');
    return () => {
      for (const chart of charts) chart.destroy();
    };
  };
}

function drawFilters(
  form: HTMLFormElement,
  host: ReportsHost,
  query: URLSearchParams,
  filter: Filter | null,
  campuses: { id: number; name: string }[],
  departments: { id: number; name: string; campusId: number }[],
) {
  const label = (text: string, control: HTMLElement, cls = 'col-6 col-md') =>
    h('div', { class: cls }, h('label', { class: 'form-label small mb-1', for: control.id }, text), control);
  const from = h('input', { class: 'form-control form-control-sm', type: 'date', name: 'from', id: 'report-from', value: filter?.from ?? query.get('from') ?? '' });
  const to = h('input', { class: 'form-control form-control-sm', type: 'date', name: 'to', id: 'report-to', value: filter?.to ?? query.get('to') ?? '' });
  const leader = filter?.scope === 'department';
  const campus = h('select', { class: 'form-select form-select-sm', name: 'campusId', id: 'report-campus' }, h('option', { value: '' }, rt('all')));
  const dept = h('select', { class: 'form-select form-select-sm', name: 'departmentId', id: 'report-department' }, h('option', { value: '' }, rt('all')));
  const chosenCampus = String(filter?.campusId ?? query.get('campusId') ?? '');
  const chosenDept = String(filter?.departmentId ?? query.get('departmentId') ?? '');
  for (const c of campuses) campus.append(h('option', { value: String(c.id), selected: String(c.id) === chosenCampus }, c.name));
  const fillDepartments = () => {
    const keep = dept.value || chosenDept;
    clear(dept).append(h('option', { value: '' }, rt('all')));
    for (const d of departments.filter((x) => !campus.value || String(x.campusId) === campus.value)) {
      dept.append(h('option', { value: String(d.id), selected: String(d.id) === keep }, d.name));
    }
  };
  fillDepartments();
  campus.addEventListener('change', fillDepartments);
  const quick = (label: string, days: number) =>
    h('button', {
      type: 'button',
      class: 'btn btn-sm btn-link',
      onclick: () => {
        const end = to.value || new Date().toISOString().slice(0, 10);
        to.value = end;
        from.value = addDays(end, -(days - 1));
        form.requestSubmit();
      },
    }, label);
  form.append(
    ...[
    label(rt('from'), from),
    label(rt('to'), to),
    leader ? null : label(rt('campus'), campus),
    leader ? null : label(rt('department'), dept),
    h('div', { class: 'col-12 col-md-auto' }, h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'report-apply' }, rt('apply')), quick(rt('last30'), 30), quick(rt('last365'), 365)),
    ].filter((x): x is HTMLDivElement => x !== null),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams([...new FormData(form)].map(([k, v]) => [k, String(v)] as [string, string]).filter(([, v]) => v));
    host.go(`${host.route}?${next}`);
  });
}
