/** The host's pre-invitations: invite a visitor by mobile (an SMS link follows), list and cancel his own. */
import { ApiError, errorMessage, get, post } from '../lib/api.ts';
import { card, type View } from '../lib/app.ts';
import { alertBox, busy, clear, empty, fmtDateTime, h, loading } from '../lib/dom.ts';
import { type Key, t } from '../lib/i18n.ts';
import { statusBadge, visitWindow } from '../lib/kv.ts';

interface Deps {
  needsLogin(err: unknown): boolean;
  render(): void;
}

const STATUSES = ['', 'active', 'used', 'canceled', 'expired'] as const;

/** A labelled control with room for the server's field message (Bootstrap's invalid-feedback). */
function control(name: string, label: string, input: HTMLElement, help?: string) {
  input.id = `inv-${name}`;
  input.setAttribute('name', name);
  return h(
    'div',
    { class: 'col-12 col-md-6', dataset: { field: name } },
    h('label', { class: 'form-label', for: input.id }, label),
    input,
    help ? h('div', { class: 'form-text' }, help) : null,
    h('div', { class: 'invalid-feedback' }),
  );
}

function showErrors(form: HTMLElement, err: unknown): void {
  for (const el of form.querySelectorAll('.is-invalid')) el.classList.remove('is-invalid');
  if (!(err instanceof ApiError)) return;
  for (const e of err.fieldErrors) {
    const wrap = form.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
    if (!wrap) continue;
    wrap.querySelector('input, select, textarea')?.classList.add('is-invalid');
    const fb = wrap.querySelector('.invalid-feedback');
    if (fb) fb.textContent = e.message;
  }
}

