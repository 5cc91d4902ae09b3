/**
 * Group visits on the visitor page: the pass screen (the applicant's own, and a companion's opened by the link in
 * his SMS, `/?pass=TOKEN`, without login) and the list of the group's passes on the applicant's status page.
 * The link's token is moved from the address bar into this tab's sessionStorage at once (not left in the history,
 * a bookmark or a screenshot of the address); the SMS link opens it again in a new tab.
 */
import { errorMessage, post } from '../lib/api.ts';
import { card, type View } from '../lib/app.ts';
import { alertBox, busy, clear, fmtRange, h, loading } from '../lib/dom.ts';
import { t } from '../lib/i18n.ts';
import { kv } from '../lib/kv.ts';

const TOKEN_KEY = 'vf_pass_link';

export interface PassAnswer {
  shortCode: string;
  qr: { payload: string; expiresAt: string } | null;
  rotateSeconds: number;
  validFrom: string;
  validUntil: string;
  campus?: { name: string };
  plateNumber: string | null;
  status: 'active' | 'expired' | 'revoked';
  holderName?: string;
  flowNumber?: string;
}

/**
 * The pass with its rotating QR code, redrawn before each payload expires. `load` answers the pass; `failed` says
 * whether an error was handled elsewhere (a visitor's expired login). A revoked or expired pass shows its state.
 */
export function passScreen(load: () => Promise<PassAnswer>, failed: (err: unknown) => boolean = () => false): View {
  return async (main) => {
    main.append(loading(t('state.loading')));
    const QR = import('qrcode');
    let timer: number | undefined;
    let stopped = false;
    const canvas = h('canvas', { class: 'vf-qr', id: 'pass-qr', 'aria-label': t('pass.title') });
    const status = h('div', { class: 'small text-center text-secondary mt-2' });
    const draw = async () => {
      try {
        const p = await load();
        if (stopped) return;
        if (!p.qr) {
          const state = p.status === 'revoked' ? t('group.passRevoked') : t('group.passExpired');
          clear(main).append(card(t('pass.unavailable'), alertBox(state, 'warning'), kv([[t('pass.code'), p.shortCode], [t('pass.window'), fmtRange(p.validFrom, p.validUntil)]])));
          return;
        }
        await (await QR).toCanvas(canvas, p.qr.payload, { margin: 2, width: 288, errorCorrectionLevel: 'M' });
        if (!canvas.isConnected) {
          clear(main).append(
            card(
              t('pass.title'),
              p.holderName ? h('div', { class: 'text-center fw-semibold mb-2', id: 'pass-holder' }, t('group.holder', { name: p.holderName })) : null,
              canvas,
              status,
              h('div', { class: 'text-center text-secondary small mt-3' }, t('pass.code')),
              h('div', { class: 'vf-code', id: 'pass-code' }, p.shortCode),
              kv([
                [t('pass.campus'), p.campus?.name],
                [t('pass.window'), fmtRange(p.validFrom, p.validUntil)],
                [t('detail.plate'), p.plateNumber],
                [t('detail.flow'), p.flowNumber],
              ]),
            ),
          );
        }
        status.textContent = t('pass.refresh', { seconds: p.rotateSeconds });
        status.classList.remove('text-danger');
        timer = window.setTimeout(draw, Math.max(5, p.rotateSeconds - 5) * 1000);
      } catch (err) {
        if (failed(err) || stopped) return;
        if (canvas.isConnected) {
          // Keep the last code on screen and try again: the gate may have a weak signal.
          status.textContent = errorMessage(err);
          status.classList.add('text-danger');
          timer = window.setTimeout(draw, 5000);
        } else {
          clear(main).append(card(t('pass.unavailable'), alertBox(errorMessage(err), 'warning', () => void draw(), t('state.retry'))));
        }
      }
    };
    await draw();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  };
}

function linkToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Moves `?pass=` from the address into sessionStorage and opens the companion's pass screen. */
export function takePassLinkFromUrl(): void {
  const url = new URL(location.href);
  const value = url.searchParams.get('pass');
  if (!value) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    // storage disabled: the pass still shows, from the token kept below in the page's memory
  }
  memory = value;
  url.searchParams.delete('pass');
  url.hash = '#/group-pass';
  history.replaceState(null, '', url.toString());
}

let memory: string | null = null;

