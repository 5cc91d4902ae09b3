/**
 * Form.io renderer, set up for an offline intranet and a strict CSP. Loaded lazily (it is most of the bytes),
 * so the shell and the first paint do not wait for it.
 *
 * Built from Form.io's ES modules rather than `@formio/js/form`: that entry registers every component type
 * (and their libraries: signature pad, address autocomplete, drag and drop grids), which a phone on a slow
 * network pays for on every first visit. Only the types our forms use are registered up front; a form that
 * an administrator extends with another type loads the rest on demand (see ensureComponents).
 */
import '@formio/js/dist/formio.form.min.css';
import 'flatpickr/dist/flatpickr.min.css';
import './icons.css';
import ButtonComponent from '@formio/js/lib/mjs/components/button/Button';
import CheckBoxComponent from '@formio/js/lib/mjs/components/checkbox/Checkbox';
import Component from '@formio/js/lib/mjs/components/_classes/component/Component';
import ComponentModal from '@formio/js/lib/mjs/components/_classes/componentModal/ComponentModal';
import Field from '@formio/js/lib/mjs/components/_classes/field/Field';
import Input from '@formio/js/lib/mjs/components/_classes/input/Input';
import ListComponent from '@formio/js/lib/mjs/components/_classes/list/ListComponent';
import Multivalue from '@formio/js/lib/mjs/components/_classes/multivalue/Multivalue';
import NestedComponent from '@formio/js/lib/mjs/components/_classes/nested/NestedComponent';
import NestedArrayComponent from '@formio/js/lib/mjs/components/_classes/nestedarray/NestedArrayComponent';
import NestedDataComponent from '@formio/js/lib/mjs/components/_classes/nesteddata/NestedDataComponent';
import Components from '@formio/js/lib/mjs/components/Components';
import DataGridComponent from '@formio/js/lib/mjs/components/datagrid/DataGrid';
import DateTimeComponent from '@formio/js/lib/mjs/components/datetime/DateTime';
import FileComponent from '@formio/js/lib/mjs/components/file/File';
import PanelComponent from '@formio/js/lib/mjs/components/panel/Panel';
import PhoneNumberComponent from '@formio/js/lib/mjs/components/phonenumber/PhoneNumber';
import RadioComponent from '@formio/js/lib/mjs/components/radio/Radio';
import SelectComponent from '@formio/js/lib/mjs/components/select/Select';
import TextAreaComponent from '@formio/js/lib/mjs/components/textarea/TextArea';
import TextFieldComponent from '@formio/js/lib/mjs/components/textfield/TextField';
import TimeComponent from '@formio/js/lib/mjs/components/time/Time';
import UnknownComponent from '@formio/js/lib/mjs/components/unknown/Unknown';
import Displays from '@formio/js/lib/mjs/displays/Displays';
import Form from '@formio/js/lib/mjs/Form';
import { Formio } from '@formio/js/lib/mjs/Formio';
import Licenses from '@formio/js/lib/mjs/licenses/index';
import Providers from '@formio/js/lib/mjs/providers/index';
import Templates from '@formio/js/lib/mjs/templates/Templates';
import ChoicesWrapper from '@formio/js/lib/mjs/utils/ChoicesWrapper';
import Utils, { DefaultEvaluator, Evaluator } from '@formio/js/lib/mjs/utils/index';
import Widgets from '@formio/js/lib/mjs/widgets/index';
import flatpickr from 'flatpickr';
import moment from 'moment-timezone/moment-timezone';
import zones from 'virtual:tz-zones';
import { Mandarin } from 'flatpickr/dist/l10n/zh.js';
import { provideInputmask } from 'virtual:formio-inputmask-slot';
import { csrfToken } from './api.ts';
import { formStringsEn } from './form-i18n-en.ts';
import { currentLang, t } from './i18n.ts';

