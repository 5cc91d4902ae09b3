/**
 * Integrations: the SMS provider (console, Alibaba Cloud, Tencent Cloud) with its credentials, sign name and
 * template ids, and the WeChat official account; each with a send test. Secrets never come back from the
 * server: a set one shows as 已设置 with its last 4 characters, and an empty field keeps it. A value the
 * environment sets is shown read-only (由环境变量设置).
 */
import { ApiError, errorMessage, get, post, put } from '../lib/api.ts';
import { busy, clear, h } from '../lib/dom.ts';
import { type AdminKey, at } from './i18n.ts';
import type { View } from './main.ts';
import { button, needsLogin, panel, say } from './ui.ts';

interface FieldView {
  env: string;
  source: 'env' | 'saved' | 'default';
  secret: boolean;
  value?: any;
  set?: boolean;
  last4?: string | null;
}

interface IntegrationView {
  fields: Record<string, FieldView>;
  operator: Record<string, string>;
  problems: { field: string; message: string }[];
  secretsUnreadable: boolean;
}

const SMS_TEMPLATES = ['approved', 'refused', 'expired', 'taskAssigned', 'companionPass', 'invitation', 'invitationCanceled', 'test'] as const;
const SMS_VALUES: Record<string, string> = {
  approved: 'university name visitDate visitTime flowNumber opinion',
  refused: 'university name visitDate visitTime flowNumber opinion',
  expired: 'university name visitDate visitTime flowNumber opinion',
  taskAssigned: 'university staffName flowNumber visitDate link',
  invitation: 'university name hostName campus department visitDate visitTime link token',
  invitationCanceled: 'university name hostName campus department visitDate visitTime',
  companionPass: 'university name applicantName visitDate visitTime flowNumber link',
  test: 'university code',
};
const WECHAT_VALUES = 'university staffName taskName flowNumber visitDate visitTime link';

/** One input of the page with its place for the server's message about it. */
class Field {
  readonly feedback = h('div', { class: 'invalid-feedback' });
  constructor(
    readonly input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
    readonly view: FieldView | undefined,
  ) {}

  get fromEnv(): boolean {
    return this.view?.source === 'env';
  }

  showError(message: string | null) {
    this.input.classList.toggle('is-invalid', Boolean(message));
    this.feedback.textContent = message ?? '';
  }
}

/** Where a value comes from, as a small line under it. */
function sourceNote(view: FieldView | undefined): HTMLElement | null {
  if (!view) return null;
  if (view.source === 'env') return h('div', { class: 'form-text vf-env' }, at('int.fromEnv', { env: view.env }));
  if (view.secret && view.set) return h('div', { class: 'form-text vf-secret-set' }, at('int.secretSet', { last4: view.last4 ? `（****${view.last4}）` : '' }));
  return null;
}

function textInput(id: string, view: FieldView | undefined, attrs: Record<string, unknown> = {}): Field {
  const secret = view?.secret ?? false;
  const input = h('input', {
    class: 'form-control form-control-sm',
    id,
    type: secret ? 'password' : 'text',
    // a browser must not offer to fill in a saved password of the administrator here
    autocomplete: secret ? 'new-password' : 'off',
    spellcheck: 'false',
    ...attrs,
  });
  if (!secret && view && view.value !== null && view.value !== undefined) input.value = String(view.value);
  if (secret && view?.set) input.placeholder = at('int.keepSecret');
  if (view?.source === 'env') {
    input.disabled = true;
    if (secret) input.placeholder = at('int.setByEnv');
  }
  return new Field(input, view);
}

function row(label: string, field: Field, help?: string) {
  return h(
    'div',
    { class: 'mb-2' },
    h('label', { class: 'form-label small mb-1', for: field.input.id }, label),
    field.input,
    field.feedback,
    sourceNote(field.view),
    help ? h('div', { class: 'form-text' }, help) : null,
  );
}

