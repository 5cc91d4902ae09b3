import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import { type FieldCrypto, maskMobile } from '../crypto/field-crypto.ts';
import { claimDueRows, OutboxPoller, retryDelayMs } from '../shared/outbox-poller.ts';
import { type SmsErrorCode, maskPersonalNumbers, type SmsProvider, SmsProviderError } from './sms.provider.ts';
import { blotSecrets, blotSecretsJson } from './sms.secrets.ts';
import type { TemplateVars } from './sms.templates.ts';

/** A row left 'sending' past its lease: its sender stopped while the provider had it (never sent again). */
const ABANDONED_ERROR = 'SMS_OUTCOME_UNKNOWN: the sender stopped while the provider had the message; not sent again (at most one SMS per event)';

export interface OutboxMessage {
  /** One message per key, ever: e.g. `job:<jobKey>` for a service-task job, so a redelivered job is a no-op. */
  dedupeKey: string;
  /** The clear mobile; stored encrypted and masked, never in clear. */
  to: string;
  template: string;
  body: string;
  /** The values the body was rendered with: providers that send vendor templates fill theirs with them. */
  params?: TemplateVars;
  applicationId?: number;
}

/** `sending`: claimed and handed to the provider; a row left there by a sender that died is marked failed, not sent again. */
export type SmsStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface SmsListItem {
  id: number;
  to: string;
  template: string;
  body: string;
  status: SmsStatus;
  attempts: number;
  lastError: string | null;
  /** The stable code of the last failure (SMS_THROTTLED, SMS_CREDENTIALS_REJECTED, ...), when a provider gave one. */
  lastErrorCode: string | null;
  applicationId: number | null;
  createdAt: string;
  sentAt: string | null;
}

export interface SmsServiceOptions {
  knex: Knex;
  /**
   * The provider, or where to get the current one: the integration settings an administrator saves change it
   * while the server runs, and each batch of sends (and each send test) asks for it again.
   */
  provider: SmsProvider | (() => Promise<SmsProvider>);
  fieldCrypto: FieldCrypto;
  clock: Clock;
  logger: Logger;
  /** Attempts before a message is marked 'failed' (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt (default 30 s), capped at retryMaxMs (default 30 min). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Fills {university} in the admin's test SMS. */
  universityName?: string;
  /** A provider call slower than this counts as failed (default 30 s). */
  sendTimeoutMs?: number;
  /**
   * How long a claimed row stays `sending`. Longer than sendTimeoutMs, so a row still `sending` after it
   * belonged to a sender that died mid-send; it is then marked failed, not claimed again (default 120 s).
   */
  leaseMs?: number;
}

