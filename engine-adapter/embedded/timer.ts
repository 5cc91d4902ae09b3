import type { Knex } from 'knex';
import { createRequire } from 'node:module';
import * as Elements from 'bpmn-elements';

// The ISO 8601 parser bpmn-elements itself uses, loaded through it so both always read a duration the same way.
const { ISOInterval } = createRequire(createRequire(import.meta.url).resolve('bpmn-elements'))('@0dep/piso');

/**
 * bpmn-elements wants a timers object; this one never arms a real timeout. Due times live in the database
 * (engine_waits rows) and the poller fires a timer by recovering the instance and calling the armed callback
 * here, so an instance holds no memory while it waits and an overdue timer fires once after a restart.
 */
export class VirtualTimers {
  private readonly callbacks = new Map<number, () => void>();
  private next = 0;
  readonly timers: any;

  constructor() {
    this.timers = new (Elements as any).Timers({
      setTimeout: (callback: (...args: unknown[]) => void, _delay: number, ...args: unknown[]) => {
        const id = ++this.next;
        this.callbacks.set(id, () => callback(...args));
        return id;
      },
      clearTimeout: (id: number) => {
        this.callbacks.delete(id);
      },
    });
  }

  /** What the engine armed for an element: the timer definition content (timerType, timeout, expireAt). */
  armed(elementId: string): TimerContent | undefined {
    return this.timers.executing.find((ref: any) => ref.owner?.id === elementId)?.owner;
  }

  /** Fires the element's armed timer now; false when none is armed (already fired or discarded). */
  fire(elementId: string): boolean {
    const ref = this.timers.executing.find((r: any) => r.owner?.id === elementId);
    const callback = ref && this.callbacks.get(ref.timerRef);
    if (!callback) return false;
    this.callbacks.delete(ref.timerRef);
    callback();
    return true;
  }
}

export interface TimerContent {
  id: string;
  timerType?: 'timeDuration' | 'timeDate' | 'timeCycle';
  timeDuration?: string;
  timeout?: number;
  expireAt?: Date | string;
}

/**
 * The due time by the injected clock: a date timer is absolute, a duration counts from now. bpmn-elements
 * computes both from the wall clock, which a test's FakeClock does not move.
 */
export function dueAt(content: TimerContent | undefined, now: Date): Date {
  if (content?.timerType === 'timeDate' && content.expireAt) return new Date(content.expireAt);
  if (content?.timerType === 'timeDuration' && typeof content.timeDuration === 'string')
    return new ISOInterval(content.timeDuration).parse().getExpireAt(now, now);
  return new Date(now.getTime() + Math.max(0, content?.timeout ?? 0));
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