// What `@formio/js/form` wires up, minus the full component list.
const F = Formio as any;
F.isRenderer = true;
F.Components = Components;
F.Templates = Templates;
F.Utils = Utils;
F.Form = Form;
F.Displays = Displays;
F.Providers = Providers;
F.Widgets = Widgets;
F.Evaluator = Evaluator;
F.Licenses = Licenses;
F.DefaultEvaluator = DefaultEvaluator;
F.Formio = Formio;
const registered: Record<string, unknown> = {
  base: Component,
  component: Component,
  componentmodal: ComponentModal,
  input: Input,
  field: Field,
  multivalue: Multivalue,
  list: ListComponent,
  nested: NestedComponent,
  nesteddata: NestedDataComponent,
  nestedarray: NestedArrayComponent,
  unknown: UnknownComponent,
  button: ButtonComponent,
  checkbox: CheckBoxComponent,
  // The application form's companions (group visits).
  datagrid: DataGridComponent,
  datetime: DateTimeComponent,
  file: FileComponent,
  panel: PanelComponent,
  phoneNumber: PhoneNumberComponent,
  radio: RadioComponent,
  select: SelectComponent,
  textarea: TextAreaComponent,
  textfield: TextFieldComponent,
  time: TimeComponent,
};
(Components as any).setComponents(registered);

const list = (x: unknown): any[] => (Array.isArray(x) ? x : []);

function eachComponent(components: unknown, fn: (c: any) => void) {
  for (const c of list(components)) {
    if (!c || typeof c !== 'object') continue;
    fn(c);
    eachComponent(c.components, fn);
    // Columns hold components per column, tables per cell (a textarea's `rows` is a number).
    for (const col of list(c.columns)) eachComponent(col?.components, fn);
    for (const row of list(c.rows)) for (const cell of list(row)) eachComponent(cell?.components, fn);
  }
}

// Inputmask's bundle is CommonJS with an `__esModule` default inside; depending on the interop either level holds it.
const inputmaskFrom = (m: any) => [m?.default, m?.default?.default, m].find((x) => typeof x?.isValid === 'function');

/**
 * Forms are edited by administrators: a type outside the preloaded set pulls in Form.io's full list first, and
 * a masked text field the Inputmask library (vite.config.ts leaves both out of the renderer chunk).
 */
async function ensureComponents(schema: any) {
  let unknownType = false;
  let masked = false;
  eachComponent(schema?.components, (c) => {
    if (c.type && !(c.type in (Components as any).components)) unknownType = true;
    // A phone number without its own mask gets Form.io's default one.
    if (c.inputMask || c.displayMask || c.inputMasks?.length || (c.type === 'phoneNumber' && c.inputMask === undefined)) masked = true;
  });
  if (unknownType) (Components as any).setComponents((await import('@formio/js/lib/mjs/components/index')).default);
  if (masked) provideInputmask(inputmaskFrom(await import('inputmask')));
}

const w = window as any;
// Form.io's requireLibrary() uses whatever is already on window instead of fetching it from its CDN:
// flatpickr (and its stylesheet, which it looks up under the same property) and the zh locale file.
flatpickr.l10ns.zh = Mandarin;
w.flatpickr = flatpickr;
w['flatpickr-zh'] = Mandarin;
// Form.io would fetch every time zone from its CDN; the campus zones are bundled (see vite.config.ts).
moment.tz.load(zones);
moment.zonesLoaded = true;
// Anything else Form.io would fetch at run time points at our origin: it then fails (and is visible in tests)
// instead of leaving the intranet.
for (const key of Object.keys(F.cdn ?? {})) {
  if (typeof F.cdn[key] === 'string') F.cdn[key] = `${location.origin}/formio-cdn-disabled/${key}`;
}
F.cdn.baseUrl = `${location.origin}/formio-cdn-disabled`;
Formio.setBaseUrl(location.origin);
Formio.setProjectUrl(location.origin);
// Visitors and staff sign in with our own sessions, never Form.io's: its user lookup (storage, then a cookie
// parse, on every evaluation context while rendering) always ends in null, so answer that directly.
F.getUser = () => null;
// Our forms use simple conditionals, patterns and JSONLogic only; no JavaScript, so no 'unsafe-eval' in the CSP.
F.Evaluator.noeval = true;