/** A companion's pass, by the token of his SMS link. */
export const linkPass: View = (main, params, query) => {
  const token = linkToken() ?? memory;
  if (!token) {
    clear(main).append(card(t('pass.unavailable'), alertBox(t('group.noLink'), 'warning')));
    return;
  }
  return passScreen(async () => (await post<{ pass: PassAnswer }>('/api/pass-link', { token })).pass)(main, params, query);
};

interface GroupPass {
  status: 'active' | 'expired' | 'revoked';
  onCampus: boolean;
}

function passState(p: GroupPass | null): string {
  if (!p) return t('group.noPass');
  if (p.status === 'revoked') return t('group.passRevoked');
  if (p.status === 'expired') return t('group.passExpired');
  return p.onCampus ? t('group.onCampus') : t('group.passActive');
}

/**
 * The button that sends a companion's link again (his SMS was lost, or his mobile was mistyped): it opens a small
 * form in `slot` with an optional corrected mobile; the answer names the masked mobile the link went to, and the
 * button rests for the minute the server asks before the next one.
 */
function resendButton(applicationId: number, companion: { position: number; name: string; mobile?: string }, slot: HTMLElement) {
  const button = h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary ms-2', dataset: { resend: String(companion.position) } }, t('group.resend'));
  button.addEventListener('click', () => {
    const mobile = h('input', {
      type: 'tel',
      class: 'form-control',
      id: 'group-resend-mobile',
      inputMode: 'numeric',
      maxLength: 11,
      autocomplete: 'off',
      placeholder: t('group.resendMobile', { mobile: companion.mobile ?? '' }),
      'aria-label': t('group.resendMobile', { mobile: companion.mobile ?? '' }),
    });
    const send = h('button', { type: 'submit', class: 'btn btn-primary', id: 'group-resend-send' }, t('group.resendSend'));
    const problem = h('div');
    const form = h(
      'form',
      { class: 'border rounded p-2', id: 'group-resend-form', novalidate: true },
      h('div', { class: 'small mb-2' }, t('group.resendTitle', { name: companion.name })),
      h('div', { class: 'input-group' }, mobile, send),
      h('div', { class: 'form-text' }, t('group.resendHelp')),
      problem,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(send, async () => {
        try {
          const body = mobile.value.trim() ? { mobile: mobile.value.trim() } : {};
          const { sent } = await post<{ sent: { mobile: string; retryAfterSeconds: number } }>(
            `/api/applications/${applicationId}/companions/${companion.position}/resend-link`,
            body,
          );
          clear(slot).append(alertBox(t('group.resent', { name: companion.name, mobile: sent.mobile }), 'success'));
          button.disabled = true;
          window.setTimeout(() => {
            button.disabled = false;
          }, sent.retryAfterSeconds * 1000);
        } catch (err) {
          clear(problem).append(alertBox(errorMessage(err)));
        }
      });
    });
    clear(slot).append(form);
    mobile.focus();
  });
  return button;
}

/**
 * The group's passes on the applicant's status page: each person's name and the state of his pass; a companion
 * whose pass is valid has a button that sends his link again.
 */
export function groupCard(
  applicationId: number,
  group: {
    applicantPass: GroupPass | null;
    companions: Array<{ position: number; name: string; idNumber: string; mobile?: string; pass: GroupPass | null }>;
  } | null,
  applicantName: string,
) {
  if (!group?.companions?.length) return null;
  const slot = h('div', { class: 'mt-2', id: 'group-resend-result', 'aria-live': 'polite' });
  const row = (name: string, who: string, pass: GroupPass | null, id?: string, resend?: HTMLElement) =>
    h(
      'li',
      { class: 'list-group-item d-flex justify-content-between align-items-center', dataset: { state: pass ? (pass.onCampus ? 'on-campus' : pass.status) : 'none' } },
      h('span', null, h('span', { class: 'fw-semibold' }, name), ' ', h('span', { class: 'small text-secondary' }, id ? `${who} · ${id}` : who)),
      h('span', { class: 'small text-nowrap' }, passState(pass), resend ?? null),
    );
  return card(
    t('group.title', { count: group.companions.length + 1 }),
    h(
      'ul',
      { class: 'list-group', id: 'group-passes' },
      row(applicantName, t('group.applicant'), group.applicantPass),
      ...group.companions.map((c) =>
        row(c.name, t('group.companion'), c.pass, c.idNumber, c.pass?.status === 'active' ? resendButton(applicationId, c, slot) : undefined),
      ),
    ),
    slot,
    h('p', { class: 'small text-secondary mt-2 mb-0' }, t('group.note')),
  );
}
