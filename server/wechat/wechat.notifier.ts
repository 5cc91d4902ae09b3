import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import { maskPersonalNumbers } from '../sms/sms.provider.ts';
import { claimDueRows, OutboxPoller, retryDelayMs } from '../shared/outbox-poller.ts';
import { type TemplateMessage, WechatError } from './wechat.client.ts';
import type { WechatNotice, WechatTemplateMap } from './wechat.config.ts';

export interface WechatNoticeMessage {
  /** One notice per key, ever (e.g. `task:<taskKey>:<staffId>`): a redelivered event adds nothing. */
  dedupeKey: string;
  staffId: number;
  openId: string;
  notice: WechatNotice;
  /** Our values (staffName, flowNumber, ...): the template's fields are filled from them when sent. */
  params: Record<string, string | number | undefined>;
  applicationId?: number;
}

export interface WechatSender {
  sendTemplate(msg: TemplateMessage): Promise<{ msgId: string }>;
  accessToken(): Promise<string>;
}

/** What the notifier sends with: a client (unset: WeChat is off) and the templates. */
export interface WechatRuntime {
  client?: WechatSender;
  templates: WechatTemplateMap;
}

export interface WechatNotifierOptions {
  knex: Knex;
  clock: Clock;
  logger: Logger;
  /** Unset: WeChat is off, nothing is queued or sent (unless `runtime` says otherwise). */
  client?: WechatSender;
  templates?: WechatTemplateMap;
  /**
   * Where to get the current client and templates, in place of the fixed ones: the integration settings an
   * administrator saves turn WeChat on or off and change its credentials while the server runs.
   */
  runtime?: () => Promise<WechatRuntime>;
  maxAttempts?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** A send slower than this counts as failed with an unknown outcome (default 30 s). */
  sendTimeoutMs?: number;
  /** How long a claimed row stays `sending`; one still there afterwards belonged to a sender that died (default 120 s). */
  leaseMs?: number;
}

/** WeChat's limits per field kind (thing: 20 characters, character_string: 32, phrase: 5, ...). */
const FIELD_LIMITS: Array<[RegExp, number]> = [
  [/^thing\d*$/, 20],
  [/^character_string\d*$/, 32],
  [/^phrase\d*$/, 5],
  [/^(name|car_number)\d*$/, 10],
  [/^number\d*$/, 32],
];

export function fieldValue(field: string, value: string): string {
  const limit = FIELD_LIMITS.find(([re]) => re.test(field))?.[1] ?? 200;
  const chars = [...value];
  return chars.length <= limit ? value : `${chars.slice(0, limit - 1).join('')}…`;
}

export type WechatStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface WechatListItem {
  id: number;
  staffId: number;
  /** The staff member's name as the directory has it now. */
  staffName: string | null;
  /** The openid, masked (first 4 and last 4 characters). */
  to: string;
  notice: string;
  status: WechatStatus;
  attempts: number;
  lastError: string | null;
  lastErrorCode: string | null;
  applicationId: number | null;
  msgId: string | null;
  createdAt: string;
  sentAt: string | null;
}

/** An openid for an administrator's eyes: enough to tell two apart, not enough to message one. */
export function maskOpenId(openId: string): string {
  return openId.length <= 8 ? '*'.repeat(openId.length) : `${openId.slice(0, 4)}****${openId.slice(-4)}`;
}

const iso = (v: unknown): string | null => (v === null || v === undefined ? null : new Date(v as any).toISOString());

interface Claimed {
  id: number | string;
  openid: string;
  notice: string;
  params: string;
  attempts: number;
}

/**
 * The WeChat notice outbox, the same promise as the SMS outbox: a notice is written in the statement of the
 * state change that causes it, delivered by a poller, at most once per event. A claimed row is `sending`
 * until its outcome is written; a retryable refusal (system busy, rate limit, 5xx, unreachable) returns it to
 * `pending` with back-off, a permanent one (not subscribed, invalid openid or template, credentials) or an
 * unknown outcome marks it `failed`. A row left `sending` after its lease is failed, never sent again.
 */
