import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { Actor, AuditService } from '../admin/audit.service.ts';
import type { Config } from '../config.ts';
import type { FieldCrypto } from '../crypto/field-crypto.ts';
import { AppError, badRequest } from '../errors.ts';
import { type SettingIssue, settingIssues } from '../shared/setting-issues.ts';
import { createSmsProvider, type SmsEnv, smsEnvShape, smsSettingIssues } from '../sms/sms.config.ts';
import { type SmsProvider, UnconfiguredSmsProvider } from '../sms/sms.provider.ts';
import { WechatClient, WechatError } from '../wechat/wechat.client.ts';
import { parseWechatTemplates, type WechatEnv, wechatEnvShape, wechatSettingIssues } from '../wechat/wechat.config.ts';
import type { WechatRuntime } from '../wechat/wechat.notifier.ts';

export type IntegrationName = 'sms' | 'wechat';

type Kind = 'choice' | 'text' | 'secret' | 'json' | 'boolean';

/** One value of the admin page: the environment variable it stands for (and whose rule checks it). */
interface FieldSpec {
  /** The name in the API and on the page (`aliyun.accessKeySecret`). */
  field: string;
  env: string;
  kind: Kind;
}

const SMS_FIELDS: FieldSpec[] = [
  { field: 'provider', env: 'SMS_PROVIDER', kind: 'choice' },
  { field: 'aliyun.accessKeyId', env: 'ALIYUN_SMS_ACCESS_KEY_ID', kind: 'secret' },
  { field: 'aliyun.accessKeySecret', env: 'ALIYUN_SMS_ACCESS_KEY_SECRET', kind: 'secret' },
  { field: 'aliyun.signName', env: 'ALIYUN_SMS_SIGN_NAME', kind: 'text' },
  { field: 'tencent.secretId', env: 'TENCENT_SMS_SECRET_ID', kind: 'secret' },
  { field: 'tencent.secretKey', env: 'TENCENT_SMS_SECRET_KEY', kind: 'secret' },
  { field: 'tencent.sdkAppId', env: 'TENCENT_SMS_SDK_APP_ID', kind: 'text' },
  { field: 'tencent.signName', env: 'TENCENT_SMS_SIGN_NAME', kind: 'text' },
  { field: 'templates', env: 'SMS_TEMPLATES', kind: 'json' },
];

const WECHAT_FIELDS: FieldSpec[] = [
  { field: 'enabled', env: 'WECHAT_ENABLED', kind: 'boolean' },
  { field: 'appId', env: 'WECHAT_APP_ID', kind: 'text' },
  { field: 'appSecret', env: 'WECHAT_APP_SECRET', kind: 'secret' },
  { field: 'templates', env: 'WECHAT_TEMPLATES', kind: 'json' },
];

/**
 * Addresses and regions the server calls: the operator's (environment or default), shown read-only. An
 * administrator's page cannot point the server's signed requests at another host.
 */
const OPERATOR_ONLY: Record<IntegrationName, string[]> = {
  sms: ['ALIYUN_SMS_ENDPOINT', 'ALIYUN_SMS_REGION', 'TENCENT_SMS_ENDPOINT', 'TENCENT_SMS_REGION'],
  wechat: ['WECHAT_API_BASE'],
};

const FIELDS: Record<IntegrationName, FieldSpec[]> = { sms: SMS_FIELDS, wechat: WECHAT_FIELDS };
const SHAPES: Record<IntegrationName, Record<string, z.ZodType>> = { sms: smsEnvShape, wechat: wechatEnvShape };

/** Secrets shorter than this show no last characters (four of a short secret are too much of it). */
const LAST4_MIN_LENGTH = 12;

/** How long a process reuses what it read; another process's save shows here at most this much later. */
export const INTEGRATION_SETTINGS_FRESH_MS = 1000;

// Input: only types and sizes; each value is then checked by its environment variable's own rule.
const secretIn = z.string().max(200, '最多 200 个字符').nullable().optional();
const textIn = z.string().max(200, '最多 200 个字符').nullable().optional();
const templatesIn = z.record(z.string().max(50), z.unknown()).nullable().optional();

export const smsSettingsInput = z
  .object({
    provider: z.string().max(20).optional(),
    aliyun: z.object({ accessKeyId: secretIn, accessKeySecret: secretIn, signName: textIn }).strict().optional(),
    tencent: z.object({ secretId: secretIn, secretKey: secretIn, sdkAppId: textIn, signName: textIn }).strict().optional(),
    templates: templatesIn,
  })
  .strict();