interface Claimed {
  id: number | string;
  recipient_enc: string;
  template: string;
  params: string | null;
  body: string;
  attempts: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // The request may have reached the provider: sending again could deliver the message twice.
    timer = setTimeout(() => reject(new SmsProviderError('SMS_OUTCOME_UNKNOWN', `provider did not answer within ${ms} ms; not sent again`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Template values as strings; undefined ones are left out. */
function paramsJson(params: TemplateVars | undefined): string | null {
  if (!params) return null;
  return JSON.stringify(Object.fromEntries(Object.entries(params).flatMap(([k, v]) => (v === undefined || v === null ? [] : [[k, String(v)]]))));
}

/** What an administrator reads when the test SMS fails, per stable code (the vendor's own text follows). */
export const SMS_ERROR_TEXT: Record<SmsErrorCode, string> = {
  SMS_CREDENTIALS_REJECTED: '短信服务商拒绝了凭据（AccessKey / SecretId 或密钥有误、已停用或无权限）',
  SMS_TEMPLATE_REJECTED: '短信签名或模板未通过审核、不存在，或参数与模板不符',
  SMS_MOBILE_INVALID: '短信服务商拒绝了该手机号',
  SMS_THROTTLED: '短信服务商限流，请稍后再试',
  SMS_PROVIDER_UNAVAILABLE: '短信服务商暂不可用或无法连接',
  SMS_OUTCOME_UNKNOWN: '短信服务商没有应答，短信可能已发出',
  SMS_REJECTED: '短信服务商拒绝发送',
  SMS_NOT_CONFIGURED: '短信设置不完整，或已保存的凭据无法解密（请在“集成设置”中检查并重新填写）',
};

/** What the vendors' most frequent refusal codes mean, for the administrator reading a failed test. */
export const SMS_VENDOR_CODE_TEXT: Record<string, string> = {
  SignatureDoesNotMatch: '签名不符，AccessKey Secret 与 AccessKey ID 不匹配',
  'InvalidAccessKeyId.NotFound': 'AccessKey ID 不存在',
  'InvalidAccessKeyId.Inactive': 'AccessKey 已停用',
  'isp.RAM_PERMISSION_DENY': '该 AccessKey 没有发送短信的权限',
  'isv.SMS_SIGNATURE_ILLEGAL': '短信签名不存在或未通过审核',
  'isv.SMS_TEMPLATE_ILLEGAL': '模板号不存在或未通过审核',
  'isv.AMOUNT_NOT_ENOUGH': '账户余额不足',
  'AuthFailure.SignatureFailure': '签名不符，SecretKey 与 SecretId 不匹配',
  'AuthFailure.SecretIdNotFound': 'SecretId 不存在',
  'AuthFailure.UnauthorizedOperation': '该密钥没有发送短信的权限',
  'InvalidParameterValue.SdkAppIdNotExist': 'SmsSdkAppId 不存在',
  'FailedOperation.SignatureIncorrectOrUnapproved': '短信签名不存在或未通过审核',
  'FailedOperation.TemplateIncorrectOrUnapproved': '模板号不存在或未通过审核',
  'FailedOperation.InsufficientBalanceInSmsPackage': '短信套餐包余量不足',
};

export interface SmsTestResult {
  ok: boolean;
  provider: string;
  template: string;
  /** The recipient, masked. */
  to: string;
  messageId?: string;
  error?: { code: SmsErrorCode; message: string; vendorCode?: string; vendorMessage: string; retryable: boolean };
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as any).toISOString());

/**
 * The SMS outbox. Callers enqueue inside the transaction of the state change that causes the message, so a
 * message exists if and only if the change committed; a poller delivers due rows with retries.
 *
 * Delivery claims one due row at a time (FOR UPDATE SKIP LOCKED in one statement, see claimNextRow) and pushes
 * its next_attempt_at past a lease, then calls the provider outside any transaction (a slow gateway must not hold locks or,
 * on PGlite, the only connection). The final update is conditional on the attempt it claimed, so a sender
 * whose lease ran out cannot overwrite a newer outcome.
 *
 * At most one SMS per event: a claimed row is `sending` until its outcome is written. A provider refusal that
 * is retryable (SmsProviderError.retryable: throttling, 5xx, gateway unreachable; or an unclassified error)
 * returns it to `pending` with back-off; a permanent one (bad credentials, template, mobile) or an unknown
 * outcome (time-out after the request left) marks it `failed` at once. A row still `sending` when its lease
 * ran out belonged to a sender that died mid-send: it is marked failed, never sent again.
 */
export class SmsService {
  private readonly knex: Knex;
  private readonly providerSource: () => Promise<SmsProvider>;
  private readonly fieldCrypto: FieldCrypto;
  private readonly clock: Clock;
  private readonly logger: Logger;
  readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly sendTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly universityName: string;
  private readonly poller = new OutboxPoller(
    (limit) => this.deliverDue(limit),
    (err) => this.logger.error({ err }, 'sms delivery run failed'),
  );

  constructor(opts: SmsServiceOptions) {
    this.knex = opts.knex;
    const fixed = opts.provider;
    this.providerSource = typeof fixed === 'function' ? fixed : async () => fixed;
    this.fieldCrypto = opts.fieldCrypto;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.retryBaseMs = opts.retryBaseMs ?? 30_000;
    this.retryMaxMs = opts.retryMaxMs ?? 30 * 60_000;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 30_000;
    this.universityName = opts.universityName ?? '示例大学';
    this.leaseMs = Math.max(opts.leaseMs ?? 120_000, this.sendTimeoutMs + 1000);
  }

  /**
   * The administrator's test: one SMS straight to the provider (not through the outbox, not retried), with
   * the `test` template when the provider has one, else the `approved` template with sample values.
   */
  async sendTest(mobile: string): Promise<SmsTestResult> {
    const provider = await this.providerSource();
    const test = !provider.hasTemplate || provider.hasTemplate('test');
    const code = String(Math.floor(100000 + Math.random() * 900000));
    const university = this.universityName;
    const message: { template: string; params: Record<string, string>; body: string } = test
      ? { template: 'test', params: { university, code }, body: `【${university}】短信测试：验证码 ${code}。如非本人操作请忽略。` }
      : {
          template: 'approved',
          params: { university, name: '测试', visitDate: this.clock.now().toISOString().slice(0, 10), visitTime: '09:00-11:00', flowNumber: 'VF00000000000000', opinion: '测试' },
          body: `【${university}】短信测试（使用“审批通过”模板）`,
        };
    const base = { provider: provider.name, template: message.template, to: maskMobile(mobile) };
    try {
      const { messageId } = await withTimeout(provider.send({ to: mobile, ...message }), this.sendTimeoutMs);
      this.logger.info({ sms: { ...base, messageId } }, 'sms test sent');
      return { ok: true, ...base, messageId: String(messageId) };
    } catch (err: any) {
      const e = err instanceof SmsProviderError ? err : new SmsProviderError('SMS_REJECTED', String(err?.message ?? err));
      const vendorMessage = maskPersonalNumbers(e.message).slice(0, 500);
      this.logger.warn({ sms: base, code: e.code, vendorCode: e.vendorCode, error: vendorMessage }, 'sms test failed');
      return {
        ok: false,
        ...base,
        error: {
          code: e.code,
          message: `${SMS_ERROR_TEXT[e.code]}：${e.vendorCode && SMS_VENDOR_CODE_TEXT[e.vendorCode] ? `${SMS_VENDOR_CODE_TEXT[e.vendorCode]}。` : ''}${e.vendorCode ? `${e.vendorCode} ` : ''}${vendorMessage}`,
          vendorCode: e.vendorCode,
          vendorMessage,
          retryable: e.retryable,
        },
      };
    }
  }

  /** Whether the provider in use can send a template (a vendor needs a template id for it; the console sends all). */
  async canSend(template: string): Promise<boolean> {
    const provider = await this.providerSource();
    return !provider.hasTemplate || provider.hasTemplate(template);
  }

  /** Delay before the retry that follows the given (1-based) failed attempt. */
  retryDelayMs(attempt: number): number {
    return retryDelayMs(attempt, this.retryBaseMs, this.retryMaxMs);
  }

  /** Writes the message (in the caller's transaction, if any). Returns false when the dedupe key already exists. */
  async enqueue(knex: Knex, msg: OutboxMessage): Promise<boolean> {
    const inserted = await this.enqueueInsert(knex, msg).returning('id');
    return inserted.length > 0;
  }

  /** The insert of enqueue, not yet run: for a caller that writes it together with its own changes. */
  enqueueInsert(knex: Knex, msg: OutboxMessage): Knex.QueryBuilder {
    if (!msg.dedupeKey || msg.dedupeKey.length > 160) throw new Error('sms dedupeKey must be 1-160 characters');
    const to = msg.to.replace(/[\s-]/g, '').replace(/^\+?86(?=1\d{10}$)/, '');
    if (!to) throw new Error('sms recipient is empty');
    const now = this.clock.now();
    return knex('sms_outbox')
      .insert({
        dedupe_key: msg.dedupeKey,
        recipient_enc: this.fieldCrypto.encrypt(to),
        recipient_masked: maskMobile(to).slice(0, 20),
        template: msg.template.slice(0, 50),
        body: msg.body,
        params: paramsJson(msg.params),
        application_id: msg.applicationId ?? null,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
      })
      .onConflict('dedupe_key')
      .ignore();
  }

  /** Sends the due messages once. Returns how many were sent and how many attempts failed. */
  async deliverDue(limit = 20): Promise<{ sent: number; failed: number }> {
    // Asked once per batch, before claiming (a failure to read the settings must not leave rows `sending`): a
    // provider saved by an administrator is used from the next batch on.
    const provider = await this.providerSource();
    let sent = 0;
    let failed = 0;
    const columns = ['id', 'recipient_enc', 'template', 'params', 'body', 'attempts'];
    const round = { now: () => this.clock.now(), leaseMs: this.leaseMs, limit, abandonedError: ABANDONED_ERROR };
    for await (const row of claimDueRows<Claimed>(this.knex, 'sms_outbox', columns, round)) {
      const mine = { id: row.id, status: 'sending', attempts: row.attempts };
      try {
        const to = this.fieldCrypto.decrypt(row.recipient_enc);
        const params = row.params ? (JSON.parse(row.params) as Record<string, string>) : {};
        const { messageId } = await withTimeout(provider.send({ to, template: row.template, params, body: row.body, reference: `sms-${row.id}` }), this.sendTimeoutMs);
        await this.knex('sms_outbox')
          .where(mine)
          .update({ status: 'sent', sent_at: this.clock.now(), provider_message_id: String(messageId).slice(0, 100), last_error: null, ...this.blotted(row) });
        sent++;
      } catch (err: any) {
        failed++;
        const classified = err instanceof SmsProviderError ? err : undefined;
        const permanent = classified ? !classified.retryable : false;
        const final = permanent || row.attempts >= this.maxAttempts;
        // provider errors may echo the number back
        const lastError = blotSecrets(maskPersonalNumbers(classified ? classified.describe() : String(err?.message ?? err))).slice(0, 500);
        const retryAt = new Date(this.clock.now().getTime() + this.retryDelayMs(row.attempts));
        await this.knex('sms_outbox')
          .where(mine)
          .update(final ? { status: 'failed', last_error: lastError, ...this.blotted(row) } : { status: 'pending', next_attempt_at: retryAt, last_error: lastError });
        this.logger.warn(
          { smsId: Number(row.id), attempts: row.attempts, final, permanent, code: classified?.code, provider: provider.name, error: lastError },
          final ? 'sms failed for good' : 'sms attempt failed, will retry',
        );
      }
    }
    return { sent, failed };
  }

  /** A row's body and params without secret link parameters, once the vendor needs them no more; {} when there are none. */
  private blotted(row: Claimed): { body?: string; params?: string | null } {
    const body = blotSecrets(row.body);
    const params = blotSecretsJson(row.params);
    return body === row.body && params === row.params ? {} : { body, params };
  }

  /** Polls in the background until stop(); a batch that came back full is followed at once by the next. */
  start(intervalMs = 2000): void {
    this.poller.start(intervalMs);
  }

  /** Asks a started poller to look now (e.g. after a transaction that enqueued a message committed). */
  wake(): void {
    this.poller.wake();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }

  /** The outbox for an administrator, newest first; recipients masked. */
  async list(
    page = 1,
    pageSize = 20,
    filter: { status?: SmsStatus } = {},
  ): Promise<{ messages: SmsListItem[]; total: number; page: number; pageSize: number }> {
    page = Math.max(1, Math.floor(page) || 1);
    pageSize = Math.min(100, Math.max(1, Math.floor(pageSize) || 20));
    const base = () => {
      const q = this.knex('sms_outbox');
      if (filter.status) q.where('status', filter.status);
      return q;
    };
    const total = await base().count({ n: '*' }).first();
    const rows = await base()
      .select('id', 'recipient_masked', 'template', 'body', 'status', 'attempts', 'last_error', 'application_id', 'created_at', 'sent_at')
      .orderBy([
        { column: 'created_at', order: 'desc' },
        { column: 'id', order: 'desc' },
      ])
      .limit(pageSize)
      .offset((page - 1) * pageSize);
    return {
      messages: rows.map((r: any) => ({
        id: Number(r.id),
        to: r.recipient_masked,
        template: r.template,
        body: blotSecrets(r.body),
        status: r.status,
        attempts: Number(r.attempts),
        lastError: r.last_error,
        lastErrorCode: /^(SMS_[A-Z_]+)\b/.exec(r.last_error ?? '')?.[1] ?? null,
        applicationId: r.application_id === null ? null : Number(r.application_id),
        createdAt: iso(r.created_at)!,
        sentAt: iso(r.sent_at),
      })),
      total: Number((total as any)?.n ?? 0),
      page,
      pageSize,
    };
  }
}