// The upload API answers a relative url (/api/uploads/:id); Form.io's url storage would prefix it with the
// component url (/api/uploads/api/uploads/:id). Deleting is a no-op: unlinked uploads are purged by retention.
const urlStorage = (Providers as any).getProvider('storage', 'url');
// Form.io constructs providers with `new`: a plain function returning an object, not an arrow function.
(Providers as any).addProvider('storage', 'url', function fixedUrlStorage(formio: any) {
  const base = new urlStorage(formio);
  return {
    ...base,
    async uploadFile(...args: any[]) {
      const info = await base.uploadFile(...args);
      if (info?.data?.url) info.url = info.data.url;
      return info;
    },
    deleteFile: () => Promise.resolve('ok'),
  };
});

/**
 * Choices.js (Form.io's select widget) names its search box after the field's label by reading the label's
 * `innerText`, which forces a layout of the whole form in the middle of rendering it, once per select
 * (a large share of the render time on a slow phone). The label's text content gives the same name without
 * a layout: the label holds only the field name and the required marker's text.
 */
const choicesTemplates = (ChoicesWrapper as any).defaults.templates;
const labelText = (choices: any) => {
  const id = choices.passedElement?.element?.id;
  const label = id && choices._docRoot?.querySelector(`label[for='${id}']`);
  return label?.textContent?.replace(/\s+/g, ' ').trim() ?? '';
};
const originalInput = choicesTemplates.input;
choicesTemplates.input = function input(this: any, config: any, placeholderValue: string | null) {
  if (placeholderValue || config.labelId) return originalInput.call(this, config, placeholderValue);
  // A labelId makes the original skip its own lookup (the input template uses it for nothing else).
  const el: HTMLElement = originalInput.call(this, { ...config, labelId: '-' }, placeholderValue);
  const text = labelText(this);
  if (text) el.setAttribute('aria-label', text);
  return el;
};
const originalOuter = choicesTemplates.containerOuter;
choicesTemplates.containerOuter = function containerOuter(this: any, config: any, ...args: any[]) {
  const [, isSelectElement, , searchEnabled, , labelId] = args;
  if (!isSelectElement || searchEnabled || labelId) return originalOuter.call(this, config, ...args);
  const el: HTMLElement = originalOuter.call(this, config, ...args.slice(0, 5), '-');
  el.removeAttribute('aria-labelledby');
  const text = labelText(this);
  if (text) el.setAttribute('aria-label', text);
  return el;
};

/** Form.io's built-in strings that appear on our forms. */
const zhStrings: Record<string, string> = {
  dropFilesToAttach: '拖放文件到此处，',
  or: '或',
  browseFiles: '选择文件',
  browseToAttachFileFor: '选择要上传的文件：',
  allowedFileTypes: '允许的文件类型：',
  fileName: '文件名',
  size: '大小',
  type: '类型',
  removeBtnPressToRemove: '按下以移除',
  uploading: '上传中',
  waitFileProcessing: '正在处理文件，请稍候…',
  readyForUpload: '等待上传',
  succefullyUploaded: '上传成功',
  noFilesSelected: '未选择文件',
  fileProcessingFailed: '文件处理失败',
  wrongFileType: '文件类型不正确，只能上传 {{ pattern }}',
  fileTooBig: '文件过大，不能超过 {{ size }}',
  fileTooSmall: '文件过小，至少 {{ size }}',
  fileWithDuplicatedNameInProgress: '同名文件正在上传',
  fileWithDuplicatedNameLoaded: '同名文件已上传',
  noFileService: '未配置文件服务',
  remove: '移除',
  error: '提交前请修正以下问题：',
  errorListHotkey: '按 Ctrl + Alt + X 返回错误列表',
  errorsListNavigationMessage: '点击跳转到有错误的字段',
  submitError: '请检查表单并修正所有错误后再提交。',
  complete: '提交成功',
  submit: '提交',
  required: '{{field}}为必填项',
  pattern: '{{field}}格式不正确',
  mask: '{{field}}格式不正确',
  maxLength: '{{field}}不能超过{{length}}个字',
  minLength: '{{field}}至少需要{{length}}个字',
  invalid_date: '{{field}}不是有效日期',
  invalid_regex: '{{field}}格式不正确',
  invalidOption: '{{field}}的选项无效',
  valueIsNotAvailable: '{{ field }}的选项无效',
  select: '{{field}}的选项无效',
  time: '时间无效',
  noResultsFound: '没有找到结果',
  noChoices: '没有可选项',
  typeToSearch: '输入以搜索',
  loading: '加载中',
  yes: '是',
  no: '否',
  cancel: '取消',
  next: '下一步',
  previous: '上一步',
};