export const wechatSettingsInput = z
  .object({
    enabled: z.boolean({ error: '应为 true 或 false' }).optional(),
    appId: textIn,
    appSecret: secretIn,
    templates: templatesIn,
  })
  .strict();

const INPUTS: Record<IntegrationName, z.ZodType> = { sms: smsSettingsInput, wechat: wechatSettingsInput };

/** What is stored for one integration: values by field name; secrets decrypted (never leave this service in a view). */
interface Stored {
  version: number;
  values: Record<string, unknown>;
  secrets: Record<string, string>;
  /** The sealed credentials did not open (FIELD_ENCRYPTION_KEY changed): they must be entered again. */
  unreadable: boolean;
  updatedAt: string | null;
}

export type FieldSource = 'env' | 'saved' | 'default';

export interface FieldView {
  env: string;
  source: FieldSource;
  secret: boolean;
  /** Non-secret fields: the value in use. */
  value?: unknown;
  /** Secret fields: whether one is set, and its last 4 characters. */
  set?: boolean;
  last4?: string | null;
}

export interface IntegrationView {
  fields: Record<string, FieldView>;
  /** The operator's addresses and regions (environment or default), read-only. */
  operator: Record<string, string>;
  /** Problems of the configuration in use (what saved settings and the environment make together). */
  problems: Array<{ field: string; message: string }>;
  secretsUnreadable: boolean;
  version: number;
  updatedAt: string | null;
}

const context = (name: IntegrationName) => `integration:${name}`;

const getPath = (obj: any, field: string) => field.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), obj);

export interface IntegrationSettingsDeps {
  knex: Knex;
  clock: Clock;
  config: Config;
  fieldCrypto: FieldCrypto;
  logger: Logger;
  audit: AuditService;
}

/**
 * SMS and WeChat settings an administrator saves, next to the environment: a variable the environment sets
 * wins (the page shows it read-only), anything else comes from what was saved, else the default. Saved
 * credentials are sealed with AES-256-GCM (the field encryption key, bound to the integration's name) and
 * never leave the server; a view shows that one is set and its last 4 characters.
 *
 * The providers the outboxes use are built from the merged settings and rebuilt when the saved version
 * changes: this process forgets its copy on save, other processes read the version again within
 * INTEGRATION_SETTINGS_FRESH_MS.
 */
export class IntegrationSettingsService {
  private readonly cache: LRUCache<IntegrationName, Stored>;
  private sms: { version: number; provider: SmsProvider } | undefined;
  private wechat: { version: number; runtime: WechatRuntime } | undefined;
  private readonly explicit: ReadonlySet<string>;

  constructor(private readonly d: IntegrationSettingsDeps) {
    this.explicit = new Set(d.config.explicitEnv);
    this.cache = new LRUCache({
      max: 4,
      ttl: INTEGRATION_SETTINGS_FRESH_MS,
      fetchMethod: async (name) => this.read(this.d.knex, name),
    });
  }

  private async read(db: Knex, name: IntegrationName, forUpdate = false): Promise<Stored> {
    const q = db('integration_settings').where({ name }).first();
    if (forUpdate) q.forUpdate();
    const row = await q;
    if (!row) return { version: 0, values: {}, secrets: {}, unreadable: false, updatedAt: null };
    let secrets: Record<string, string> = {};
    let unreadable = false;
    if (row.secrets_enc) {
      try {
        secrets = JSON.parse(this.d.fieldCrypto.decrypt(row.secrets_enc, context(name)));
      } catch {
        unreadable = true;
      }
    }
    return {
      version: Number(row.version),
      values: JSON.parse(row.settings),
      secrets,
      unreadable,
      updatedAt: row.updated_at ? new Date(row.updated_at).toISOString() : null,
    };
  }

  private async stored(name: IntegrationName): Promise<Stored> {
    return (await this.cache.fetch(name))!;
  }

  private isEnv(spec: FieldSpec): boolean {
    return this.explicit.has(spec.env);
  }

  private storedValue(stored: Stored, spec: FieldSpec): unknown {
    return spec.kind === 'secret' ? stored.secrets[spec.field] : stored.values[spec.field];
  }

  /** The configuration in use, in the environment's form (what the env checks and provider factories take). */
  private merged(name: IntegrationName, stored: Stored): Record<string, unknown> {
    const env: Record<string, unknown> = {};
    for (const key of Object.keys(SHAPES[name])) env[key] = (this.d.config as any)[key];
    for (const spec of FIELDS[name]) {
      if (this.isEnv(spec)) continue;
      const value = this.storedValue(stored, spec);
      if (value === undefined || value === null) continue;
      env[spec.env] = spec.kind === 'json' ? JSON.stringify(value) : value;
    }
    return env;
  }

