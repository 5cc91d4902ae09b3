import 'bootstrap/dist/css/bootstrap.min.css';
import '../lib/app.css';
import { errorMessage, get, post } from '../lib/api.ts';
import { go, render, renderHeader, staffLoginForm, startApp, type View } from '../lib/app.ts';
import { alertBox, busy, clear, fmtDateTime, fmtRange, h, loading } from '../lib/dom.ts';
import { gateWarningsEn, passReasonText } from '../lib/error-texts.ts';
import { currentLang, t } from '../lib/i18n.ts';
import { kv } from '../lib/kv.ts';
import { watchWarningBox } from '../lib/watch.ts';
import { CAMPUS_KEY, GATE_KEY, type Gate, session } from './session.ts';

const login: View = (main) => {
  staffLoginForm<{ id: number; name: string }>(main, (staff) => {
    session.set(staff);
    go('#/');
  });
};

const gate: View = async (main) => {
  main.append(loading(t('state.loading')));
  let campuses: { id: number; name: string }[];
  let gates: Gate[];
  try {
    // Asked on every visit, not once per page load: the scanner must not show once the login has ended.
    if (!(await session.recheck())) {
      session.toLogin();
      return;
    }
    renderHeader();
    [campuses, gates] = await Promise.all([
      get('/api/directory/campuses').then((r) => r.campuses),
      get<{ gates: Gate[] }>('/api/gate/gates').then((r) => r.gates),
    ]);
  } catch (err) {
    if (!session.needsLogin(err)) clear(main).append(alertBox(errorMessage(err), 'danger', () => void render(), t('state.retry')));
    return;
  }
  clear(main);
  const saved = localStorage.getItem(CAMPUS_KEY) ?? '';
  const campusSel = h(
    'select',
    { class: 'form-select form-select-lg', id: 'gate-campus' },
    h('option', { value: '' }, t('gate.pickCampus')),
    ...campuses.map((c) => h('option', { value: String(c.id), selected: String(c.id) === saved }, c.name)),
  );
  // The gates of the chosen campus; a campus without gates records none (shown as 未知门岗 in the on-campus list).
  const gateSel = h('select', { class: 'form-select form-select-lg', id: 'gate-gate' });
  const gateBox = h('div', { class: 'mt-3', id: 'gate-gate-box' }, h('label', { class: 'form-label', for: 'gate-gate' }, t('gate.gate')), gateSel);
  const fillGates = () => {
    const mine = gates.filter((g) => String(g.campusId) === campusSel.value);
    const saved = localStorage.getItem(GATE_KEY) ?? '';
    clear(gateSel).append(
      h('option', { value: '' }, t('gate.pickGate')),
      ...mine.map((g) => h('option', { value: String(g.id), selected: String(g.id) === saved }, g.name)),
    );
    gateBox.hidden = mine.length === 0;
  };
  fillGates();
  campusSel.addEventListener('change', () => {
    localStorage.setItem(CAMPUS_KEY, campusSel.value);
    fillGates();
    localStorage.setItem(GATE_KEY, gateSel.value);
  });
  gateSel.addEventListener('change', () => {
    localStorage.setItem(GATE_KEY, gateSel.value);
    if (gateSel.value) gateSel.classList.remove('is-invalid');
  });
  const video = h('video', { class: 'vf-video d-none', playsinline: true, muted: true, autoplay: true });
  const scanBtn = h('button', { type: 'button', class: 'btn btn-primary btn-lg w-100', id: 'gate-scan' }, t('gate.scan'));
  const codeIn = h('input', {
    class: 'form-control form-control-lg text-center',
    id: 'gate-code',
    autocomplete: 'off',
    autocapitalize: 'characters',
    spellcheck: 'false',
    maxlength: 1000,
    placeholder: t('gate.code'),
    'aria-label': t('gate.code'),
  });
  const verifyBtn = h('button', { type: 'submit', class: 'btn btn-outline-primary btn-lg', id: 'gate-verify' }, t('gate.verify'));
  const codeForm = h('form', { class: 'input-group mt-3' }, codeIn, verifyBtn);
  const result = h('div', { class: 'mt-3', id: 'gate-result', 'aria-live': 'polite' });
  main.append(
    h('section', { class: 'card vf-card' }, h('div', { class: 'card-body' }, h('label', { class: 'form-label', for: 'gate-campus' }, t('gate.campus')), campusSel, gateBox, h('div', { class: 'mt-3' }, scanBtn, video), codeForm)),
    result,
  );

  const campusId = () => {
    if (!campusSel.value) {
      clear(result).append(alertBox(t('gate.pickCampus'), 'warning'));
      campusSel.focus();
      return null;
    }
    return Number(campusSel.value);
  };

  /** The chosen gate; undefined (and a prompt) when the campus has gates and none is chosen. */
  const gateId = (): number | null | undefined => {
    if (gateBox.hidden) return null;
    if (!gateSel.value) {
      gateBox.scrollIntoView({ block: 'center' });
      gateSel.classList.add('is-invalid');
      gateSel.focus();
      return undefined;
    }
    gateSel.classList.remove('is-invalid');
    return Number(gateSel.value);
  };

  const showVerdict = (v: any, campus: number) => {
    const p = v.pass;
    const verdict = h(
      'div',
      { class: `vf-verdict ${v.valid ? 'ok' : 'bad'}`, id: 'gate-verdict', dataset: { valid: String(v.valid), reason: v.reason ?? '' } },
      h('div', { class: 'big' }, v.valid ? `✓ ${t('gate.valid')}` : `✕ ${t('gate.invalid')}`),
      h('div', { class: 'fs-5 mt-1' }, (currentLang() === 'en' && passReasonText(v.reason, v.reasonParams)) || (v.reasonText ?? '')),
    );
    const details = p
      ? h(
          'div',
          { class: 'card vf-card mt-3' },
          h(
            'div',
            { class: 'card-body' },
            kv([
              [t('task.visitor'), p.visitorName],
              // A companion of a group visit: his own pass, and the applicant he came with.
              [t('group.companionOf'), p.companionOf ? h('span', { id: 'gate-companion-of' }, p.companionOf) : null],
              [t('task.organisation'), p.organisation],
              [t('task.idNumber'), p.idNumber],
              [t('task.mobile'), p.mobile],
              [t('detail.plate'), p.plateNumber],
              [t('pass.campus'), p.campus?.name ?? p.campus],
              [t('pass.window'), fmtRange(p.validFrom, p.validUntil)],
              [t('gate.lastEvent'), v.lastEvent ? `${v.lastEvent.kind === 'entry' ? t('gate.entryWord') : t('gate.exitWord')} ${fmtDateTime(v.lastEvent.at)}` : null],
            ]),
          ),
        )
      : null;
    const events = h('div', { class: 'd-grid gap-2 mt-3', id: 'gate-events' });
    if (v.valid && p) {
      for (const kind of ['entry', 'exit'] as const) {
        const b = h('button', { type: 'button', class: `btn btn-lg ${kind === 'entry' ? 'btn-success' : 'btn-outline-secondary'}`, dataset: { event: kind } }, t(kind === 'entry' ? 'gate.entry' : 'gate.exit'));
        b.addEventListener('click', () => {
          const gate = gateId();
          if (gate === undefined) {
            if (!events.querySelector('#gate-pick-gate')) events.prepend(Object.assign(alertBox(t('gate.pickGate'), 'warning'), { id: 'gate-pick-gate' }));
            return;
          }
          void busy(b, async () => {
            try {
              const recorded = await post<{ warning?: { code: string; message: string } }>(`/api/gate/passes/${p.id}/${kind}`, { campusId: campus, gateId: gate });
              const at = gate === null ? '' : ` · ${gateSel.selectedOptions[0]?.textContent ?? ''}`;
              clear(events).append(alertBox(`${t('gate.recorded', { kind: kind === 'entry' ? t('gate.entryWord') : t('gate.exitWord') })}${at}`, 'success'));
              // Recorded all the same, but the guard should know (e.g. an entry whose last entry has no exit).
              const { warning } = recorded;
              if (warning) {
                const text = (currentLang() === 'en' && gateWarningsEn[warning.code]) || warning.message;
                events.append(h('div', { class: 'alert alert-warning', id: 'gate-warning', dataset: { code: warning.code } }, text));
              }
            } catch (err) {
              if (!session.needsLogin(err)) events.append(alertBox(errorMessage(err)));
            }
          });
        });
        events.append(b);
      }
    }
    // The watch list: the pass may be valid, the guard decides (identity check, security office).
    const watch = v.watchWarning ? watchWarningBox(v.watchWarning.entries, 'gate', 'gate-watch') : '';
    clear(result).append(verdict, watch, details ?? '', events);
    result.scrollIntoView({ block: 'start' });
  };

  const verify = async (input: { payload?: string; code?: string }, button: HTMLButtonElement | null) => {
    const campus = campusId();
    if (campus === null) return;
    await busy(button, async () => {
      try {
        showVerdict(await post('/api/gate/verify', { ...input, campusId: campus }), campus);
      } catch (err) {
        if (!session.needsLogin(err)) clear(result).append(alertBox(errorMessage(err)));
      }
    });
  };

  codeForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const value = codeIn.value.trim();
    if (!value) return;
    // A scanner gun or a pasted QR text gives the whole signed payload rather than the short code.
    void verify(value.startsWith('VF1') ? { payload: value } : { code: value.toUpperCase() }, verifyBtn);
  });

  let stream: MediaStream | null = null;
  let frame = 0;
  const stop = () => {
    cancelAnimationFrame(frame);
    for (const track of stream?.getTracks() ?? []) track.stop();
    stream = null;
    video.classList.add('d-none');
    scanBtn.textContent = t('gate.scan');
  };
  scanBtn.addEventListener('click', async () => {
    if (stream) return stop();
    if (campusId() === null) return;
    try {
      const [{ default: jsQR }, media] = await Promise.all([import('jsqr'), navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false })]);
      stream = media;
      video.srcObject = media;
      video.classList.remove('d-none');
      scanBtn.textContent = t('gate.stopScan');
      await video.play();
      const canvas = document.createElement('canvas');
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      const tick = () => {
        if (!stream) return;
        if (video.readyState >= 2 && video.videoWidth) {
          // Decoding a downscaled frame is fast enough on an old phone and still reads a full-screen QR.
          const scale = Math.min(1, 640 / video.videoWidth);
          canvas.width = Math.round(video.videoWidth * scale);
          canvas.height = Math.round(video.videoHeight * scale);
          ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const code = jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
          if (code?.data) {
            stop();
            void verify({ payload: code.data }, null);
            return;
          }
        }
        frame = requestAnimationFrame(tick);
      };
      frame = requestAnimationFrame(tick);
    } catch {
      stop();
      clear(result).append(alertBox(t('gate.noCamera'), 'warning'));
      codeIn.focus();
    }
  });
  return stop;
};

startApp({
  title: 'app.gateTitle',
  routes: [
    { path: '/', view: gate },
    { path: '/on-campus', view: async (main) => (await import('./on-campus.ts')).onCampus(main) },
    { path: '/login', view: login },
  ],
  nav: [
    { href: '#/', label: 'gate.navCheck', show: session.signedIn },
    { href: '#/on-campus', label: 'gate.navOnCampus', show: session.signedIn },
    session.logoutLink('#/login'),
  ],
});
