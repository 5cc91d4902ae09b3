import { ISOInterval } from '@0dep/piso';
import type { Knex } from 'knex';
import type { Variables } from '../contract.ts';
import type { TimerDefinition } from './definition/model.ts';
import { evaluateFeel, FeelError } from './feel.ts';

/** A timer as armed when its token arrived: the evaluated definition, due time computed by the caller's clock. */
export interface TimerContent {
  timerType: 'timeDuration' | 'timeDate';
  /** ISO 8601 duration (timeDuration) */
  timeDuration?: string;
  /** ISO 8601 date-time (timeDate) */
  expireAt?: string;
}

/** Evaluates a timer definition (ISO text or FEEL giving a duration or a date-time) against the variables. */
export function armTimer(definition: TimerDefinition, variables: Variables): TimerContent {
  const value = evaluateFeel(definition.body, variables);
  if (typeof value !== 'string' || !value)
    throw new FeelError(definition.body, `a ${definition.kind} must give an ISO 8601 text, got ${JSON.stringify(value)}`);
  if (definition.kind === 'timeDate') {
    if (Number.isNaN(new Date(value).getTime())) throw new FeelError(definition.body, `${JSON.stringify(value)} is not a date-time`);
    return { timerType: 'timeDate', expireAt: value };
  }
  try {
    new ISOInterval(value).parse();
  } catch {
    throw new FeelError(definition.body, `${JSON.stringify(value)} is not an ISO 8601 duration`);
  }
  return { timerType: 'timeDuration', timeDuration: value };
}

/** The due time by the injected clock: a date timer is absolute, a duration counts from now. */
export function dueAt(content: TimerContent | undefined, now: Date): Date {
  if (content?.timerType === 'timeDate' && content.expireAt) return new Date(content.expireAt);
  if (content?.timerType === 'timeDuration' && content.timeDuration)
    return new ISOInterval(content.timeDuration).parse().getExpireAt(now, now);
  return now;
}

/**
 * Claims due timers for this poller. SKIP LOCKED lets several processes poll one database; the claim expires,
 * so a timer claimed by a process that died fires from another one later.
 */
export async function claimDueTimers(
  knex: Knex,
  now: Date,
  claimMs: number,
  limit: number,
): Promise<Array<{ key: string; instance_key: string }>> {
  const due = knex('engine_waits')
    .select('key')
    .where({ kind: 'timer', state: 'open' })
    .andWhere('due_at', '<=', now)
    .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
    .orderBy('due_at')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  return knex('engine_waits')
    .whereIn('key', due)
    .update({ claimed_until: new Date(now.getTime() + claimMs) })
    .returning(['key', 'instance_key']);
}
