import { z } from 'zod';

/** The notices sent over WeChat, with the values each one can put into its template's fields. */
export const WECHAT_NOTICES = {
  taskAssigned: ['university', 'staffName', 'taskName', 'flowNumber', 'visitDate', 'visitTime', 'link'],
} as const satisfies Record<string, readonly string[]>;

export type WechatNotice = keyof typeof WECHAT_NOTICES;

/** Template field keys as the official account shows them: thing1, time2, character_string3, ... */
const FIELD_KEY = /^[a-z][a-z_]*\d*$/;

const templateSchema = z
  .object({
    /** The template id the official account's console shows (about 43 characters). */
    templateId: z.string().regex(/^[A-Za-z0-9_-]{10,64}$/, 'does not look like a template id (letters, digits, - and _ as the console shows it)'),
    /** Template field -> which of our values fills it. */
    fields: z.record(z.string().regex(FIELD_KEY, 'is not a template field name (e.g. thing1, time2)'), z.string()).refine((f) => Object.keys(f).length > 0, 'map at least one field'),
    /** Open the staff task page when the message is tapped (default true). */
    link: z.boolean().optional(),
  })
  .strict();

export type WechatTemplate = z.infer<typeof templateSchema>;
export type WechatTemplateMap = Partial<Record<WechatNotice, WechatTemplate>>;

/** Values copied from a console often carry a space or a line break at either end. */
const credential = (shape: RegExp, what: string) =>
  z
    .string()
    .refine((v) => v === v.trim(), 'has a space or line break before or after it')
    .refine((v) => shape.test(v.trim()), `does not look like ${what}`);

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The WeChat part of the environment (merged into server/config.ts). */
export const wechatEnvShape = {
  WECHAT_ENABLED: bool.default(false),
  WECHAT_APP_ID: credential(/^wx[0-9a-f]{16}$/, 'an official account AppID (wx followed by 16 hexadecimal digits)').optional(),
  WECHAT_APP_SECRET: credential(/^[0-9a-f]{32}$/, 'an AppSecret (32 hexadecimal digits)').optional(),
  WECHAT_API_BASE: z.url().default('https://api.weixin.qq.com'),
  /** JSON: notice name -> { templateId, fields: { templateField: ourValue } } (see README). */
  WECHAT_TEMPLATES: z.string().optional(),
};

type WechatEnv = z.infer<z.ZodObject<typeof wechatEnvShape>>;

/** WECHAT_TEMPLATES checked, or the problems found, each naming the variable. */
export function parseWechatTemplates(env: WechatEnv): { templates: WechatTemplateMap; issues: string[] } {
  if (!env.WECHAT_TEMPLATES) return { templates: {}, issues: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(env.WECHAT_TEMPLATES);
  } catch (err: any) {
    return { templates: {}, issues: [`WECHAT_TEMPLATES: not valid JSON (${err.message})`] };
  }
  const parsed = z.record(z.string(), templateSchema).safeParse(raw);
  if (!parsed.success) {
    return { templates: {}, issues: parsed.error.issues.map((i) => `WECHAT_TEMPLATES.${i.path.join('.') || '(root)'}: ${i.message}`) };
  }
  const issues: string[] = [];
  for (const [name, template] of Object.entries(parsed.data)) {
    const known = (WECHAT_NOTICES as Record<string, readonly string[]>)[name];
    if (!known) {
      issues.push(`WECHAT_TEMPLATES.${name}: unknown notice; known: ${Object.keys(WECHAT_NOTICES).join(', ')}`);
      continue;
    }
    for (const [field, value] of Object.entries(template.fields)) {
      if (!known.includes(value)) issues.push(`WECHAT_TEMPLATES.${name}.fields.${field}: "${value}" is not a value of this notice; available: ${known.join(', ')}`);
    }
  }
  return { templates: parsed.data as WechatTemplateMap, issues };
}

/** Start-up checks: with WECHAT_ENABLED every credential and a template for every notice. */
export function checkWechatEnv(env: WechatEnv): string[] {
  if (!env.WECHAT_ENABLED) return [];
  const issues = (['WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'WECHAT_TEMPLATES'] as const)
    .filter((key) => !env[key])
    .map((key) => `${key}: required when WECHAT_ENABLED=true`);
  const { templates, issues: templateIssues } = parseWechatTemplates(env);
  issues.push(...templateIssues);
  if (env.WECHAT_TEMPLATES && !templateIssues.length) {
    const missing = Object.keys(WECHAT_NOTICES).filter((n) => !templates[n as WechatNotice]);
    if (missing.length) issues.push(`WECHAT_TEMPLATES: no template for ${missing.map((m) => `"${m}"`).join(', ')} (every notice sent over WeChat needs one)`);
  }
  return issues;
}
