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
   * Counts one try against each of `count` as a failure, in one transaction that holds their rows, unless one
   * of them or of `alsoCheck` is locked now (then it throws LoginLockedError and counts nothing). Counting
   * before the secret is checked is what stops parallel guesses at one account: each is counted, and may lock
   * the account, before the next one reads it; counting after the check let every guess sent at once through
   * (24 of 25 in the brute-force test).
   */
  async reserve(count: Array<{ key: string; policy: ThrottlePolicy }>, alsoCheck: string[] = []): Promise<void> {
    await this.knex.transaction(async (trx) => {
      const now = this.clock.now();
      const rows = await this.lockRows(trx, count, now);
      const others = alsoCheck.length ? await trx('login_attempts').whereIn('key', alsoCheck) : [];
      let wait = 0;
      for (const row of [...rows, ...others]) {
        if (row.locked_until) wait = Math.max(wait, new Date(row.locked_until).getTime() - now.getTime());
      }
      if (wait > 0) throw new LoginLockedError(Math.ceil(wait / 1000));
      await this.countFailures(trx, count, rows, now);
    });
  }

  /** Counts a failure against each key (after the fact: for keys that many honest callers share, like an address). */
  async recordFailure(entries: Array<{ key: string; policy: ThrottlePolicy }>): Promise<void> {
    await this.knex.transaction(async (trx) => {
      const now = this.clock.now();
      await this.countFailures(trx, entries, await this.lockRows(trx, entries, now), now);
    });
  }

  /** The rows of the keys, created when missing, locked in key order (two callers never wait on each other crosswise). */
  private async lockRows(trx: Knex.Transaction, entries: Array<{ key: string }>, now: Date): Promise<any[]> {
    const keys = [...new Set(entries.map((e) => e.key))].sort();
    await trx('login_attempts')
      .insert(keys.map((key) => ({ key, failures: 0, window_started_at: now, locked_until: null })))
      .onConflict('key')
      .ignore();
    return trx('login_attempts').whereIn('key', keys).orderBy('key').forUpdate();
  }

  private async countFailures(trx: Knex.Transaction, entries: Array<{ key: string; policy: ThrottlePolicy }>, rows: any[], now: Date) {
    for (const { key, policy } of entries) {
      const row = rows.find((r) => r.key === key);
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
  }

  /**
   * One login attempt under the account's and the client IP's limits: refused while either is locked; counted
   * against the account before `verify` runs; a failed attempt (`verify` returns null) counts against the
   * address too and throws `refusal()`; a success clears the account. The address is counted after the fact:
   * a campus gateway may have dozens of honest logins in flight at once, and none of them may lock it.
   * `verify` must cost the same for unknown accounts (check a dummy hash) so that timing does not tell them apart.
   */
  async attempt<T>(accountKey: string, ip: string, verify: () => Promise<T | null>, refusal: () => Error): Promise<T> {
    const ipKey = `ip:${ip}`;
    await this.reserve([{ key: accountKey, policy: MOBILE_POLICY }], [ipKey]);
    const subject = await verify();
    if (subject === null) {
      await this.recordFailure([{ key: ipKey, policy: IP_POLICY }]);
      throw refusal();
    }
    await this.reset(accountKey);
    return subject;
  }

  async reset(key: string): Promise<void> {
    await this.knex('login_attempts').where({ key }).del();
  }
}