  /** A value checked by its environment variable's rule; the issues carry the page's field name. */
  private fieldIssues(name: IntegrationName, spec: FieldSpec, value: unknown): SettingIssue[] {
    if (spec.kind === 'json' || spec.kind === 'boolean' || value === undefined || value === null) return [];
    const rule = SHAPES[name][spec.env];
    const parsed = rule.safeParse(value);
    return parsed.success ? [] : settingIssues(parsed.error, [spec.field]);
  }

  /** Every problem of a configuration: each saved value by its rule, then the whole as start-up checks it. */
  private problems(name: IntegrationName, stored: Stored): SettingIssue[] {
    const issues: SettingIssue[] = [];
    for (const spec of FIELDS[name]) {
      if (!this.isEnv(spec)) issues.push(...this.fieldIssues(name, spec, this.storedValue(stored, spec)));
    }
    const env = this.merged(name, stored);
    const whole = name === 'sms' ? smsSettingIssues(env as SmsEnv) : wechatSettingIssues(env as WechatEnv);
    const byEnv = new Map(FIELDS[name].map((s) => [s.env, s]));
    for (const issue of whole) {
      const spec = byEnv.get(String(issue.path[0]));
      const field = spec ? [spec.field, ...issue.path.slice(1)] : issue.path;
      const fromEnv = spec && this.isEnv(spec) ? `（由环境变量 ${spec.env} 设置）` : '';
      issues.push({ path: field, message: issue.message, zh: `${issue.zh}${fromEnv}` });
    }
    if (stored.unreadable) {
      issues.push({ path: ['secrets'], message: 'the saved credentials cannot be decrypted', zh: '已保存的凭据无法解密（数据加密密钥已更换？），请重新填写' });
    }
    return issues;
  }

  // ---- what the outboxes use ----------------------------------------------------------------------------

  /** The SMS provider to send with now; rebuilt when the saved settings change. */
  async smsProvider(): Promise<SmsProvider> {
    const stored = await this.stored('sms');
    if (this.sms?.version === stored.version) return this.sms.provider;
    const env = this.merged('sms', stored) as SmsEnv;
    const problems = this.problems('sms', stored);
    let provider: SmsProvider;
    if (problems.length) {
      const text = problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ');
      this.d.logger.error({ problems: text }, 'the SMS settings cannot be used; messages wait (SMS_NOT_CONFIGURED)');
      provider = new UnconfiguredSmsProvider(env.SMS_PROVIDER, `SMS settings cannot be used: ${text}`);
    } else {
      provider = createSmsProvider(env, this.d.logger);
    }
    this.sms = { version: stored.version, provider };
    return provider;
  }

  /** WeChat's client and templates to send with now (no client: off or unusable); rebuilt when the saved settings change. */
  async wechatRuntime(): Promise<WechatRuntime> {
    const stored = await this.stored('wechat');
    if (this.wechat?.version === stored.version) return this.wechat.runtime;
    const env = this.merged('wechat', stored) as WechatEnv;
    const problems = this.problems('wechat', stored);
    let runtime: WechatRuntime = { templates: {} };
    if (env.WECHAT_ENABLED && problems.length) {
      this.d.logger.error({ problems: problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('; ') }, 'the WeChat settings cannot be used; no notices are sent');
    } else if (env.WECHAT_ENABLED) {
      runtime = { client: this.wechatClient(env), templates: parseWechatTemplates(env).templates };
    }
    // Kept with its client, so the access token it cached serves every send until the settings change.
    this.wechat = { version: stored.version, runtime };
    return runtime;
  }

  private wechatClient(env: WechatEnv): WechatClient {
    return new WechatClient({ appId: env.WECHAT_APP_ID!, appSecret: env.WECHAT_APP_SECRET!, apiBase: env.WECHAT_API_BASE, now: () => this.d.clock.now().getTime() });
  }