export class WechatNotifier {
  readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly sendTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly poller = new OutboxPoller(
    (limit) => this.deliverDue(limit),
    (err) => this.opts.logger.error({ err }, 'wechat delivery run failed'),
  );

  constructor(private readonly opts: WechatNotifierOptions) {
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.retryBaseMs = opts.retryBaseMs ?? 30_000;
    this.retryMaxMs = opts.retryMaxMs ?? 30 * 60_000;
    this.sendTimeoutMs = opts.sendTimeoutMs ?? 30_000;
    this.leaseMs = Math.max(opts.leaseMs ?? 120_000, this.sendTimeoutMs + 1000);
  }

  /** The client and templates to use now. */
  async current(): Promise<WechatRuntime> {
    return this.opts.runtime ? this.opts.runtime() : { client: this.opts.client, templates: this.opts.templates ?? {} };
  }

  /**
   * Asks WeChat for an access token with the configured AppID and AppSecret (at start-up): a rejection
   * names the variables and WeChat's code. Undefined when WeChat is off.
   */
  async checkCredentials(): Promise<{ ok: true } | { ok: false; code: string; message: string } | undefined> {
    const { client } = await this.current();
    if (!client) return undefined;
    try {
      await client.accessToken();
      return { ok: true };
    } catch (err: any) {
      const e = err instanceof WechatError ? err : new WechatError('WECHAT_UNAVAILABLE', String(err?.message ?? err));
      const message =
        e.code === 'WECHAT_CREDENTIALS_REJECTED'
          ? `WeChat rejected WECHAT_APP_ID / WECHAT_APP_SECRET (environment or the admin page 集成; or this server's IP is not in the account's whitelist): ${e.describe()}`
          : `WeChat access token not had at start-up, notices will retry: ${e.describe()}`;
      return { ok: false, code: e.code, message };
    }
  }

  /** Whether this notice is sent now: WeChat on and a template for it. Ask before enqueueInsert. */
  async sends(notice: WechatNotice): Promise<boolean> {
    const { client, templates } = await this.current();
    return Boolean(client && templates[notice]);
  }

  retryDelayMs(attempt: number): number {
    return retryDelayMs(attempt, this.retryBaseMs, this.retryMaxMs);
  }

  /**
   * The insert of one notice, not yet run (the caller writes it with its own changes); undefined without an
   * openid. Whether WeChat sends the notice at all is sends(), asked first (it reads the current settings).
   */
  enqueueInsert(knex: Knex, msg: WechatNoticeMessage): Knex.QueryBuilder | undefined {
    if (!msg.openId) return undefined;
    if (!msg.dedupeKey || msg.dedupeKey.length > 160) throw new Error('wechat dedupeKey must be 1-160 characters');
    const now = this.opts.clock.now();
    const params = Object.fromEntries(Object.entries(msg.params).flatMap(([k, v]) => (v === undefined || v === null ? [] : [[k, String(v)]])));
    return knex('wechat_outbox')
      .insert({
        dedupe_key: msg.dedupeKey,
        staff_id: msg.staffId,
        openid: msg.openId.slice(0, 64),
        notice: msg.notice,
        params: JSON.stringify(params),
        application_id: msg.applicationId ?? null,
        status: 'pending',
        attempts: 0,
        next_attempt_at: now,
        created_at: now,
      })
      .onConflict('dedupe_key')
      .ignore();
  }

  /** The template message of a queued notice: its fields filled from our values, personal numbers masked. */
  message(notice: string, openId: string, params: Record<string, string>, templates: WechatTemplateMap): TemplateMessage {
    const template = templates[notice as WechatNotice];
    if (!template) throw new WechatError('WECHAT_TEMPLATE_REJECTED', `no WECHAT_TEMPLATES entry for "${notice}"`);
    const data = Object.fromEntries(Object.entries(template.fields).map(([field, ours]) => [field, fieldValue(field, maskPersonalNumbers(params[ours] ?? ''))]));
    return { openId, templateId: template.templateId, data, url: template.link !== false ? params.link : undefined };
  }

