import * as formioNamespace from '@formio/core';

// @formio/core is CommonJS: under ESM its API sits on the default export, under CJS interop on the namespace.
const formioCore: any = (formioNamespace as any).processSync ? formioNamespace : (formioNamespace as any).default;
const { processSync, ProcessTargets, interpolateErrors } = formioCore;

export interface FormSchema {
  components: FormComponent[];
  [key: string]: unknown;
}

export interface FormComponent {
  type: string;
  key: string;
  label?: string;
  input?: boolean;
  disabled?: boolean;
  hidden?: boolean;
  properties?: Record<string, string>;
  components?: FormComponent[];
  columns?: Array<{ components: FormComponent[] }>;
  data?: { values?: Array<{ label: string; value: string }> };
  validate?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface FieldError {
  field: string;
  message: string;
}

const LAYOUT = new Set(['panel', 'columns', 'fieldset', 'well', 'table', 'tabs', 'container']);
const NOT_DATA = new Set(['button', 'htmlelement', 'content']);

/** Every data component of a form, flattened through panels and columns. */
export function dataComponents(components: FormComponent[]): FormComponent[] {
  const out: FormComponent[] = [];
  for (const c of components) {
    if (c.columns) for (const col of c.columns) out.push(...dataComponents(col.components ?? []));
    if (c.components && LAYOUT.has(c.type)) out.push(...dataComponents(c.components));
    else if (!NOT_DATA.has(c.type) && c.input !== false && c.key) out.push(c);
  }
  return out;
}

export function mapComponents(components: FormComponent[], fn: (c: FormComponent) => FormComponent): FormComponent[] {
  return components.map((c) => {
    const mapped = fn({ ...c });
    if (mapped.components) mapped.components = mapComponents(mapped.components, fn);
    if (mapped.columns) mapped.columns = mapped.columns.map((col) => ({ ...col, components: mapComponents(col.components ?? [], fn) }));
    return mapped;
  });
}

// Form.io's built-in messages are English; a form may set its own (validate.customMessage), else these apply.
const MESSAGES: Record<string, (label: string, setting: unknown) => string> = {
  required: (l) => `请填写${l}`,
  pattern: (l) => `${l}格式不正确`,
  minLength: (l, s) => `${l}至少需要${s}个字符`,
  maxLength: (l, s) => `${l}不能超过${s}个字符`,
  min: (l, s) => `${l}不能小于${s}`,
  max: (l, s) => `${l}不能大于${s}`,
  email: (l) => `${l}不是有效的邮箱地址`,
  onlyAvailableItems: (l) => `${l}不是可选的值`,
  select: (l) => `${l}不是可选的值`,
  day: (l) => `${l}不是有效的日期`,
  time: (l) => `${l}不是有效的时间`,
};

export interface ValidationResult {
  /** Only the keys of the form's visible data components; everything else the client sent is dropped. */
  data: Record<string, unknown>;
  errors: FieldError[];
}

/**
 * Server-side validation of a submission against its Form.io JSON. The browser is never trusted: unknown keys
 * and conditionally hidden fields are dropped, and fields the server fills must be set by the caller afterwards
 * (Form.io does not protect disabled fields).
 */
export function validateSubmission(form: FormSchema, input: Record<string, unknown>): ValidationResult {
  const submission = { data: structuredClone(input ?? {}) as Record<string, unknown> };
  const context: any = {
    form,
    submission,
    data: submission.data,
    components: form.components,
    processors: ProcessTargets.submission,
    scope: { errors: [] },
    config: { server: true },
  };
  processSync(context);
  context.processors = ProcessTargets.evaluator;
  processSync(context);

  const byKey = new Map(dataComponents(form.components).map((c) => [c.key, c]));
  const errors: FieldError[] = interpolateErrors(context.scope.errors).map((e: any) => {
    const key = String(e.context?.key ?? e.path?.[0] ?? '');
    // A field inside a data grid (companions[1].idNumber) is not a top-level key: its own texts apply.
    const nested = Array.isArray(e.path) && e.path.length > 1 ? byKey.get(String(e.path[0]))?.components?.find((c) => c.key === key) : undefined;
    const component = nested ?? byKey.get(key);
    const custom = component?.validate?.customMessage ?? (nested?.errors as Record<string, string> | undefined)?.[String(e.context?.validator)];
    const label = String(e.context?.label ?? component?.label ?? key);
    const make = MESSAGES[String(e.context?.validator)];
    const message = custom ? String(e.message) : make ? make(label, e.context?.setting) : `${label}填写有误`;
    return { field: String(e.context?.path ?? key), message };
  });

  const hidden = new Set(
    (context.scope.conditionals ?? []).filter((c: any) => c.conditionallyHidden).map((c: any) => String(c.path)),
  );
  const data: Record<string, unknown> = {};
  for (const [key] of byKey) {
    if (!hidden.has(key) && submission.data[key] !== undefined) data[key] = submission.data[key];
  }
  return { data, errors: errors.filter((e) => !hidden.has(e.field)) };
}