  /**
   * The administrator's WeChat test: a fresh access token with the credentials in use (saved or environment),
   * whether WeChat is on yet or not. A refusal answers 502 with WeChat's errcode and a Chinese explanation.
   */
  async testWechat(): Promise<{ ok: true; appId: string }> {
    const env = this.merged('wechat', await this.stored('wechat')) as WechatEnv;
    if (!env.WECHAT_APP_ID || !env.WECHAT_APP_SECRET) throw badRequest('WECHAT_NOT_CONFIGURED', '请先填写并保存公众号的 AppID 和 AppSecret');
    try {
      await this.wechatClient(env).accessToken();
      return { ok: true, appId: env.WECHAT_APP_ID };
    } catch (err: any) {
      const e = err instanceof WechatError ? err : new WechatError('WECHAT_UNAVAILABLE', String(err?.message ?? err));
      const explained = e.errcode !== undefined && WECHAT_ERRCODE_TEXT[e.errcode] ? `（${WECHAT_ERRCODE_TEXT[e.errcode]}）` : '';
      const vendor = `${e.errcode !== undefined ? `errcode ${e.errcode}${explained} ` : ''}${e.message}`;
      this.d.logger.warn({ code: e.code, errcode: e.errcode, error: e.message }, 'wechat test failed');
      throw new AppError(502, e.code, `${WECHAT_ERROR_TEXT[e.code]}：${vendor}`, { errcode: e.errcode ?? null, vendorMessage: e.message, retryable: e.retryable });
    }
  }

  // ---- the admin page ------------------------------------------------------------------------------------

  async view(name: IntegrationName): Promise<IntegrationView> {
    const stored = await this.stored(name);
    const config = this.d.config as any;
    const fields: Record<string, FieldView> = {};
    for (const spec of FIELDS[name]) {
      const fromEnv = this.isEnv(spec);
      const saved = this.storedValue(stored, spec);
      const source: FieldSource = fromEnv ? 'env' : saved !== undefined && saved !== null ? 'saved' : 'default';
      let value: unknown = fromEnv ? config[spec.env] : source === 'saved' ? saved : config[spec.env];
      if (spec.kind === 'json' && typeof value === 'string') {
        try {
          value = JSON.parse(value);
        } catch {
          // start-up refuses a variable that is not JSON; nothing else reaches here
        }
      }
      if (spec.kind === 'secret') {
        const secret = typeof value === 'string' ? value : '';
        fields[spec.field] = { env: spec.env, source, secret: true, set: secret.length > 0, last4: secret.length >= LAST4_MIN_LENGTH ? secret.slice(-4) : null };
      } else {
        fields[spec.field] = { env: spec.env, source, secret: false, value: value ?? null };
      }
    }
    const operator = Object.fromEntries(OPERATOR_ONLY[name].map((key) => [key, String(config[key] ?? '')]));
    return {
      fields,
      operator,
      problems: this.problems(name, stored).map((i) => ({ field: i.path.join('.'), message: i.zh })),
      secretsUnreadable: stored.unreadable,
      version: stored.version,
      updatedAt: stored.updatedAt,
    };
  }

  /**
   * Saves an administrator's values. Per field: absent keeps it; a secret given as '' keeps the stored one;
   * null (or '' for a non-secret) removes it, so the default applies. Every value is checked by its
   * environment variable's rule and the whole by the start-up checks; a field the environment sets cannot be
   * changed here. Audited without secrets (only which secret fields changed).
   */
  async save(actor: Actor, name: IntegrationName, raw: unknown): Promise<IntegrationView> {
    const parsed = INPUTS[name].safeParse(raw);
    if (!parsed.success) throw invalid(settingIssues(parsed.error));
    const input = parsed.data;
    const changes = new Map<FieldSpec, unknown>();
    for (const spec of FIELDS[name]) {
      const value = getPath(input, spec.field);
      if (value === undefined) continue;
      if (spec.kind === 'secret' && value === '') continue;
      changes.set(spec, value === '' ? null : value);
    }
    const envIssues: SettingIssue[] = [...changes.keys()]
      .filter((spec) => this.isEnv(spec))
      .map((spec) => ({ path: [spec.field], message: `set by ${spec.env}`, zh: `由环境变量 ${spec.env} 设置，不能在此修改` }));
    if (envIssues.length) throw invalid(envIssues);

    await this.d.knex.transaction(async (trx) => {
      const current = await this.read(trx, name, true);
      const next: Stored = { ...current, values: { ...current.values }, secrets: current.unreadable ? {} : { ...current.secrets }, unreadable: false };
      const changedSecrets: string[] = [];
      const fieldProblems: SettingIssue[] = [];
      for (const [spec, value] of changes) {
        const target = spec.kind === 'secret' ? next.secrets : next.values;
        if (value === null) {
          if (target[spec.field] !== undefined && spec.kind === 'secret') changedSecrets.push(spec.field);
          delete target[spec.field];
          continue;
        }
        const issues = this.fieldIssues(name, spec, value);
        fieldProblems.push(...issues);
        if (issues.length) continue;
        // the rule's own output (a trimmed sign name, say); secrets are kept exactly as entered and checked
        const kept = spec.kind === 'text' || spec.kind === 'choice' ? SHAPES[name][spec.env].parse(value) : value;
        if (spec.kind === 'secret' && target[spec.field] !== kept) changedSecrets.push(spec.field);
        (target as Record<string, unknown>)[spec.field] = kept;
      }
      const issues = fieldProblems.length ? fieldProblems : this.problems(name, next).filter((i) => i.path[0] !== 'secrets');
      if (issues.length) throw invalid(issues);

      const unchanged = JSON.stringify(next.values) === JSON.stringify(current.values) && JSON.stringify(next.secrets) === JSON.stringify(current.secrets) && !current.unreadable;
      if (unchanged) return; // nothing to write, audit or announce to the other processes
      const now = this.d.clock.now();
      const secrets = Object.keys(next.secrets).length ? this.d.fieldCrypto.encrypt(JSON.stringify(next.secrets), context(name)) : null;
      await trx('integration_settings')
        .insert({ name, settings: JSON.stringify(next.values), secrets_enc: secrets, version: 1, updated_at: now, updated_by: actor.id })
        .onConflict('name')
        .merge({ settings: JSON.stringify(next.values), secrets_enc: secrets, version: trx.raw('?? + 1', ['integration_settings.version']), updated_at: now, updated_by: actor.id });
      await this.d.audit.record(trx, actor, {
        action: `integrations.${name}.update`,
        targetType: 'integration',
        targetId: name,
        before: auditView(current),
        after: { ...auditView(next), changedSecrets },
      });
    });
    this.cache.delete(name);
    return this.view(name);
  }
}

