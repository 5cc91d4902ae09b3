import type { Knex } from 'knex';

/**
 * The background loop of an outbox (SMS, WeChat): looks every `intervalMs`, at once when woken (after a commit
 * that wrote a message), and drains batch after batch while they come back full. One round runs at a time;
 * stop() waits for the round in progress, so a shutdown does not cut a send between the vendor and the outcome.
 */
export class OutboxPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private intervalMs = 2000;

  constructor(
    /** Sends what is due, at most `limit`; answers how many were sent and how many attempts failed. */
    private readonly deliverDue: (limit: number) => Promise<{ sent: number; failed: number }>,
    /** A round that threw (the database away, say): logged, and the next round tries again. */
    private readonly onRoundFailed: (err: unknown) => void,
    private readonly batch = 20,
  ) {}

  get started(): boolean {
    return !this.stopped;
  }

  start(intervalMs = 2000): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.intervalMs = intervalMs;
    this.schedule(0);
  }

  /** Looks now instead of at the next interval; nothing when stopped or while a round runs (it re-schedules itself). */
  wake(): void {
    if (!this.stopped && this.timer) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.intervalMs);
      });
    }, delay);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    try {
      while (!this.stopped) {
        const { sent, failed } = await this.deliverDue(this.batch);
        if (sent + failed < this.batch) break;
      }
    } catch (err) {
      this.onRoundFailed(err);
    }
  }
}

/** Exponential back-off of an outbox retry: base, 2x base, 4x base ... capped. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

/**
 * Claims the next due row of an outbox table (status 'pending', next_attempt_at passed) in one statement: it
 * becomes 'sending' with its lease and attempt counted. One at a time on purpose: a claimed row is one the vendor
 * is about to get, so a sender killed mid-round leaves at most the message in flight in doubt. Claiming a batch
 * ahead stranded the rest of the batch as "outcome unknown" (the chaos bench lost 29 SMS in one run so).
 */
export async function claimNextRow<T extends { attempts: number }>(
  knex: Knex,
  table: string,
  columns: string[],
  now: Date,
  leaseMs: number,
): Promise<T | undefined> {
  const next = knex(table)
    .select('id')
    .where('status', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy([{ column: 'next_attempt_at' }, { column: 'id' }])
    .limit(1)
    .forUpdate()
    .skipLocked();
  // `id = (subquery)`, not `id in (subquery)`: an IN may be planned as a join that runs the subquery again per
  // row, each run skipping the rows locked by the one before, and so claims the whole table (seen in a test).
  const [row] = await knex(table)
    .where('id', next)
    .where('status', 'pending')
    .update({ status: 'sending', attempts: knex.raw('attempts + 1'), next_attempt_at: new Date(now.getTime() + leaseMs) })
    .returning(columns);
  return row ? ({ ...row, attempts: Number(row.attempts) } as T) : undefined;
}

/** Rows still 'sending' after their lease belonged to a sender that died while the vendor had them: failed, never sent again. */
export async function failAbandonedRows(knex: Knex, table: string, now: Date, lastError: string): Promise<void> {
  await knex(table).where('status', 'sending').where('next_attempt_at', '<=', now).update({ status: 'failed', last_error: lastError });
}