export function invitationsView(deps: Deps): View {
  return async (main, _p, query) => {
    main.classList.add('vf-wide');
    main.append(loading(t('state.loading')));
    let options: any;
    try {
      options = await get('/api/invitations/options');
    } catch (err) {
      if (deps.needsLogin(err)) return;
      clear(main).append(alertBox(errorMessage(err), 'danger', () => deps.render(), t('state.retry')));
      return;
    }
    clear(main);
    const messages = h('div', { id: 'inv-messages' });
    const input = (attrs: Record<string, any>) => h('input', { class: 'form-control', ...attrs });
    const leader = h(
      'select',
      { class: 'form-select', required: true },
      h('option', { value: '' }, t('inv.pickLeader')),
      ...options.leaders.map((l: any) => h('option', { value: String(l.id) }, l.name)),
    );
    // One department: his own (a host reviews for the department he belongs to).
    const campus = h('select', { class: 'form-select', disabled: true }, h('option', { value: String(options.campus.id) }, options.campus.name));
    const department = h('select', { class: 'form-select', disabled: true }, h('option', { value: String(options.department.id) }, options.department.name));
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'inv-submit' }, t('inv.submit'));
    const form = h(
      'form',
      { class: 'row g-3', id: 'inv-form', novalidate: true },
      control('visitorMobile', t('inv.mobile'), input({ type: 'tel', inputMode: 'numeric', maxLength: 11, required: true, autocomplete: 'off' }), t('inv.mobileHelp')),
      control('visitorName', t('inv.name'), input({ maxLength: 50, autocomplete: 'off' })),
      control('campusId', t('inv.campus'), campus),
      control('departmentId', t('inv.department'), department),
      control('visitDate', t('inv.date'), input({ type: 'date', required: true })),
      h(
        'div',
        { class: 'col-12 col-md-6' },
        h(
          'div',
          { class: 'row g-2' },
          h('div', { class: 'col-6', dataset: { field: 'visitStartTime' } }, h('label', { class: 'form-label', for: 'inv-visitStartTime' }, t('inv.start')), input({ type: 'time', id: 'inv-visitStartTime', name: 'visitStartTime', required: true }), h('div', { class: 'invalid-feedback' })),
          h('div', { class: 'col-6', dataset: { field: 'visitEndTime' } }, h('label', { class: 'form-label', for: 'inv-visitEndTime' }, t('inv.end')), input({ type: 'time', id: 'inv-visitEndTime', name: 'visitEndTime', required: true }), h('div', { class: 'invalid-feedback' })),
        ),
        h('div', { class: 'form-text' }, t('inv.hours', { campus: options.campus.name, opens: options.campus.opensAt, closes: options.campus.closesAt })),
      ),
      control('leaderStaffId', t('inv.leader'), leader, t('inv.leaderHelp')),
      control('note', t('inv.note'), input({ maxLength: 500 })),
      h('div', { class: 'col-12' }, submit),
    );
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      clear(messages);
      const data = Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v !== ''));
      void busy(submit, async () => {
        try {
          const { invitation } = await post('/api/invitations', data);
          showErrors(form, null);
          form.reset();
          messages.append(alertBox(t('inv.sent', { mobile: invitation.visitorMobile }), 'success'));
          await drawList();
        } catch (err) {
          if (deps.needsLogin(err)) return;
          showErrors(form, err);
          messages.append(alertBox(errorMessage(err)));
        }
      });
    });

    const status = (STATUSES as readonly string[]).includes(query.get('status') ?? '') ? (query.get('status') ?? '') : '';
    const filter = h(
      'select',
      { class: 'form-select form-select-sm w-auto', id: 'inv-filter', 'aria-label': t('inv.col.status') },
      ...STATUSES.map((s) => h('option', { value: s, selected: s === status }, s ? t(`status.${s}` as Key) : t('staff.filter.all'))),
    );
    filter.addEventListener('change', () => {
      location.hash = filter.value ? `#/invitations?status=${filter.value}` : '#/invitations';
    });
    const listSlot = h('div', { id: 'inv-list' }, loading(t('state.loading')));
    const drawList = async () => {
      let res: any;
      try {
        res = await get(`/api/invitations?pageSize=50${status ? `&status=${status}` : ''}`);
      } catch (err) {
        if (deps.needsLogin(err)) return;
        clear(listSlot).append(alertBox(errorMessage(err), 'danger', () => void drawList(), t('state.retry')));
        return;
      }
      clear(listSlot);
      if (!res.invitations.length) {
        listSlot.append(empty(t('inv.empty')));
        return;
      }
      const cell = (label: Key, ...content: (Node | string | null)[]) => h('td', { 'data-label': t(label) }, ...content);
      const cancelButton = (inv: any) => {
        if (inv.status !== 'active') return null;
        const b = h('button', { type: 'button', class: 'btn btn-sm btn-outline-danger', dataset: { action: 'cancel' } }, t('inv.cancel'));
        b.addEventListener('click', () => {
          if (!window.confirm(t('inv.cancelConfirm'))) return;
          void busy(b, async () => {
            try {
              const { notice } = await post<{ notice: 'sms' | 'stopped' | 'unavailable' | 'none' }>(`/api/invitations/${inv.id}/cancel`);
              // Without a vendor template the visitor keeps an invitation SMS nobody withdraws: the host must call.
              const told = notice === 'unavailable' ? alertBox(t('inv.canceledNoSms', { mobile: inv.visitorMobile }), 'warning') : null;
              clear(messages).append(alertBox(t(`inv.canceled.${notice}`, { mobile: inv.visitorMobile }), 'success'), told ?? '');
              await drawList();
            } catch (err) {
              if (!deps.needsLogin(err)) clear(messages).append(alertBox(errorMessage(err)));
            }
          });
        });
        return b;
      };
      listSlot.append(
        h(
          'div',
          { class: 'table-responsive' },
          h(
            'table',
            { class: 'table table-hover align-middle vf-tasks mb-0' },
            h('thead', null, h('tr', null, ...(['inv.col.visitor', 'inv.col.window', 'inv.col.leader', 'inv.col.status', 'inv.col.application', 'inv.col.created'] as Key[]).map((k) => h('th', null, t(k))), h('th'))),
            h(
              'tbody',
              null,
              ...res.invitations.map((inv: any) =>
                h(
                  'tr',
                  { dataset: { invitationId: String(inv.id), status: inv.status } },
                  cell('inv.col.visitor', [inv.visitorName, inv.visitorMobile].filter(Boolean).join(' ')),
                  cell('inv.col.window', visitWindow(inv)),
                  cell('inv.col.leader', inv.leader?.name ?? ''),
                  cell('inv.col.status', statusBadge(inv.status, inv.statusText)),
                  cell('inv.col.application', inv.application?.flowNumber ?? ''),
                  cell('inv.col.created', fmtDateTime(inv.createdAt)),
                  h('td', { class: 'text-end' }, cancelButton(inv)),
                ),
              ),
            ),
          ),
        ),
      );
    };
    main.append(
      card(t('inv.title'), h('p', { class: 'small text-secondary' }, t('inv.lead')), messages, form),
      card(t('inv.list'), h('div', { class: 'mb-2' }, filter), listSlot),
    );
    await drawList();
  };
}
