/** Texts and parameters: review notice, stock opinions, SMS templates with preview, retention; gate posters. */
import { ApiError, errorMessage, get, post, put } from '../lib/api.ts';
import { busy, clear, h } from '../lib/dom.ts';
import { type AdminKey, at } from './i18n.ts';
import type { View } from './main.ts';
import { button, needsLogin, panel, say } from './ui.ts';

const SMS_KEYS = ['approved', 'refused', 'expired', 'taskAssigned', 'companionPass', 'invitation', 'invitationCanceled'] as const;
const PLACEHOLDERS: Record<string, string> = {
  approved: '{university} {name} {visitDate} {visitTime} {flowNumber} {opinion}',
  refused: '{university} {name} {visitDate} {visitTime} {flowNumber} {opinion}',
  expired: '{university} {name} {visitDate} {visitTime} {flowNumber} {opinion}',
  taskAssigned: '{university} {staffName} {flowNumber} {visitDate} {link}',
  invitation: '{university} {name} {hostName} {campus} {department} {visitDate} {visitTime} {link} {token}',
  invitationCanceled: '{university} {name} {hostName} {campus} {department} {visitDate} {visitTime}',
  companionPass: '{university} {name} {applicantName} {visitDate} {visitTime} {flowNumber} {link}',
};

export const settings: View = async (main) => {
  const { settings: s } = await get<{ settings: any }>('/api/admin/settings');
  const slot = h('div', { id: 'settings-messages' });
  const notice = h('textarea', { class: 'form-control', rows: 5, id: 'set-notice' });
  notice.value = s.reviewNotice ?? '';
  const stock = h('textarea', { class: 'form-control', rows: 5, id: 'set-stock' });
  stock.value = (s.stockOpinions ?? []).join('\n');
  const retention = h('input', { class: 'form-control w-auto', type: 'number', min: 7, max: 3650, id: 'set-retention', value: String(s.retentionDays) });
  const templates = new Map<string, HTMLTextAreaElement>();
  const smsBlocks = SMS_KEYS.map((key) => {
    const area = h('textarea', { class: 'form-control', rows: 3, id: `set-sms-${key}` });
    area.value = s.smsTemplates?.[key] ?? '';
    templates.set(key, area);
    const out = h('div', { class: 'small mt-1', id: `set-sms-${key}-preview` });
    const previewBtn = button(at('set.preview'), () => void preview(), 'btn-outline-secondary mt-1');
    const preview = () =>
      busy(previewBtn, async () => {
        try {
          const { preview: p } = await post<any>('/api/admin/settings/sms-preview', { key, template: area.value });
          clear(out).append(
            h('div', { class: 'border rounded p-2 bg-light' }, p.text),
            h('div', { class: 'text-secondary' }, at('set.parts', { length: p.length, parts: p.parts }), p.missing?.length ? ` · ${at('set.missing', { list: p.missing.join(' ') })}` : ''),
          );
        } catch (err) {
          if (!needsLogin(err)) clear(out).append(h('div', { class: 'text-danger' }, errorMessage(err)));
        }
      });
    return h(
      'div',
      { class: 'mb-3' },
      h('label', { class: 'form-label', for: `set-sms-${key}` }, at(`sms.${key}` as AdminKey)),
      area,
      h('div', { class: 'form-text' }, at('set.placeholders', { list: PLACEHOLDERS[key] })),
      previewBtn,
      out,
    );
  });
  // The provider, its credentials and the send test live on the integrations page.
  const smsMoved = h('div', { class: 'form-text mb-2', id: 'set-sms-moved' }, h('a', { href: '#/integrations' }, at('set.smsMoved')));
  const saveBtn = button(at('common.save'), () => void save(), 'btn-primary', { id: 'settings-save' });
  const save = () =>
    busy(saveBtn, async () => {
      try {
        await put('/api/admin/settings', {
          reviewNotice: notice.value,
          stockOpinions: stock.value.split('\n').map((x) => x.trim()).filter(Boolean),
          smsTemplates: Object.fromEntries([...templates].map(([k, a]) => [k, a.value])),
          retentionDays: Number(retention.value),
        });
        say(slot, at('common.saved'));
      } catch (err) {
        if (needsLogin(err)) return;
        const details = err instanceof ApiError ? err.fieldErrors.map((f) => `${f.field}：${f.message}`).join('；') : '';
        say(slot, `${errorMessage(err)}${details ? `（${details}）` : ''}`, 'danger');
      }
    });

  const posters = h('div', { class: 'd-flex flex-wrap gap-3', id: 'set-posters' });
  const { campuses } = await get<{ campuses: any[] }>('/api/admin/campuses');
  for (const c of campuses.filter((x) => x.active)) {
    const href = `/api/admin/campuses/${c.id}/poster.png`;
    posters.append(
      h(
        'figure',
        { class: 'text-center mb-0', dataset: { campus: c.code } },
        h('img', { class: 'vf-poster', src: href, alt: `${c.name} ${at('set.posters')}`, loading: 'lazy' }),
        h('figcaption', { class: 'small' }, c.name, h('br'), h('a', { href, download: `gate-poster-${c.code}.png` }, at('set.download'))),
      ),
    );
  }

  main.append(
    h('div', { class: 'd-flex align-items-center mb-2' }, h('h1', { class: 'h5 mb-0' }, at('nav.settings')), h('div', { class: 'ms-auto' }, saveBtn)),
    slot,
    h(
      'div',
      { class: 'row g-3' },
      h(
        'div',
        { class: 'col-lg-6' },
        panel(at('set.notice'), notice),
        panel(at('set.stock'), stock),
        panel(at('set.retention'), retention, h('div', { class: 'form-text' }, at('set.retentionHelp'))),
      ),
      h('div', { class: 'col-lg-6' }, panel(at('set.sms'), smsMoved, ...smsBlocks)),
    ),
    panel(at('set.posters'), posters),
  );
};
