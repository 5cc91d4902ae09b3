import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import { AppError } from '../errors.ts';

export interface ThrottlePolicy {
  /** Failures allowed before any delay. */
  freeFailures: number;
  /** Each further failure locks the key for base * 2^(n - free), capped by maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** At this many failures the key is locked for lockoutMs. */
  lockoutAfter: number;
  lockoutMs: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
}

export const MOBILE_POLICY: ThrottlePolicy = {
  freeFailures: 3,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  lockoutAfter: 8,
  lockoutMs: 15 * 60_000,
  windowMs: 60 * 60_000,
};

export const IP_POLICY: ThrottlePolicy = {
  freeFailures: 20,
  baseDelayMs: 1_000,
  maxDelayMs: 60_000,
  lockoutAfter: 50,
  lockoutMs: 30 * 60_000,
  windowMs: 60 * 60_000,
};

export class LoginLockedError extends AppError {
  constructor(public readonly retryAfterSeconds: number) {
    const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
    super(
      429,
      'LOGIN_LOCKED',
      retryAfterSeconds > 60 ? `登录失败次数过多，请${minutes}分钟后再试` : `登录失败次数过多，请${retryAfterSeconds}秒后再试`,
      { retryAfterSeconds },
    );
  }
}

/**
 * Login throttling kept in the database (shared by all server processes). The password of a visitor is the
 * last eight characters of an ID number, a small space, so failures lock the account key and the client IP
 * with growing delays and then a lock-out; unknown accounts are counted the same way as known ones.
 */
export class ThrottleService {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
  ) {}

  /** Throws LoginLockedError when any of the keys is locked now. */
  async check(keys: string[]): Promise<void> {
    const now = this.clock.now().getTime();
    const rows = await this.knex('login_attempts').whereIn('key', keys);
    let wait = 0;
    for (const row of rows) {
      if (row.locked_until) wait = Math.max(wait, new Date(row.locked_until).getTime() - now);
    }
    if (wait > 0) throw new LoginLockedError(Math.ceil(wait / 1000));
  }

  /**
   * Counts one try against every key as a failure, in one transaction that holds the keys' rows, unless one of
   * them is locked now (then it throws LoginLockedError and counts nothing). Counting before the secret is
   * checked is what stops parallel guesses: each is counted, and may lock the key, before the next one reads
   * it; counting after the check let every guess sent at once through (24 of 25 in the brute-force test).
   */
  async reserve(entries: Array<{ key: string; policy: ThrottlePolicy }>): Promise<void> {
    const now = this.clock.now();
    // one order for every caller, so two logins sharing a key never wait on each other's rows crosswise
    const sorted = [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const keys = sorted.map((e) => e.key);
    await this.knex.transaction(async (trx) => {
      await trx('login_attempts')
        .insert(keys.map((key) => ({ key, failures: 0, window_started_at: now, locked_until: null })))
        .onConflict('key')
        .ignore();
      const rows = await trx('login_attempts').whereIn('key', keys).orderBy('key').forUpdate();
      let wait = 0;
      for (const row of rows) {
        if (row.locked_until) wait = Math.max(wait, new Date(row.locked_until).getTime() - now.getTime());
      }
      if (wait > 0) throw new LoginLockedError(Math.ceil(wait / 1000));
      for (const { key, policy } of sorted) {
        const row = rows.find((r: any) => r.key === key);
        const fresh = now.getTime() - new Date(row.window_started_at).getTime() > policy.windowMs;
        const failures = fresh ? 1 : row.failures + 1;
        let lockMs = 0;
        if (failures >= policy.lockoutAfter) lockMs = policy.lockoutMs;
        else if (failures > policy.freeFailures) {
          lockMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - policy.freeFailures - 1));
        }
        await trx('login_attempts')
          .where({ key })
          .update({
            failures,
            window_started_at: fresh ? now : row.window_started_at,
            locked_until: lockMs ? new Date(now.getTime() + lockMs) : null,
          });
      }
    });
  }

  /**
   * One login attempt under the account's and the client IP's limits: refused while either is locked; counted
   * against both before `verify` runs; a failed attempt (`verify` returns null) throws `refusal()`; a success
   * clears the account and gives the address its try back.
   * `verify` must cost the same for unknown accounts (check a dummy hash) so that timing does not tell them apart.
   */
  async attempt<T>(accountKey: string, ip: string, verify: () => Promise<T | null>, refusal: () => Error): Promise<T> {
    const ipKey = `ip:${ip}`;
    await this.reserve([
      { key: accountKey, policy: MOBILE_POLICY },
      { key: ipKey, policy: IP_POLICY },
    ]);
    const subject = await verify();
    if (subject === null) throw refusal();
    await this.reset(accountKey);
    await this.knex('login_attempts')
      .where({ key: ipKey })
      .where('failures', '>', 0)
      .update({
        failures: this.knex.raw('failures - 1'),
        locked_until: this.knex.raw('case when failures - 1 <= ? then null else locked_until end', [IP_POLICY.freeFailures]),
      });
    return subject;
  }

  async reset(key: string): Promise<void> {
    await this.knex('login_attempts').where({ key }).del();
  }
}