/** `name, visitDate` (a list) or `staff=staffName, no=flowNumber` (vendor name = our value), as the template map takes it. */
function readParams(text: string): string[] | Record<string, string> | undefined {
  const parts = text
    .split(/[,，;；\s]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) return undefined;
  if (parts.some((p) => p.includes('='))) return Object.fromEntries(parts.map((p) => p.split('=').map((x) => x.trim()) as [string, string]));
  return parts;
}

function showParams(params: unknown): string {
  if (Array.isArray(params)) return params.join(', ');
  if (params && typeof params === 'object') return Object.entries(params).map(([k, v]) => `${k}=${v}`).join(', ');
  return '';
}

/** Field errors from a refusal: each under its input; the rest in the panel's message area. */
function showErrors(err: unknown, fields: Map<string, Field>, slot: HTMLElement) {
  for (const f of fields.values()) f.showError(null);
  if (needsLogin(err)) return;
  const details = err instanceof ApiError ? err.fieldErrors : [];
  const unplaced: string[] = [];
  for (const d of details) {
    // the nearest input: `templates.approved.params` before `templates.approved` before `templates`
    const parts = d.field.split('.');
    let field: Field | undefined;
    for (let n = parts.length; n > 0 && !field; n--) field = fields.get(parts.slice(0, n).join('.'));
    if (field) field.showError([field.feedback.textContent, d.message].filter(Boolean).join('；'));
    else unplaced.push(d.message);
  }
  say(slot, [errorMessage(err), ...unplaced].join('；'), 'danger');
}

function problemsBox(view: IntegrationView, id: string): HTMLElement {
  const box = h('div', { id });
  if (view.problems.length) {
    box.append(
      h(
        'div',
        { class: 'alert alert-warning py-2 small' },
        at('int.problems'),
        h('ul', { class: 'mb-0' }, ...view.problems.map((p) => h('li', null, p.field ? `${p.field}：${p.message}` : p.message))),
      ),
    );
  }
  return box;
}

