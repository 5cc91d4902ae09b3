import type { Knex } from 'knex';
import type { Job } from '../contract.ts';
import type { WaitRow } from './waits.ts';

/** Seconds-scale exponential back-off between attempts of a failing job, capped at a minute. */
export function retryBackoffMs(attempt: number, baseMs: number): number {
  return Math.min(60_000, baseMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Activates due jobs of the given types: open ones whose back-off has passed, and activated ones whose
 * worker lost its lock (timed out or died), which is what makes delivery at-least-once.
 */
export async function activateJobs(knex: Knex, types: string[], now: Date, lockMs: number, limit: number): Promise<WaitRow[]> {
  if (!types.length) return [];
  const due = knex('engine_waits')
    .select('key')
    .where({ kind: 'job' })
    .whereIn('job_type', types)
    .andWhere((q) =>
      q
        .where((o) => o.where({ state: 'open' }).andWhere('due_at', '<=', now))
        .orWhere((a) => a.where({ state: 'activated' }).andWhere('claimed_until', '<=', now)),
    )
    .orderBy('due_at')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  const rows: WaitRow[] = await knex('engine_waits')
    .whereIn('key', due)
    .update({ state: 'activated', claimed_until: new Date(now.getTime() + lockMs) })
    .returning('*');
  return rows.sort((a, b) => (a.due_at?.getTime() ?? 0) - (b.due_at?.getTime() ?? 0));
}

export function toJob(row: WaitRow): Job {
  const job = row.payload.job!;
  return {
    key: row.key,
    type: row.job_type!,
    instanceKey: row.instance_key,
    processId: job.processId,
    elementId: row.element_id,
    headers: job.headers,
    variables: job.variables,
    retries: row.retries ?? 0,
  };
}

/**
 * At most `limit` handlers of one worker at once, the rest queued in order. Shared by the poller and the
 * immediate dispatch after a command, so a worker's concurrency holds whichever way its jobs arrive.
 */
export class Lane {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly limit: number) {}

  /** Running plus waiting. */
  get pending(): number {
    return this.active + this.queue.length;
  }

  async run(task: () => Promise<void>): Promise<void> {
    // A finishing task hands its slot straight to the next in the queue, so the limit holds at every moment.
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active++;
    try {
      await task();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}
