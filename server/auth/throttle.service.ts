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

  async recordFailure(entries: Array<{ key: string; policy: ThrottlePolicy }>): Promise<void> {
    const now = this.clock.now();
    for (const { key, policy } of entries) {
      await this.knex.transaction(async (trx) => {
        const row = await trx('login_attempts').where({ key }).forUpdate().first();
        const fresh = !row || now.getTime() - new Date(row.window_started_at).getTime() > policy.windowMs;
        const failures = fresh ? 1 : row.failures + 1;
        let lockMs = 0;
        if (failures >= policy.lockoutAfter) lockMs = policy.lockoutMs;
        else if (failures > policy.freeFailures) {
          lockMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failures - policy.freeFailures - 1));
        }
        const values = {
          failures,
          window_started_at: fresh ? now : row.window_started_at,
          locked_until: lockMs ? new Date(now.getTime() + lockMs) : null,
        };
        if (row) await trx('login_attempts').where({ key }).update(values);
        else await trx('login_attempts').insert({ key, ...values });
      });
    }
  }

  /**
   * One login attempt under the account's and the client IP's limits: refused while either is locked; a failed
   * attempt (`verify` returns null) counts against both and throws `refusal()`; a success clears the account.
   * `verify` must cost the same for unknown accounts (check a dummy hash) so that timing does not tell them apart.
   */
  async attempt<T>(accountKey: string, ip: string, verify: () => Promise<T | null>, refusal: () => Error): Promise<T> {
    const ipKey = `ip:${ip}`;
    await this.check([accountKey, ipKey]);
    const subject = await verify();
    if (subject === null) {
      await this.recordFailure([
        { key: accountKey, policy: MOBILE_POLICY },
        { key: ipKey, policy: IP_POLICY },
      ]);
      throw refusal();
    }
    await this.reset(accountKey);
    return subject;
  }

  async reset(key: string): Promise<void> {
    await this.knex('login_attempts').where({ key }).del();
  }
}
