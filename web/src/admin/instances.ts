/** Applications and their instances: filtered list; detail with the marked diagram, history, variables, incidents. */
import { errorMessage, get, post } from '../lib/api.ts';
import { busy, clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { kv, statusBadge, visitWindow } from '../lib/kv.ts';
import { watchWarningBox } from '../lib/watch.ts';
import { at } from './i18n.ts';
import type { View } from './main.ts';
import { button, failed, go, labelled, needsLogin, panel, say, table } from './ui.ts';

const STATUSES = ['submitted', 'pending', 'approved', 'refused', 'expired', 'withdrawn'];
const TASK_STATUS_ZH: Record<string, string> = { open: '待办理', completed: '已完成', canceled: '已取消' };
const STATUS_ZH: Record<string, string> = { submitted: '已提交', pending: '审核中', approved: '已通过', refused: '未通过', expired: '已过期', withdrawn: '已撤回' };

export const instanceList: View = async (main, _p, query) => {
  const page = Math.max(1, Number(query.get('page')) || 1);
  const pageSize = 20;
  const filters = h('form', { class: 'row g-2 align-items-end mb-3', id: 'inst-filters' });
  const body = h('div', null, loading('正在加载…'));
  main.append(panel(at('inst.title'), filters, body));

  const statusSel = h('select', { class: 'form-select form-select-sm', name: 'status' }, h('option', { value: '' }, at('common.all')), ...STATUSES.map((s) => h('option', { value: s, selected: s === query.get('status') }, STATUS_ZH[s])));
  const campusSel = h('select', { class: 'form-select form-select-sm', name: 'campusId' }, h('option', { value: '' }, at('common.all')));
  const input = (name: string, type = 'text') => h('input', { class: 'form-control form-control-sm', name, type, value: query.get(name) ?? '' });
  filters.append(
    labelled(at('common.status'), statusSel),
    labelled(at('dir.campus'), campusSel),
    labelled('到访日期起', input('from', 'date')),
    labelled('到访日期止', input('to', 'date')),
    labelled(at('inst.flow'), input('flowNumber')),
    h('div', { class: 'col-md-auto' }, h('button', { type: 'submit', class: 'btn btn-sm btn-outline-primary' }, at('common.filter'))),
  );
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = new URLSearchParams([...new FormData(filters)].map(([k, v]) => [k, String(v)] as [string, string]).filter(([, v]) => v));
    go(`#/instances?${next}`);
  });
  void get<{ campuses: any[] }>('/api/admin/campuses')
    .then(({ campuses }) => {
      for (const c of campuses) campusSel.append(h('option', { value: String(c.id), selected: String(c.id) === query.get('campusId') }, c.name));
    })
    .catch(() => {});

  const params = new URLSearchParams({ page: String(page), pageSize: String(pageSize) });
  for (const k of ['status', 'campusId', 'departmentId', 'from', 'to', 'flowNumber']) if (query.get(k)) params.set(k, query.get(k)!);
  try {
    const { instances, total } = await get<{ instances: any[]; total: number }>(`/api/admin/instances?${params}`);
    const rows = instances.map((i) =>
      h(
        'tr',
        { dataset: { flow: i.flowNumber } },
        h('td', null, h('code', null, i.flowNumber)),
        h('td', null, statusBadge(i.status, i.statusText)),
        h('td', null, i.visitorName),
        h('td', null, `${i.campus?.name ?? ''} / ${i.department?.name ?? ''}`),
        h('td', null, visitWindow(i)),
        h('td', null, i.processId ? `${i.processId} v${i.processVersion}` : '—'),
        h('td', null, i.currentSteps.map((s: any) => s.name || s.elementId).join('、') || '—'),
        h('td', null, i.openIncidents ? h('span', { class: 'badge text-bg-danger' }, String(i.openIncidents)) : '0'),
        h('td', null, fmtDateTime(i.createdAt)),
        h('td', null, h('a', { class: 'btn btn-sm btn-outline-primary', href: `#/instances/${i.applicationId}` }, at('common.open'))),
      ),
    );
    const pages = Math.max(1, Math.ceil(total / pageSize));
    const pageLink = (n: number, label: string) => {
      const q = new URLSearchParams(query);
      q.set('page', String(n));
      return h('a', { class: `btn btn-sm btn-outline-secondary${n < 1 || n > pages ? ' disabled' : ''}`, href: `#/instances?${q}` }, label);
    };
    clear(body).append(
      table([at('inst.flow'), at('common.status'), at('inst.visitor'), at('inst.unit'), at('inst.window'), at('inst.process'), at('inst.current'), at('inst.incidents'), at('inst.created'), ''], rows, { id: 'inst-table' }),
      h('div', { class: 'd-flex align-items-center gap-2 mt-2 small' }, pageLink(page - 1, at('common.prev')), at('common.page', { page, pages, total }), pageLink(page + 1, at('common.next'))),
    );
  } catch (err) {
    failed(body, err);
  }
};

