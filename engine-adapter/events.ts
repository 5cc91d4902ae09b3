import type { Knex } from 'knex';
import type { Incident, InstanceEnded, UserTask, UserTaskCanceled } from './contract.ts';

/** The engine events both adapters deliver through their outbox table, by type. */
export interface EventPayloads {
  userTaskCreated: UserTask;
  userTaskCanceled: UserTaskCanceled;
  instanceEnded: InstanceEnded;
  incident: Incident;
}
export type EventType = keyof EventPayloads;
export type EventHandler<T extends EventType> = (event: EventPayloads[T]) => Promise<void> | void;

/** Handlers per event type; a type without handlers stays in the outbox until someone listens. */
export class EventHandlers {
  private readonly handlers: { [T in EventType]: EventHandler<T>[] } = {
    userTaskCreated: [],
    userTaskCanceled: [],
    instanceEnded: [],
    incident: [],
  };

  on<T extends EventType>(type: T, handler: EventHandler<T>): void {
    this.handlers[type].push(handler);
  }

  handles(type: EventType): boolean {
    return this.handlers[type].length > 0;
  }

  types(): EventType[] {
    return (Object.keys(this.handlers) as EventType[]).filter((t) => this.handles(t));
  }

  /** The first handler that throws stops the rest; the event then comes again for all of them (so they must be idempotent). */
  async run(type: EventType, payload: unknown): Promise<void> {
    for (const handler of this.handlers[type]) await (handler as EventHandler<EventType>)(payload as never);
  }
}

/** Back-off before a failed event is delivered again: doubling from 2 s, capped at a minute. */
export function redeliveryDelayMs(attempts: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.min(attempts, 6));
}

export interface DueEventsQuery {
  types: EventType[];
  now: Date;
  claimMs: number;
  limit: number;
  columns: string[];
  where?: Record<string, unknown>;
}

/**
 * Claims due outbox rows (never claimed, or their claim or back-off ran out) for this process and counts the
 * attempt; SKIP LOCKED lets several processes poll one table. Returns them in id order, the order written.
 */
export async function claimDueEvents<R extends { id: number | string }>(
  knex: Knex,
  table: string,
  { types, now, claimMs, limit, columns, where = {} }: DueEventsQuery,
): Promise<R[]> {
  const due = knex(table)
    .select('id')
    .where(where)
    .whereIn('type', types)
    .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked();
  const claimed = await knex(table)
    .whereIn('id', due)
    .update({ claimed_until: new Date(now.getTime() + claimMs), attempts: knex.raw('attempts + 1') })
    .returning(columns);
  return (claimed as R[]).sort((a, b) => Number(a.id) - Number(b.id));
}
