import { z } from 'zod';
import { type SettingIssue, settingIssues, zhText } from '../shared/setting-issues.ts';

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
    templateId: z
      .string()
      .regex(
        /^[A-Za-z0-9_-]{10,64}$/,
        zhText('does not look like a template id (letters, digits, - and _ as the console shows it)', '看起来不像模板 ID（公众号后台显示的字母、数字、- 和 _）'),
      ),
    /** Template field -> which of our values fills it. */
    fields: z
      .record(z.string().regex(FIELD_KEY, zhText('is not a template field name (e.g. thing1, time2)', '不是模板字段名（如 thing1、time2）')), z.string().max(64))
      .refine((f) => Object.keys(f).length > 0, zhText('map at least one field', '请至少对应一个字段')),
    /** Open the staff task page when the message is tapped (default true). */
    link: z.boolean().optional(),
  })
  .strict();

export type WechatTemplate = z.infer<typeof templateSchema>;
export type WechatTemplateMap = Partial<Record<WechatNotice, WechatTemplate>>;

/** Values copied from a console often carry a space or a line break at either end. */
const credential = (shape: RegExp, what: string, whatZh: string) =>
  z
    .string()
    .refine((v) => v === v.trim(), zhText('has a space or line break before or after it', '前后有空格或换行（多半是复制时带上的）'))
    .refine((v) => shape.test(v.trim()), zhText(`does not look like ${what}`, `看起来不像${whatZh}`));

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The WeChat part of the environment (merged into server/config.ts). */
export const wechatEnvShape = {
  WECHAT_ENABLED: bool.default(false),
  WECHAT_APP_ID: credential(/^wx[0-9a-f]{16}$/, 'an official account AppID (wx followed by 16 hexadecimal digits)', '公众号 AppID（wx 后接 16 位十六进制数字）').optional(),
  WECHAT_APP_SECRET: credential(/^[0-9a-f]{32}$/, 'an AppSecret (32 hexadecimal digits)', ' AppSecret（32 位十六进制数字）').optional(),
  WECHAT_API_BASE: z.url().default('https://api.weixin.qq.com'),
  /** JSON: notice name -> { templateId, fields: { templateField: ourValue } } (see README). */
  WECHAT_TEMPLATES: z.string().optional(),
};

export type WechatEnv = z.infer<z.ZodObject<typeof wechatEnvShape>>;

const issueLine = (i: SettingIssue) => `${i.path.join('.')}: ${i.message}`;

/**
 * A notice mapping (WECHAT_TEMPLATES, parsed from JSON) checked: its shape, known notices, only values each
 * notice has, and (complete) a template for every notice. Paths are below WECHAT_TEMPLATES.
 */
export function checkWechatTemplates(raw: unknown, complete: boolean): { templates: WechatTemplateMap; issues: SettingIssue[] } {
  const parsed = z.record(z.string(), templateSchema).safeParse(raw);
  if (!parsed.success) return { templates: {}, issues: settingIssues(parsed.error) };
  const issues: SettingIssue[] = [];
  for (const [name, template] of Object.entries(parsed.data)) {
    const known = (WECHAT_NOTICES as Record<string, readonly string[]>)[name];
    if (!known) {
      const all = Object.keys(WECHAT_NOTICES).join(', ');
      issues.push({ path: [name], message: `unknown notice; known: ${all}`, zh: `没有这种通知；可用：${all}` });
      continue;
    }
    for (const [field, value] of Object.entries(template.fields)) {
      if (!known.includes(value)) {
        issues.push({
          path: [name, 'fields', field],
          message: `"${value}" is not a value of this notice; available: ${known.join(', ')}`,
          zh: `“${value}”不是这种通知的取值；可用：${known.join('、')}`,
        });
      }
    }
  }
  if (complete && !issues.length) {
    const missing = Object.keys(WECHAT_NOTICES).filter((n) => !parsed.data[n]);
    if (missing.length) {
      issues.push({
        path: [],
        message: `no template for ${missing.map((m) => `"${m}"`).join(', ')} (every notice sent over WeChat needs one)`,
        zh: `缺少 ${missing.map((m) => `“${m}”`).join('、')} 的模板（通过微信发送的每种通知都需要一个）`,
      });
    }
  }
  return { templates: parsed.data as WechatTemplateMap, issues };
}

function readWechatTemplates(env: WechatEnv, complete: boolean): { templates: WechatTemplateMap; issues: SettingIssue[] } {
  if (!env.WECHAT_TEMPLATES) return { templates: {}, issues: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(env.WECHAT_TEMPLATES);
  } catch (err: any) {
    return { templates: {}, issues: [{ path: ['WECHAT_TEMPLATES'], message: `not valid JSON (${err.message})`, zh: `不是有效的 JSON（${err.message}）` }] };
  }
  const { templates, issues } = checkWechatTemplates(raw, complete);
  return { templates, issues: issues.map((i) => ({ ...i, path: ['WECHAT_TEMPLATES', ...i.path] })) };
}

/** WECHAT_TEMPLATES checked, or the problems found, each naming the variable. */
export function parseWechatTemplates(env: WechatEnv): { templates: WechatTemplateMap; issues: string[] } {
  const { templates, issues } = readWechatTemplates(env, false);
  return { templates, issues: issues.map(issueLine) };
}

/**
 * The checks of a whole WeChat configuration (the environment at start-up, or the environment merged with what
 * an administrator saved): with WeChat on, every credential and a template for every notice.
 */
export function wechatSettingIssues(env: WechatEnv): SettingIssue[] {
  if (!env.WECHAT_ENABLED) return [];
  const issues: SettingIssue[] = (['WECHAT_APP_ID', 'WECHAT_APP_SECRET', 'WECHAT_TEMPLATES'] as const)
    .filter((key) => !env[key])
    .map((key) => ({ path: [key], message: 'required when WECHAT_ENABLED=true', zh: '开启微信通知时必填' }));
  return [...issues, ...readWechatTemplates(env, true).issues];
}

/** Start-up checks: with WECHAT_ENABLED every credential and a template for every notice. */
export function checkWechatEnv(env: WechatEnv): string[] {
  return wechatSettingIssues(env).map(issueLine);
}