function smsPanel(view: IntegrationView, saved: () => void, flash?: string): HTMLElement {
  const f = view.fields;
  const fields = new Map<string, Field>();
  const slot = h('div', { id: 'int-sms-messages' });
  if (flash) say(slot, flash);
  const provider = h(
    'select',
    { class: 'form-select form-select-sm', id: 'int-sms-provider' },
    ...['console', 'aliyun', 'tencent'].map((p) => h('option', { value: p, selected: f.provider?.value === p }, at(`int.provider.${p}` as AdminKey))),
  );
  const providerField = new Field(provider, f.provider);
  provider.disabled = providerField.fromEnv;
  fields.set('provider', providerField);
  const add = (name: string, field: Field) => {
    fields.set(name, field);
    return field;
  };
  const aliyun = h(
    'fieldset',
    { id: 'int-aliyun' },
    row('AccessKey ID', add('aliyun.accessKeyId', textInput('int-aliyun-key-id', f['aliyun.accessKeyId'], { maxlength: 128 }))),
    row('AccessKey Secret', add('aliyun.accessKeySecret', textInput('int-aliyun-key-secret', f['aliyun.accessKeySecret'], { maxlength: 64 }))),
    row(at('int.signName'), add('aliyun.signName', textInput('int-aliyun-sign', f['aliyun.signName'], { maxlength: 20 }))),
  );
  const tencent = h(
    'fieldset',
    { id: 'int-tencent' },
    row('SecretId', add('tencent.secretId', textInput('int-tencent-secret-id', f['tencent.secretId'], { maxlength: 68 }))),
    row('SecretKey', add('tencent.secretKey', textInput('int-tencent-secret-key', f['tencent.secretKey'], { maxlength: 64 }))),
    row('SmsSdkAppId', add('tencent.sdkAppId', textInput('int-tencent-app-id', f['tencent.sdkAppId'], { maxlength: 10, inputmode: 'numeric' }))),
    row(at('int.signName'), add('tencent.signName', textInput('int-tencent-sign', f['tencent.signName'], { maxlength: 20 }))),
  );

  // One row per SMS: the vendor's template id and which of our values fill it.
  const templatesView = f.templates;
  const templatesFromEnv = templatesView?.source === 'env';
  const current: Record<string, any> = templatesView?.value && typeof templatesView.value === 'object' ? templatesView.value : {};
  const templateInputs = SMS_TEMPLATES.map((key) => {
    const mapping = current[key];
    const id = h('input', { class: 'form-control form-control-sm', id: `int-sms-tpl-${key}-id`, maxlength: 64, spellcheck: 'false', autocomplete: 'off', placeholder: at('int.templateId') });
    const params = h('input', { class: 'form-control form-control-sm', id: `int-sms-tpl-${key}-params`, maxlength: 300, spellcheck: 'false', autocomplete: 'off', placeholder: at('int.templateParams') });
    id.value = typeof mapping === 'string' ? mapping : (mapping?.id ?? '');
    params.value = typeof mapping === 'object' ? showParams(mapping?.params) : '';
    id.disabled = params.disabled = templatesFromEnv;
    const idField = add(`templates.${key}.id`, new Field(id, undefined));
    const paramsField = add(`templates.${key}.params`, new Field(params, undefined));
    add(`templates.${key}`, idField);
    return {
      key,
      id,
      params,
      el: h(
        'div',
        { class: 'row g-1 mb-1', dataset: { template: key } },
        h('div', { class: 'col-4 small pt-1' }, at(key === 'test' ? 'int.tplTest' : (`sms.${key}` as AdminKey))),
        h('div', { class: 'col-3' }, id, idField.feedback),
        h('div', { class: 'col-5' }, params, paramsField.feedback, h('div', { class: 'form-text' }, SMS_VALUES[key])),
      ),
    };
  });
  const templatesFeedback = new Field(h('input', { type: 'hidden' }), templatesView);
  fields.set('templates', templatesFeedback);
  const templatesBlock = h(
    'div',
    { id: 'int-sms-templates', class: 'mb-2' },
    h('div', { class: 'form-label small mb-1' }, at('int.templates')),
    h('div', { class: 'form-text mb-1' }, at('int.templatesHelp')),
    ...templateInputs.map((x) => x.el),
    h('div', { class: 'text-danger small' }, templatesFeedback.feedback),
    sourceNote(templatesView),
  );
  // the feedback of the templates block is visible without an invalid input next to it
  templatesFeedback.feedback.classList.add('d-block');

  const operator = h('div', { class: 'form-text mb-2', id: 'int-sms-operator' });
  const showVendor = () => {
    aliyun.hidden = provider.value !== 'aliyun';
    tencent.hidden = provider.value !== 'tencent';
    templatesBlock.hidden = provider.value === 'console';
    const keys = provider.value === 'aliyun' ? ['ALIYUN_SMS_ENDPOINT', 'ALIYUN_SMS_REGION'] : provider.value === 'tencent' ? ['TENCENT_SMS_ENDPOINT', 'TENCENT_SMS_REGION'] : [];
    operator.textContent = keys.length ? at('int.operator', { list: keys.map((k) => `${k}=${view.operator[k]}`).join('，') }) : at('int.consoleHelp');
  };
  provider.addEventListener('change', showVendor);
  showVendor();

  const saveBtn = button(at('common.save'), () => void save(), 'btn-primary', { id: 'int-sms-save' });
  const save = () =>
    busy(saveBtn, async () => {
      const body: Record<string, any> = {};
      if (!providerField.fromEnv) body.provider = provider.value;
      for (const [name, field] of fields) {
        if (!/^(aliyun|tencent)\./.test(name) || field.fromEnv) continue;
        const [vendor, key] = name.split('.');
        body[vendor] ??= {};
        body[vendor][key] = field.input.value.trim() === '' && !field.view?.secret ? null : field.input.value;
      }
      if (!templatesFromEnv) {
        const templates: Record<string, unknown> = {};
        for (const t of templateInputs) {
          if (!t.id.value.trim() && !t.params.value.trim()) continue;
          const params = readParams(t.params.value);
          templates[t.key] = params ? { id: t.id.value.trim(), params } : { id: t.id.value.trim() };
        }
        body.templates = Object.keys(templates).length ? templates : null;
      }
      try {
        await put('/api/admin/integrations/sms', body);
        saved();
      } catch (err) {
        showErrors(err, fields, slot);
      }
    });

  // The send test: the provider in use now, outside the outbox.
  const testMobile = h('input', { class: 'form-control', type: 'tel', inputmode: 'numeric', maxlength: 13, id: 'set-sms-test-mobile', autocomplete: 'off' });
  const testOut = h('div', { id: 'set-sms-test-result' });
  const testBtn = button(at('set.smsTestSend'), () => void sendTest(), 'btn-outline-primary', { id: 'set-sms-test' });
  const sendTest = () =>
    busy(testBtn, async () => {
      try {
        const { test: r } = await post<any>('/api/admin/settings/sms/test', { mobile: testMobile.value });
        say(testOut, at('set.smsTestSent', { provider: r.provider, template: r.template, to: r.to, messageId: r.messageId }));
      } catch (err) {
        if (needsLogin(err)) return;
        say(testOut, `${err instanceof ApiError ? `${err.code}：` : ''}${errorMessage(err)}`, 'danger');
      }
    });

  return h(
    'div',
    null,
    panel(
      at('int.sms'),
      problemsBox(view, 'int-sms-problems'),
      row(at('int.provider'), providerField),
      operator,
      aliyun,
      tencent,
      templatesBlock,
      h('div', { class: 'd-flex gap-2 align-items-center' }, saveBtn, h('span', { class: 'form-text' }, at('int.saveHelp'))),
      slot,
    ),
    panel(
      at('set.smsTest'),
      h('label', { class: 'form-label', for: 'set-sms-test-mobile' }, at('set.smsTestMobile')),
      h('div', { class: 'input-group mb-2' }, testMobile, testBtn),
      h('div', { class: 'form-text mb-2' }, at('set.smsTestHelp')),
      testOut,
    ),
  );
}

