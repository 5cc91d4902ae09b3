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

/** Runs tasks with at most `limit` at once. */
export async function runLimited<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await run(items[next++]);
  });
  await Promise.all(lanes);
}