export const instanceDetail: View = async (main, params) => {
  const id = params.id;
  let viewer: { destroy(): void } | null = null;
  const slot = h('div', { id: 'inst-messages' });
  const draw = async (detail: any) => {
    clear(main);
    viewer?.destroy();
    viewer = null;
    const { application: app, instance, process, tasks } = detail;
    const cancelable = ['submitted', 'pending'].includes(app.status);
    const cancelBtn = button(at('inst.cancel'), () => void cancel(cancelBtn), 'btn-outline-danger', { id: 'inst-cancel', disabled: !cancelable });
    main.append(
      h(
        'div',
        { class: 'd-flex align-items-center gap-2 mb-2' },
        h('a', { href: '#/instances', class: 'btn btn-sm btn-link' }, `← ${at('common.back')}`),
        h('h1', { class: 'h5 mb-0' }, app.flowNumber),
        statusBadge(app.status, app.statusText),
        h('div', { class: 'ms-auto' }, cancelBtn),
      ),
      slot,
      app.watchHit?.entries?.length ? watchWarningBox(app.watchHit.entries, 'review', 'inst-watch') : '',
    );
    const diagram = h('div', { class: 'vf-viewer', id: 'instance-diagram' });
    main.append(
      panel(
        `${at('inst.diagram')}${process ? `：${process.name || process.processId} v${process.version}` : ''}`,
        h('div', { class: 'vf-legend small text-secondary mb-2' }, h('span', { class: 'done' }), at('inst.legendDone'), h('span', { class: 'current' }), at('inst.legendCurrent'), h('span', { class: 'incident' }), at('inst.legendIncident')),
        instance ? diagram : h('p', { class: 'text-secondary' }, at('inst.noInstance')),
      ),
    );
    if (instance?.incidents?.length) {
      main.append(
        panel(
          at('inst.incidents'),
          table(
            [at('inst.task'), at('proc.problemAt'), at('dir.message'), at('audit.at'), ''],
            instance.incidents.map((i: any) => {
              const retry = button(at('inst.retry'), () => void retryIncident(i.key, retry), 'btn-outline-primary', { dataset: { incident: i.key } });
              return h('tr', null, h('td', null, i.type), h('td', null, h('code', null, i.elementId)), h('td', { class: 'small' }, i.message), h('td', null, fmtDateTime(i.createdAt)), h('td', null, retry));
            }),
            { id: 'inst-incidents' },
          ),
        ),
      );
    }
    main.append(
      h(
        'div',
        { class: 'row g-3' },
        h(
          'div',
          { class: 'col-lg-6' },
          panel(
            at('inst.application'),
            kv([
              [at('inst.visitor'), app.data?.visitorName ?? ''],
              [at('dir.campus'), app.campus?.name],
              [at('dir.department'), app.department?.name],
              ['接待人', app.hostName],
              [at('inst.window'), visitWindow(app)],
              [at('inst.current'), app.currentStep],
              [at('inst.process'), app.processId ? `${app.processId} v${app.processVersion}` : null],
              ['表单版本', app.formKey ? `${app.formKey} v${app.formVersion}` : null],
            ]),
          ),
          app.group?.companions?.length
            ? panel(
                at('inst.companions', { count: app.group.companions.length }),
                table(
                  [at('inst.visitor'), '身份证号', '手机号'],
                  app.group.companions.map((c: any) => h('tr', null, h('td', null, c.name), h('td', null, c.idNumber), h('td', null, c.mobile))),
                  { id: 'inst-companions' },
                ),
              )
            : null,
          panel(
            at('inst.history'),
            h(
              'ul',
              { class: 'vf-timeline', id: 'inst-timeline' },
              ...(app.timeline ?? []).map((e: any) =>
                h('li', null, h('div', { class: 'small text-secondary' }, fmtDateTime(e.at)), h('div', null, e.title, e.actor ? ` · ${e.actor}` : ''), e.opinion ? h('div', { class: 'small' }, `${at('inst.opinion')}：${e.opinion}`) : null),
              ),
            ),
          ),
        ),
        h(
          'div',
          { class: 'col-lg-6' },
          panel(
            at('inst.tasks'),
            table(
              [at('inst.task'), at('common.status'), at('inst.assignee'), at('inst.decision'), at('inst.opinion'), at('inst.completed')],
              tasks.map((x: any) =>
                h(
                  'tr',
                  { dataset: { element: x.elementId } },
                  h('td', null, x.name),
                  h('td', null, statusBadge(x.status, TASK_STATUS_ZH[x.status])),
                  h('td', { class: 'small' }, x.completedBy?.name ?? x.claimedBy?.name ?? x.assignee?.name ?? x.assignee ?? (x.candidateGroups ?? []).join('、')),
                  h('td', null, x.decision === 'approve' ? '同意' : x.decision === 'refuse' ? '否决' : (x.decision ?? '')),
                  h('td', { class: 'small' }, x.opinion ?? ''),
                  h('td', null, fmtDateTime(x.completedAt)),
                ),
              ),
              { id: 'inst-tasks' },
            ),
          ),
          instance ? panel(at('inst.variables'), h('pre', { class: 'vf-json', id: 'inst-variables' }, JSON.stringify(instance.variables, null, 2))) : null,
        ),
      ),
    );
    if (instance && process?.xml) {
      const { showInstanceDiagram } = await import('./viewer.ts');
      viewer = await showInstanceDiagram(diagram, process.xml, {
        completed: instance.completedElementIds ?? [],
        current: instance.currentElementIds ?? [],
        incidents: (instance.incidents ?? []).map((i: any) => i.elementId),
      });
    }
  };

  const retryIncident = async (key: string, btn: HTMLButtonElement) => {
    await busy(btn, async () => {
      try {
        await draw(await post(`/api/admin/instances/${encodeURIComponent(id)}/incidents/${encodeURIComponent(key)}/retry`, {}));
        say(slot, at('inst.retried'));
      } catch (err) {
        if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
      }
    });
  };
  const cancel = async (btn: HTMLButtonElement) => {
    if (!window.confirm(at('inst.cancelConfirm'))) return;
    const reason = window.prompt(at('inst.cancelReason')) ?? '';
    await busy(btn, async () => {
      try {
        await draw(await post(`/api/admin/instances/${encodeURIComponent(id)}/cancel`, reason ? { reason } : {}));
        say(slot, at('inst.canceled'));
      } catch (err) {
        if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
      }
    });
  };

  try {
    await draw(await get(`/api/admin/instances/${encodeURIComponent(id)}`));
  } catch (err) {
    failed(main, err);
  }
  return () => viewer?.destroy();
};