/** What the audit log keeps of a configuration: the values, and only which secrets are set. */
function auditView(stored: Stored) {
  return { ...stored.values, secretsSet: Object.keys(stored.secrets).sort() };
}

/** The page's names of the fields, for the one-line message of a refusal (details name each field). */
const FIELD_LABELS: Record<string, string> = {
  provider: '短信服务商',
  'aliyun.accessKeyId': 'AccessKey ID',
  'aliyun.accessKeySecret': 'AccessKey Secret',
  'aliyun.signName': '短信签名',
  'tencent.secretId': 'SecretId',
  'tencent.secretKey': 'SecretKey',
  'tencent.sdkAppId': 'SmsSdkAppId',
  'tencent.signName': '短信签名',
  templates: '模板对应',
  enabled: '微信通知',
  appId: 'AppID',
  appSecret: 'AppSecret',
};

function invalid(issues: SettingIssue[]): AppError {
  const details = issues.map((i) => ({ field: i.path.join('.'), message: i.zh }));
  const first = details[0];
  const label = first ? (FIELD_LABELS[first.field] ?? FIELD_LABELS[first.field.split('.')[0]] ?? first.field) : '';
  return badRequest('INTEGRATION_SETTINGS_INVALID', first ? `${label ? `${label}：` : ''}${first.message}` : '设置有误', details);
}

/** What an administrator reads when the WeChat test fails, per stable code (WeChat's errcode and text follow). */
export const WECHAT_ERROR_TEXT: Record<string, string> = {
  WECHAT_CREDENTIALS_REJECTED: '微信拒绝了公众号凭据（AppID 或 AppSecret 有误，或本服务器的出口 IP 不在公众号的 IP 白名单中）',
  WECHAT_NOT_SUBSCRIBED: '该微信用户未关注公众号',
  WECHAT_OPENID_INVALID: 'openid 无效（可能属于其他公众号）',
  WECHAT_TEMPLATE_REJECTED: '模板 ID 无效，或模板数据与模板不符',
  WECHAT_THROTTLED: '微信接口调用次数超限，请稍后再试',
  WECHAT_UNAVAILABLE: '微信接口暂不可用或无法连接',
  WECHAT_TOKEN_REJECTED: '微信拒绝了访问令牌',
  WECHAT_OUTCOME_UNKNOWN: '微信没有应答',
  WECHAT_REJECTED: '微信拒绝了请求',
};

/** WeChat's errcodes that a credential test meets, explained. */
export const WECHAT_ERRCODE_TEXT: Record<number, string> = {
  40001: 'AppSecret 错误或访问令牌无效',
  40013: 'AppID 无效',
  40125: 'AppSecret 无效',
  40164: '调用接口的 IP 不在公众号的 IP 白名单中',
  41002: '缺少 AppID',
  41004: '缺少 AppSecret',
  48001: '公众号没有此接口的权限（需已认证的服务号）',
  [-1]: '微信系统繁忙',
};

