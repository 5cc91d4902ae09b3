/**
 * The Form.io builder (full build: only this chunk carries it). Set up on its own rather than through
 * lib/formio.ts: that module builds the visitor's slim renderer from Form.io's ES modules, a different Formio
 * object than the full build's, so the intranet/CSP settings are applied here to the one the builder uses.
 */
import '@formio/js/dist/formio.builder.min.css';
import 'flatpickr/dist/flatpickr.min.css';
import '../lib/icons.css';
import { Formio } from '@formio/js';
import flatpickr from 'flatpickr';
import { Mandarin } from 'flatpickr/dist/l10n/zh.js';
import moment from 'moment-timezone/moment-timezone';
import zones from 'virtual:tz-zones';
import { currentLang } from '../lib/i18n.ts';

const F = Formio as any;
const w = window as any;
// As on the visitor pages: Form.io takes libraries already on window instead of fetching them from its CDN,
// anything else it would fetch points at our origin (and fails visibly), and no eval (the CSP has no
// 'unsafe-eval'; the builder's own settings dialogs work without it: their conditions are JSON logic).
flatpickr.l10ns.zh = Mandarin;
w.flatpickr = flatpickr;
w['flatpickr-zh'] = Mandarin;
moment.tz.load(zones);
moment.zonesLoaded = true;
for (const key of Object.keys(F.cdn ?? {})) {
  if (typeof F.cdn[key] === 'string') F.cdn[key] = `${location.origin}/formio-cdn-disabled/${key}`;
}
if (F.cdn) F.cdn.baseUrl = `${location.origin}/formio-cdn-disabled`;
F.setBaseUrl(location.origin);
F.setProjectUrl(location.origin);
F.Evaluator.noeval = true;

/** The builder's own words (group titles, component names, edit dialog) where it passes them through t(). */
const zhBuilder: Record<string, string> = {
  Basic: '基础',
  Advanced: '高级',
  Layout: '布局',
  Data: '数据',
  'Text Field': '单行文本',
  'Text Area': '多行文本',
  Number: '数字',
  Password: '密码',
  Checkbox: '复选框',
  'Select Boxes': '多选框组',
  Select: '下拉选择',
  Radio: '单选',
  Button: '按钮',
  Email: '电子邮箱',
  Url: '网址',
  'Phone Number': '电话号码',
  Tags: '标签',
  Address: '地址',
  'Date / Time': '日期 / 时间',
  Day: '日',
  Time: '时间',
  Currency: '金额',
  Survey: '问卷',
  Signature: '签名',
  'HTML Element': 'HTML 元素',
  Content: '说明文字',
  Columns: '分栏',
  'Field Set': '字段组',
  Panel: '面板',
  Table: '表格',
  Tabs: '选项卡',
  Well: '分组框',
  Hidden: '隐藏字段',
  Container: '容器',
  'Data Map': '键值表',
  'Data Grid': '数据表格',
  'Edit Grid': '可编辑表格',
  File: '文件上传',
  'Search field(s)': '搜索组件',
  'Drag and Drop a form component': '将组件拖放到此处',
  Display: '显示',
  Validation: '校验',
  API: '数据键',
  Conditional: '条件显示',
  Logic: '逻辑',
  Label: '标签',
  'Label Position': '标签位置',
  Placeholder: '占位提示',
  Description: '说明',
  Tooltip: '提示',
  'Property Name': '字段键名',
  Required: '必填',
  Save: '保存',
  Cancel: '取消',
  Remove: '删除',
  Preview: '预览',
  Help: '帮助',
  'Hide Label': '隐藏标签',
  Disabled: '禁用',
  'Default Value': '默认值',
  'Minimum Length': '最少字数',
  'Maximum Length': '最多字数',
  'Regular Expression Pattern': '正则表达式',
  'Custom Error Message': '自定义错误提示',
  'Error Label': '错误提示中的名称',
  'Input Mask': '输入掩码',
  Prefix: '前缀',
  Suffix: '后缀',
  'Data Source Type': '数据来源',
  'Data Source Values': '选项',
  Value: '值',
  'Add Another': '再添加一项',
  // The file component's strings (the preview and the builder's canvas use this table, not the renderer's).
  dropFilesToAttach: '拖放文件到此处，',
  or: '或',
  browseFiles: '选择文件',
  fileName: '文件名',
  size: '大小',
  type: '类型',
  submit: '提交',
  required: '{{field}}为必填项',
};

export interface Builder {
  schema: any;
  setForm(form: any): Promise<unknown>;
  on(event: 'change', listener: () => void): void;
  destroy?(): void;
}

export async function createBuilder(el: HTMLElement, schema: any): Promise<Builder> {
  const zh = currentLang() === 'zh';
  const builder = await (Formio as any).builder(el, structuredClone(schema), {
    language: zh ? 'zh' : 'en',
    i18n: { zh: zhBuilder },
    noDefaultSubmitButton: true,
    // Premium components need a Form.io licence server; resource fields need a Form.io project. Neither exists.
    builder: {
      premium: false,
      resource: false,
      basic: { title: zh ? '基础' : 'Basic' },
      advanced: { title: zh ? '高级' : 'Advanced' },
      layout: { title: zh ? '布局' : 'Layout' },
      data: { title: zh ? '数据' : 'Data' },
    },
    editForm: { language: zh ? 'zh' : 'en', i18n: { zh: zhBuilder } },
  });
  // Tests add components through the builder's own API (drag-and-drop is impractical to script).
  (window as any).vfBuilder = builder;
  return builder;
}

/** The form as an applicant sees it (server-filled fields and directory options stay empty here). */
export async function renderPreview(el: HTMLElement, schema: any) {
  const zh = currentLang() === 'zh';
  const form = await F.createForm(el, structuredClone(schema), { language: zh ? 'zh' : 'en', i18n: { zh: zhBuilder }, noAlerts: true });
  form.nosubmit = true;
  return form;
}