function wechatPanel(view: IntegrationView, saved: () => void, flash?: string): HTMLElement {
  const f = view.fields;
  const fields = new Map<string, Field>();
  const slot = h('div', { id: 'int-wechat-messages' });
  if (flash) say(slot, flash);
  const enabled = h('input', { class: 'form-check-input', type: 'checkbox', id: 'int-wechat-enabled', checked: f.enabled?.value === true });
  const enabledField = new Field(enabled, f.enabled);
  enabled.disabled = enabledField.fromEnv;
  fields.set('enabled', enabledField);
  const appId = textInput('int-wechat-app-id', f.appId, { maxlength: 18, placeholder: 'wx0123456789abcdef' });
  const appSecret = textInput('int-wechat-app-secret', f.appSecret, { maxlength: 32 });
  fields.set('appId', appId);
  fields.set('appSecret', appSecret);
  const templatesFromEnv = f.templates?.source === 'env';
  const task = (f.templates?.value as any)?.taskAssigned;
  const templateId = new Field(h('input', { class: 'form-control form-control-sm', id: 'int-wechat-tpl-id', maxlength: 64, spellcheck: 'false', autocomplete: 'off' }), undefined);
  (templateId.input as HTMLInputElement).value = task?.templateId ?? '';
  const mapping = new Field(h('textarea', { class: 'form-control form-control-sm font-monospace', id: 'int-wechat-tpl-fields', rows: 4, spellcheck: 'false', placeholder: 'thing1=taskName\ncharacter_string2=flowNumber\ntime3=visitDate\nthing4=staffName' }), undefined);
  mapping.input.value = task?.fields ? Object.entries(task.fields).map(([k, v]) => `${k}=${v}`).join('\n') : '';
  const link = h('input', { class: 'form-check-input', type: 'checkbox', id: 'int-wechat-tpl-link', checked: task?.link !== false });
  templateId.input.disabled = mapping.input.disabled = link.disabled = templatesFromEnv;
  fields.set('templates.taskAssigned.templateId', templateId);
  fields.set('templates.taskAssigned.fields', mapping);
  fields.set('templates.taskAssigned', templateId);
  const templatesFeedback = new Field(h('input', { type: 'hidden' }), f.templates);
  templatesFeedback.feedback.classList.add('d-block');
  fields.set('templates', templatesFeedback);

  const saveBtn = button(at('common.save'), () => void save(), 'btn-primary', { id: 'int-wechat-save' });
  const save = () =>
    busy(saveBtn, async () => {
      const body: Record<string, any> = {};
      if (!enabledField.fromEnv) body.enabled = enabled.checked;
      if (!appId.fromEnv) body.appId = appId.input.value.trim() || null;
      if (!appSecret.fromEnv) body.appSecret = appSecret.input.value;
      if (!templatesFromEnv) {
        const pairs = mapping.input.value
          .split(/[\n,，;；]+/)
          .map((line) => line.split('=').map((x) => x.trim()))
          .filter(([k]) => k);
        const id = templateId.input.value.trim();
        body.templates = id || pairs.length ? { taskAssigned: { templateId: id, fields: Object.fromEntries(pairs.map(([k, v]) => [k, v ?? ''])), ...(link.checked ? {} : { link: false }) } } : null;
      }
      try {
        await put('/api/admin/integrations/wechat', body);
        saved();
      } catch (err) {
        showErrors(err, fields, slot);
      }
    });

  const testOut = h('div', { id: 'int-wechat-test-result' });
  const testBtn = button(at('int.wechatTest'), () => void test(), 'btn-outline-primary', { id: 'int-wechat-test' });
  const test = () =>
    busy(testBtn, async () => {
      try {
        const { test: r } = await post<any>('/api/admin/settings/wechat/test');
        say(testOut, at('int.wechatTestOk', { appId: r.appId }));
      } catch (err) {
        if (needsLogin(err)) return;
        say(testOut, `${err instanceof ApiError ? `${err.code}：` : ''}${errorMessage(err)}`, 'danger');
      }
    });

  return panel(
    at('int.wechat'),
    problemsBox(view, 'int-wechat-problems'),
    h(
      'div',
      { class: 'form-check mb-1' },
      enabled,
      h('label', { class: 'form-check-label', for: 'int-wechat-enabled' }, at('int.wechatEnabled')),
      sourceNote(f.enabled),
    ),
    row('AppID', appId),
    row('AppSecret', appSecret),
    h('div', { class: 'form-text mb-2' }, at('int.operator', { list: `WECHAT_API_BASE=${view.operator.WECHAT_API_BASE}` })),
    h('div', { class: 'form-label small mb-1' }, at('int.wechatTemplate')),
    row(at('int.templateId'), templateId),
    row(at('int.wechatFields'), mapping, at('int.wechatFieldsHelp', { list: WECHAT_VALUES })),
    h('div', { class: 'form-check mb-2' }, link, h('label', { class: 'form-check-label', for: 'int-wechat-tpl-link' }, at('int.wechatLink'))),
    h('div', { class: 'text-danger small' }, templatesFeedback.feedback),
    sourceNote(f.templates),
    h('div', { class: 'd-flex gap-2 mb-2' }, saveBtn, testBtn),
    slot,
    testOut,
  );
}

export const integrations: View = async (main) => {
  // After a save the page is drawn again from what the server now says (sources, last 4 characters, problems).
  const render = async (flash: { sms?: string; wechat?: string } = {}) => {
    const data = await get<{ sms: IntegrationView; wechat: IntegrationView }>('/api/admin/integrations');
    const again = (which: 'sms' | 'wechat') => () =>
      void render({ [which]: at('common.saved') }).catch((err) => {
        if (!needsLogin(err)) say(main, errorMessage(err), 'danger');
      });
    clear(main).append(
      h('h1', { class: 'h5 mb-1' }, at('nav.integrations')),
      h('p', { class: 'text-secondary small' }, at('int.help')),
      h(
        'div',
        { class: 'row g-3' },
        h('div', { class: 'col-lg-6' }, smsPanel(data.sms, again('sms'), flash.sms)),
        h('div', { class: 'col-lg-6' }, wechatPanel(data.wechat, again('wechat'), flash.wechat)),
      ),
    );
  };
  await render();
};
