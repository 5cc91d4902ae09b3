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
 *
 * The same statement says whether another row was due (`more`: no empty claim ends a round) and, with
 * `abandoned`, first fails the rows still 'sending' after their lease (their sender died while the vendor had
 * them; they are never sent again). A round of one message is two statements with its "sent", not four.
 */
async function claimNextRow<T extends { attempts: number }>(
  knex: Knex,
  table: string,
  columns: string[],
  now: Date,
  leaseMs: number,
  abandoned?: { lastError: string },
): Promise<{ row: T; more: boolean } | undefined> {
  // The due row is picked in a CTE (materialised once, with its lock), not `id in (subquery)`: an IN may be
  // planned as a join that runs the subquery again per row, each run skipping the rows locked by the one
  // before, and so claims the whole table (seen in a test). The abandoned rows are 'sending', never the claimed one.
  const result = await knex.raw(
    `with ${abandoned ? 'abandoned as (update ?? set status = ?, last_error = ? where status = ? and next_attempt_at <= ?), ' : ''}
       next as (select id from ?? where status = ? and next_attempt_at <= ? order by next_attempt_at, id limit 1 for update skip locked)
     update ?? as claimed set status = ?, attempts = attempts + 1, next_attempt_at = ?
     where claimed.id = (select id from next) and claimed.status = ?
     returning ${columns.map(() => '??').join(', ')},
       exists (select 1 from ?? o where o.status = ? and o.next_attempt_at <= ? and o.id <> claimed.id) as more`,
    [
      ...(abandoned ? [table, 'failed', abandoned.lastError, 'sending', now] : []),
      table,
      'pending',
      now,
      table,
      'sending',
      new Date(now.getTime() + leaseMs),
      'pending',
      ...columns.map((c) => `claimed.${c}`),
      table,
      'pending',
      now,
    ],
  );
  const found = (result.rows ?? result)[0];
  if (!found) return undefined;
  const { more, ...row } = found;
  return { row: { ...row, attempts: Number(row.attempts) } as T, more: Boolean(more) };
}

/**
 * One delivery round of an outbox table: claims the due rows one by one (claimNextRow), at most `limit`, until none
 * is due. The round's first claim also fails the abandoned rows with `abandonedError`. The caller sends each row
 * and records its outcome before the next is claimed.
 */
export async function* claimDueRows<T extends { attempts: number }>(
  knex: Knex,
  table: string,
  columns: string[],
  options: { now: () => Date; leaseMs: number; limit: number; abandonedError: string },
): AsyncGenerator<T> {
  for (let taken = 0, more = true; more && taken < options.limit; taken++) {
    const claimed = await claimNextRow<T>(knex, table, columns, options.now(), options.leaseMs, taken === 0 ? { lastError: options.abandonedError } : undefined);
    if (!claimed) return;
    more = claimed.more;
    yield claimed.row;
  }
}
