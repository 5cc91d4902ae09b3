import type { Logger } from 'pino';
import { z } from 'zod';
import { TEMPLATE_PLACEHOLDERS } from '../admin/settings-admin.service.ts';
import { AliyunSmsProvider } from './aliyun.provider.ts';
import { ConsoleSmsProvider, type SmsProvider } from './sms.provider.ts';
import { type SmsTemplateMap, templateMapSchema } from './sms.template-map.ts';
import { TencentSmsProvider } from './tencent.provider.ts';
import { type SettingIssue, settingIssues, zhText } from '../shared/setting-issues.ts';

/**
 * Templates sent only when a feature is used (a group visit's companion links, a host's invitation): a vendor
 * mapping may leave them out, so that a deployment mapped before the feature existed keeps starting. An
 * invitation is refused at creation without one (see SmsService.canSend); its cancellation is then not sent.
 */
export const OPTIONAL_TEMPLATES = ['companionPass', 'invitation', 'invitationCanceled'];
/** The templates the server sends (process `sms` jobs and task notices): each needs a vendor template id. */
export const SENT_TEMPLATES = Object.keys(TEMPLATE_PLACEHOLDERS).filter((name) => !OPTIONAL_TEMPLATES.includes(name));
/** The admin "send test" template: mapped optionally; without it the test sends the `approved` template with sample values. */
export const TEST_TEMPLATE = 'test';
/** The values of the test SMS (a verification-code template fits: {code} is six digits). */
export const TEST_TEMPLATE_PLACEHOLDERS = ['university', 'code'];

/** Values copied from a console often carry a space or a line break at either end. */
const credential = (shape: RegExp, what: string, whatZh: string) =>
  z
    .string()
    .refine((v) => v === v.trim(), zhText('has a space or line break before or after it', '前后有空格或换行（多半是复制时带上的）'))
    .refine((v) => shape.test(v.trim()), zhText(`does not look like ${what}`, `看起来不像${whatZh}`));

/** The SMS part of the environment (merged into server/config.ts). Shapes only; the vendor decides if they are right. */
export const smsEnvShape = {
  SMS_PROVIDER: z.enum(['console', 'aliyun', 'tencent']).default('console'),
  /** JSON: our template name -> vendor template id, or { "id": ..., "params": [...] } (see README). */
  SMS_TEMPLATES: z.string().optional(),
  ALIYUN_SMS_ACCESS_KEY_ID: credential(
    /^[A-Za-z0-9.]{12,128}$/,
    'an AccessKey ID (e.g. LTAI followed by letters and digits)',
    ' AccessKey ID（通常以 LTAI 开头，由字母和数字组成）',
  ).optional(),
  ALIYUN_SMS_ACCESS_KEY_SECRET: credential(/^[A-Za-z0-9]{16,64}$/, 'an AccessKey secret (about 30 letters and digits)', ' AccessKey Secret（约 30 位字母和数字）').optional(),
  ALIYUN_SMS_SIGN_NAME: z.string().trim().min(2).max(20).optional(),
  ALIYUN_SMS_ENDPOINT: z.url().default('https://dysmsapi.aliyuncs.com'),
  ALIYUN_SMS_REGION: z.string().default('cn-hangzhou'),
  TENCENT_SMS_SECRET_ID: credential(/^AKID[A-Za-z0-9]{16,64}$/, 'a SecretId (AKID followed by letters and digits)', ' SecretId（以 AKID 开头，后接字母和数字）').optional(),
  TENCENT_SMS_SECRET_KEY: credential(/^[A-Za-z0-9]{16,64}$/, 'a SecretKey (32 letters and digits)', ' SecretKey（32 位字母和数字）').optional(),
  TENCENT_SMS_SDK_APP_ID: credential(/^\d{10}$/, 'an SmsSdkAppId (10 digits, e.g. 1400006666)', ' SmsSdkAppId（10 位数字，如 1400006666）').optional(),
  TENCENT_SMS_SIGN_NAME: z.string().trim().min(2).max(20).optional(),
  TENCENT_SMS_ENDPOINT: z.url().default('https://sms.tencentcloudapi.com'),
  TENCENT_SMS_REGION: z.string().default('ap-guangzhou'),
};

export type SmsEnv = z.infer<z.ZodObject<typeof smsEnvShape>>;
export type SmsVendor = 'aliyun' | 'tencent';

/** What each vendor needs set, by variable. */
export const SMS_REQUIRED: Record<SmsVendor, Array<keyof SmsEnv>> = {
  aliyun: ['ALIYUN_SMS_ACCESS_KEY_ID', 'ALIYUN_SMS_ACCESS_KEY_SECRET', 'ALIYUN_SMS_SIGN_NAME', 'SMS_TEMPLATES'],
  tencent: ['TENCENT_SMS_SECRET_ID', 'TENCENT_SMS_SECRET_KEY', 'TENCENT_SMS_SDK_APP_ID', 'TENCENT_SMS_SIGN_NAME', 'SMS_TEMPLATES'],
};

export const SMS_VENDOR_ZH: Record<SmsVendor, string> = { aliyun: '阿里云', tencent: '腾讯云' };

/**
 * A template mapping (SMS_TEMPLATES, parsed from JSON) checked against the vendor: its shape, a template id for
 * every SMS the server sends, known template names, and only values each SMS has. Paths are below SMS_TEMPLATES.
 */
