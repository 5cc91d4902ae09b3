import type { Logger } from 'pino';
import { z } from 'zod';
import { TEMPLATE_PLACEHOLDERS } from '../admin/settings-admin.service.ts';
import { AliyunSmsProvider } from './aliyun.provider.ts';
import { ConsoleSmsProvider, type SmsProvider } from './sms.provider.ts';
import { type SmsTemplateMap, templateMapSchema } from './sms.template-map.ts';
import { TencentSmsProvider } from './tencent.provider.ts';

/** The templates the server sends (process `sms` jobs and task notices): each needs a vendor template id. */
export const SENT_TEMPLATES = Object.keys(TEMPLATE_PLACEHOLDERS);
/** The admin "send test" template: mapped optionally; without it the test sends the `approved` template with sample values. */
export const TEST_TEMPLATE = 'test';
/** The values of the test SMS (a verification-code template fits: {code} is six digits). */
export const TEST_TEMPLATE_PLACEHOLDERS = ['university', 'code'];

/** Values copied from a console often carry a space or a line break at either end. */
const credential = (shape: RegExp, what: string) =>
  z
    .string()
    .refine((v) => v === v.trim(), 'has a space or line break before or after it')
    .refine((v) => shape.test(v.trim()), `does not look like ${what}`);

/** The SMS part of the environment (merged into server/config.ts). Shapes only; the vendor decides if they are right. */
export const smsEnvShape = {
  SMS_PROVIDER: z.enum(['console', 'aliyun', 'tencent']).default('console'),
  /** JSON: our template name -> vendor template id, or { "id": ..., "params": [...] } (see README). */
  SMS_TEMPLATES: z.string().optional(),
  ALIYUN_SMS_ACCESS_KEY_ID: credential(/^[A-Za-z0-9.]{12,128}$/, 'an AccessKey ID (e.g. LTAI followed by letters and digits)').optional(),
  ALIYUN_SMS_ACCESS_KEY_SECRET: credential(/^[A-Za-z0-9]{16,64}$/, 'an AccessKey secret (about 30 letters and digits)').optional(),
  ALIYUN_SMS_SIGN_NAME: z.string().trim().min(2).max(20).optional(),
  ALIYUN_SMS_ENDPOINT: z.url().default('https://dysmsapi.aliyuncs.com'),
  ALIYUN_SMS_REGION: z.string().default('cn-hangzhou'),
  TENCENT_SMS_SECRET_ID: credential(/^AKID[A-Za-z0-9]{16,64}$/, 'a SecretId (AKID followed by letters and digits)').optional(),
  TENCENT_SMS_SECRET_KEY: credential(/^[A-Za-z0-9]{16,64}$/, 'a SecretKey (32 letters and digits)').optional(),
  TENCENT_SMS_SDK_APP_ID: credential(/^\d{10}$/, 'an SmsSdkAppId (10 digits, e.g. 1400006666)').optional(),
  TENCENT_SMS_SIGN_NAME: z.string().trim().min(2).max(20).optional(),
  TENCENT_SMS_ENDPOINT: z.url().default('https://sms.tencentcloudapi.com'),
  TENCENT_SMS_REGION: z.string().default('ap-guangzhou'),
};

type SmsEnv = z.infer<z.ZodObject<typeof smsEnvShape>>;

const REQUIRED: Record<'aliyun' | 'tencent', Array<keyof SmsEnv>> = {
  aliyun: ['ALIYUN_SMS_ACCESS_KEY_ID', 'ALIYUN_SMS_ACCESS_KEY_SECRET', 'ALIYUN_SMS_SIGN_NAME', 'SMS_TEMPLATES'],
  tencent: ['TENCENT_SMS_SECRET_ID', 'TENCENT_SMS_SECRET_KEY', 'TENCENT_SMS_SDK_APP_ID', 'TENCENT_SMS_SIGN_NAME', 'SMS_TEMPLATES'],
};

/** SMS_TEMPLATES checked against the chosen vendor, or the problems found, each naming the variable. */
export function parseSmsTemplates(env: SmsEnv): { templates: SmsTemplateMap; issues: string[] } {
  if (env.SMS_PROVIDER === 'console' || !env.SMS_TEMPLATES) return { templates: {}, issues: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(env.SMS_TEMPLATES);
  } catch (err: any) {
    return { templates: {}, issues: [`SMS_TEMPLATES: not valid JSON (${err.message})`] };
  }
  const parsed = templateMapSchema.safeParse(raw);
  if (!parsed.success) {
    return { templates: {}, issues: parsed.error.issues.map((i) => `SMS_TEMPLATES.${i.path.join('.') || '(root)'}: ${i.message}`) };
  }
  const templates = parsed.data;
  const issues: string[] = [];
  const missing = SENT_TEMPLATES.filter((name) => !Object.hasOwn(templates, name));
  if (missing.length) {
    issues.push(`SMS_TEMPLATES: no ${env.SMS_PROVIDER} template id for ${missing.map((m) => `"${m}"`).join(', ')} (every SMS the server sends needs one)`);
  }
  for (const [name, mapping] of Object.entries(templates)) {
    const known = name === TEST_TEMPLATE ? TEST_TEMPLATE_PLACEHOLDERS : (TEMPLATE_PLACEHOLDERS as Record<string, string[]>)[name];
    if (!known) {
      issues.push(`SMS_TEMPLATES.${name}: unknown template; known: ${[...SENT_TEMPLATES, TEST_TEMPLATE].join(', ')}`);
      continue;
    }
    if (env.SMS_PROVIDER === 'tencent' && mapping.params && !Array.isArray(mapping.params)) {
      issues.push(`SMS_TEMPLATES.${name}.params: tencent templates take a list of names in the order of {1}, {2}, ...`);
    }
    const ours = mapping.params ? (Array.isArray(mapping.params) ? mapping.params : Object.values(mapping.params)) : [];
    for (const p of ours.filter((p) => !known.includes(p))) {
      issues.push(`SMS_TEMPLATES.${name}.params: "${p}" is not a value of this SMS; available: ${known.join(', ')}`);
    }
  }
  return { templates, issues };
}

/** Start-up checks of the SMS settings: every credential the chosen vendor needs, and the template mapping. */
export function checkSmsEnv(env: SmsEnv): string[] {
  if (env.SMS_PROVIDER === 'console') return [];
  const issues = REQUIRED[env.SMS_PROVIDER].filter((key) => !env[key]).map((key) => `${key}: required when SMS_PROVIDER=${env.SMS_PROVIDER}`);
  return [...issues, ...parseSmsTemplates(env).issues];
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