  private withTimeout<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new WechatError('WECHAT_OUTCOME_UNKNOWN', `WeChat did not answer within ${this.sendTimeoutMs} ms; not sent again`)), this.sendTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Sends the due notices once. Returns how many were sent and how many attempts failed. */
  async deliverDue(limit = 20): Promise<{ sent: number; failed: number }> {
    const { knex, clock, logger } = this.opts;
    // Read before claiming: with WeChat off the queued notices stay pending until it is on again.
    const { client, templates } = await this.current();
    if (!client) return { sent: 0, failed: 0 };
    let sent = 0;
    let failed = 0;
    const round = {
      now: () => clock.now(),
      leaseMs: this.leaseMs,
      limit,
      abandonedError: 'WECHAT_OUTCOME_UNKNOWN: the sender stopped while WeChat had the message; not sent again (at most one notice per event)',
    };
    for await (const row of claimDueRows<Claimed>(knex, 'wechat_outbox', ['id', 'openid', 'notice', 'params', 'attempts'], round)) {
      const mine = { id: row.id, status: 'sending', attempts: row.attempts };
      try {
        const { msgId } = await this.withTimeout(client.sendTemplate(this.message(row.notice, row.openid, JSON.parse(row.params), templates)));
        await knex('wechat_outbox').where(mine).update({ status: 'sent', sent_at: clock.now(), msg_id: msgId.slice(0, 100), last_error: null });
        sent++;
      } catch (err: any) {
        failed++;
        const classified = err instanceof WechatError ? err : undefined;
        const final = (classified ? !classified.retryable : false) || row.attempts >= this.maxAttempts;
        const lastError = maskPersonalNumbers(classified ? classified.describe() : String(err?.message ?? err)).slice(0, 500);
        const retryAt = new Date(clock.now().getTime() + this.retryDelayMs(row.attempts));
        await knex('wechat_outbox')
          .where(mine)
          .update(final ? { status: 'failed', last_error: lastError } : { status: 'pending', next_attempt_at: retryAt, last_error: lastError });
        logger.warn(
          { wechatId: Number(row.id), attempts: row.attempts, final, code: classified?.code, errcode: classified?.errcode, error: lastError },
          final ? 'wechat notice failed for good' : 'wechat notice attempt failed, will retry',
        );
      }
    }
    return { sent, failed };
  }

  /** The outbox for an administrator, newest first; openids masked. */
  async list(
    page = 1,
    pageSize = 20,
    filter: { status?: WechatStatus } = {},
  ): Promise<{ notices: WechatListItem[]; total: number; page: number; pageSize: number }> {
    const { knex } = this.opts;
    const base = () => {
      const q = knex('wechat_outbox');
      if (filter.status) q.where('wechat_outbox.status', filter.status);
      return q;
    };
    const [{ n }] = await base().count({ n: '*' });
    const rows = await base()
      .leftJoin('staff', 'staff.id', 'wechat_outbox.staff_id')
      .select('wechat_outbox.*', 'staff.name as staff_name')
      .orderBy([
        { column: 'wechat_outbox.created_at', order: 'desc' },
        { column: 'wechat_outbox.id', order: 'desc' },
      ])
      .limit(pageSize)
      .offset((page - 1) * pageSize);
    return {
      notices: rows.map((r: any) => ({
        id: Number(r.id),
        staffId: Number(r.staff_id),
        staffName: r.staff_name ?? null,
        to: maskOpenId(r.openid),
        notice: r.notice,
        status: r.status,
        attempts: Number(r.attempts),
        lastError: r.last_error,
        lastErrorCode: /^(WECHAT_[A-Z_]+)\b/.exec(r.last_error ?? '')?.[1] ?? null,
        applicationId: r.application_id === null ? null : Number(r.application_id),
        msgId: r.msg_id,
        createdAt: iso(r.created_at)!,
        sentAt: iso(r.sent_at),
      })),
      total: Number(n),
      page,
      pageSize,
    };
  }

  /** Polls in the background until stop(): when WeChat is on, or may be turned on (runtime settings). */
  start(intervalMs = 2000): void {
    if (this.opts.client || this.opts.runtime) this.poller.start(intervalMs);
  }

  wake(): void {
    this.poller.wake();
  }

  stop(): Promise<void> {
    return this.poller.stop();
  }
}