export function checkSmsTemplates(vendor: SmsVendor, raw: unknown): { templates: SmsTemplateMap; issues: SettingIssue[] } {
  const parsed = templateMapSchema.safeParse(raw);
  if (!parsed.success) return { templates: {}, issues: settingIssues(parsed.error) };
  const templates = parsed.data;
  const issues: SettingIssue[] = [];
  const missing = SENT_TEMPLATES.filter((name) => !Object.hasOwn(templates, name));
  if (missing.length) {
    issues.push({
      path: [],
      message: `no ${vendor} template id for ${missing.map((m) => `"${m}"`).join(', ')} (every SMS the server sends needs one)`,
      zh: `缺少 ${missing.map((m) => `“${m}”`).join('、')} 的${SMS_VENDOR_ZH[vendor]}模板号（服务器发送的每种短信都需要一个）`,
    });
  }
  for (const [name, mapping] of Object.entries(templates)) {
    const known = name === TEST_TEMPLATE ? TEST_TEMPLATE_PLACEHOLDERS : (TEMPLATE_PLACEHOLDERS as Record<string, string[]>)[name];
    if (!known) {
      const all = [...SENT_TEMPLATES, ...OPTIONAL_TEMPLATES, TEST_TEMPLATE].join(', ');
      issues.push({ path: [name], message: `unknown template; known: ${all}`, zh: `没有这种短信；可用：${all}` });
      continue;
    }
    if (vendor === 'tencent' && mapping.params && !Array.isArray(mapping.params)) {
      issues.push({
        path: [name, 'params'],
        message: 'tencent templates take a list of names in the order of {1}, {2}, ...',
        zh: '腾讯云模板按位置填值：请按 {1}、{2}…… 的顺序列出取值名，用逗号分隔',
      });
    }
    const ours = mapping.params ? (Array.isArray(mapping.params) ? mapping.params : Object.values(mapping.params)) : [];
    for (const p of ours.filter((p) => !known.includes(p))) {
      issues.push({
        path: [name, 'params'],
        message: `"${p}" is not a value of this SMS; available: ${known.join(', ')}`,
        zh: `“${p}”不是这种短信的取值；可用：${known.join('、')}`,
      });
    }
  }
  return { templates, issues };
}

const issueLine = (i: SettingIssue) => `${i.path.join('.')}: ${i.message}`;

/** SMS_TEMPLATES checked against the chosen vendor, or the problems found. */
function readSmsTemplates(env: SmsEnv): { templates: SmsTemplateMap; issues: SettingIssue[] } {
  if (env.SMS_PROVIDER === 'console' || !env.SMS_TEMPLATES) return { templates: {}, issues: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(env.SMS_TEMPLATES);
  } catch (err: any) {
    return { templates: {}, issues: [{ path: ['SMS_TEMPLATES'], message: `not valid JSON (${err.message})`, zh: `不是有效的 JSON（${err.message}）` }] };
  }
  const { templates, issues } = checkSmsTemplates(env.SMS_PROVIDER, raw);
  return { templates, issues: issues.map((i) => ({ ...i, path: ['SMS_TEMPLATES', ...i.path] })) };
}

/** SMS_TEMPLATES checked against the chosen vendor, or the problems found, each naming the variable. */
export function parseSmsTemplates(env: SmsEnv): { templates: SmsTemplateMap; issues: string[] } {
  const { templates, issues } = readSmsTemplates(env);
  return { templates, issues: issues.map(issueLine) };
}

/**
 * The checks of a whole SMS configuration (the environment at start-up, or the environment merged with what an
 * administrator saved): every credential the chosen vendor needs, and the template mapping. Paths start with
 * the variable.
 */
export function smsSettingIssues(env: SmsEnv): SettingIssue[] {
  if (env.SMS_PROVIDER === 'console') return [];
  const vendor = env.SMS_PROVIDER;
  const issues: SettingIssue[] = SMS_REQUIRED[vendor]
    .filter((key) => !env[key])
    .map((key) => ({ path: [key], message: `required when SMS_PROVIDER=${vendor}`, zh: `使用${SMS_VENDOR_ZH[vendor]}短信时必填` }));
  return [...issues, ...readSmsTemplates(env).issues];
}

/** Start-up checks of the SMS settings: every credential the chosen vendor needs, and the template mapping. */
export function checkSmsEnv(env: SmsEnv): string[] {
  return smsSettingIssues(env).map(issueLine);
}

/** The provider SMS_PROVIDER names, from a configuration that passed checkSmsEnv. */
export function createSmsProvider(env: SmsEnv, logger: Logger): SmsProvider {
  const { templates } = parseSmsTemplates(env);
  switch (env.SMS_PROVIDER) {
    case 'aliyun':
      return new AliyunSmsProvider({
        accessKeyId: env.ALIYUN_SMS_ACCESS_KEY_ID!,
        accessKeySecret: env.ALIYUN_SMS_ACCESS_KEY_SECRET!,
        signName: env.ALIYUN_SMS_SIGN_NAME!,
        endpoint: env.ALIYUN_SMS_ENDPOINT,
        regionId: env.ALIYUN_SMS_REGION,
        templates,
      });
    case 'tencent':
      return new TencentSmsProvider({
        secretId: env.TENCENT_SMS_SECRET_ID!,
        secretKey: env.TENCENT_SMS_SECRET_KEY!,
        sdkAppId: env.TENCENT_SMS_SDK_APP_ID!,
        signName: env.TENCENT_SMS_SIGN_NAME!,
        endpoint: env.TENCENT_SMS_ENDPOINT,
        region: env.TENCENT_SMS_REGION,
        templates,
        defaultParamOrder: { ...TEMPLATE_PLACEHOLDERS, [TEST_TEMPLATE]: TEST_TEMPLATE_PLACEHOLDERS },
      });
    default:
      return new ConsoleSmsProvider(logger);
  }
}
