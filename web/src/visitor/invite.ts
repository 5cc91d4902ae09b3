/**
 * A host's pre-invitation as the visitor meets it: the SMS link `/?invite=TOKEN` opens a page saying who invites
 * for when; after registering or logging in (with the invited mobile) the application form comes filled in and
 * locked for the unit, the host and the window. The token is kept in this tab's sessionStorage only, and taken
 * out of the address bar at once (so that it is not in the history, a bookmark or a shared screenshot).
 */
import { ApiError, errorMessage, post } from '../lib/api.ts';
import { card, type View } from '../lib/app.ts';
import { alertBox, clear, h, loading } from '../lib/dom.ts';
import { t } from '../lib/i18n.ts';
import { kv, visitWindow } from '../lib/kv.ts';
import type { Session } from '../lib/session.ts';

const TOKEN_KEY = 'vf_invite';

/** Where the application form comes from and goes to: the ordinary one, or a host's invitation. */
export interface ApplySource {
  title: string;
  note?: string;
  form(): Promise<any>;
  submit(data: Record<string, unknown>): Promise<any>;
  /** More to show under a failure to load the form (e.g. log out when the invitation is for another mobile). */
  formFailed?(err: unknown): HTMLElement | null;
  submitted?(): void;
}

function token(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Moves `?invite=` from the address into sessionStorage and opens the invitation page. */
export function takeInviteFromUrl(): void {
  const url = new URL(location.href);
  const value = url.searchParams.get('invite');
  if (!value) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    // storage disabled: the invitation cannot be kept across the login; the page says so below
  }
  url.searchParams.delete('invite');
  url.hash = '#/invite';
  history.replaceState(null, '', url.toString());
}

function noInvitation(main: HTMLElement) {
  clear(main).append(card(t('invite.title'), alertBox(t('invite.missing'), 'warning'), h('a', { class: 'btn btn-outline-primary w-100', href: '#/' }, t('nav.home'))));
}

export function inviteLanding(session: Session<any>): View {
  return async (main) => {
    const value = token();
    if (!value) return noInvitation(main);
    main.append(loading(t('state.loading')));
    let invitation: any;
    let visitor: { name: string } | null = null;
    try {
      [{ invitation }, visitor] = await Promise.all([post('/api/invitations/preview', { token: value }), session.current().catch(() => null)]);
    } catch (err) {
      const used = err instanceof ApiError && err.code === 'INVITATION_USED';
      clear(main).append(
        card(
          t('invite.title'),
          alertBox(errorMessage(err), used ? 'info' : 'warning'),
          h('a', { class: 'btn btn-outline-primary w-100', href: used ? '#/applications' : '#/' }, used ? t('landing.mine') : t('nav.home')),
        ),
      );
      return;
    }
    const next = encodeURIComponent('/invite/apply');
    const actions = visitor
      ? [h('a', { class: 'btn btn-primary btn-lg w-100 mb-2', href: '#/invite/apply', id: 'invite-apply' }, t('invite.apply'))]
      : [
          h('a', { class: 'btn btn-primary btn-lg w-100 mb-2', href: `#/register?next=${next}`, id: 'invite-register' }, t('invite.register')),
          h('a', { class: 'btn btn-outline-primary btn-lg w-100', href: `#/login?next=${next}`, id: 'invite-login' }, t('invite.login')),
        ];
    clear(main).append(
      card(
        t('invite.title'),
        h('p', { id: 'invite-lead' }, t('invite.lead', { host: invitation.hostName ?? '' })),
        kv([
          [t('detail.campus'), invitation.campus?.name],
          [t('detail.department'), invitation.department?.name],
          [t('detail.host'), invitation.hostName],
          [t('detail.window'), visitWindow(invitation)],
          [t('invite.mobile'), invitation.visitorMobile],
          [t('invite.note'), invitation.note],
        ]),
        h('p', { class: 'small text-secondary' }, t('invite.mobileHelp', { mobile: invitation.visitorMobile })),
        ...actions,
      ),
    );
  };
}

export function invitedSource(session: Session<any>): ApplySource {
  const value = token();
  return {
    title: t('invite.formTitle'),
    note: t('invite.formNote'),
    form: () => (value ? post('/api/invitations/form', { token: value }) : Promise.reject(new ApiError(404, 'INVITATION_NOT_FOUND', t('invite.missing')))),
    submit: async (data) => (await post('/api/invitations/apply', { token: value, data })).application,
    formFailed: (err) => {
      if (!(err instanceof ApiError) || err.code !== 'INVITATION_MOBILE_MISMATCH') return null;
      return h('button', { type: 'button', class: 'btn btn-outline-primary w-100', id: 'invite-switch', onclick: () => void session.logout('#/invite') }, t('invite.switch'));
    },
    submitted: () => {
      try {
        sessionStorage.removeItem(TOKEN_KEY);
      } catch {
        // nothing kept
      }
    },
  };
}