export type FormioForm = any;

export interface RenderOptions {
  readOnly?: boolean;
  /** Runs instead of Form.io's own submission; an error keeps the form (and its data) on screen. */
  onSubmit?: (data: Record<string, any>) => Promise<void>;
}

/**
 * Our CSRF header on every file component, so the upload POST passes the server's check. Time fields become
 * masked text fields: a native time input shows the browser's own 12- or 24-hour clock ("09:00 AM" on many
 * phones) whatever the form's `format` says, and our users read 24-hour times. The value stays "HH:mm".
 */
function prepareComponents(components: any[]): any[] {
  return components.map((c) => {
    const next = { ...c };
    if (c.type === 'file') next.options = { ...(c.options ?? {}), headers: { 'X-CSRF-Token': csrfToken() } };
    if (c.type === 'time') {
      next.inputType = 'text';
      next.format = /H/.test(c.format ?? '') && !/[aAhk]/.test(c.format) ? c.format : 'HH:mm';
      next.placeholder = c.placeholder || t('form.timePlaceholder');
      next.attributes = { inputmode: 'numeric', autocomplete: 'off', ...(c.attributes ?? {}) };
    }
    if (Array.isArray(c.components)) next.components = prepareComponents(c.components);
    if (Array.isArray(c.columns)) next.columns = c.columns.map((col: any) => ({ ...col, components: prepareComponents(col.components ?? []) }));
    return next;
  });
}

/**
 * In English the date picker follows the page too (the shipped form sets the calendar's locale to zh), and the
 * form's own texts come from formStringsEn: the Chinese strings of the shipped forms, keyed by their text.
 * A field an administrator adds later in the form builder has no English entry and shows its own text.
 */
function inPageLanguage(components: any[]): any[] {
  if (currentLang() === 'zh') return components;
  return components.map((c) => {
    const next = { ...c };
    if (c.type === 'datetime' && c.widget?.locale === 'zh') next.widget = { ...c.widget, locale: 'en' };
    if (Array.isArray(c.components)) next.components = inPageLanguage(c.components);
    if (Array.isArray(c.columns)) next.columns = c.columns.map((col: any) => ({ ...col, components: inPageLanguage(col.components ?? []) }));
    return next;
  });
}

export async function renderForm(el: HTMLElement, schema: any, options: RenderOptions = {}): Promise<FormioForm> {
  await ensureComponents(schema);
  const zh = currentLang() === 'zh';
  const form = await Formio.createForm(el, { ...schema, components: inPageLanguage(prepareComponents(schema.components ?? [])) }, {
    readOnly: options.readOnly ?? false,
    language: zh ? 'zh' : 'en',
    i18n: zh ? { zh: zhStrings } : { en: formStringsEn },
    noAlerts: false,
    hooks: {
      beforeSubmit: (submission: any, next: (err?: any) => void) => {
        if (!options.onSubmit) return next();
        // Form.io validates after this hook and clears the last answer's server errors only where it finds the
        // component by path: one inside a data grid row (companions[1].idNumber) stayed and blocked a submission
        // the server had accepted. This answer decides anew.
        form.everyComponent?.((c: any) => {
          if (c.serverErrors?.length) c.serverErrors = [];
        });
        options.onSubmit(submission.data).then(
          () => next(),
          (err: any) => next(err),
        );
      },
    },
  } as any);
  form.nosubmit = true;
  return form;
}

/** Server answers `{field, message}` pairs; Form.io marks the fields when they come as `{path, message, fromServer}`. */
export function toFormioErrors(message: string, details: { field: string; message: string }[]) {
  if (!details.length) return [{ message, fromServer: true }];
  return details.map((d) => ({ message: d.message, path: d.field, fromServer: true }));
}

export { Formio };
