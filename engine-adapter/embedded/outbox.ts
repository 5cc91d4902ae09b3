import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { Incident, InstanceEnded, UserTask, UserTaskCanceled } from '../contract.ts';
import type { EngineLogger } from './logger.ts';

export interface EventPayloads {
  userTaskCreated: UserTask;
  userTaskCanceled: UserTaskCanceled;
  instanceEnded: InstanceEnded;
  incident: Incident;
}
export type EventType = keyof EventPayloads;
export type PendingEvent = { [T in EventType]: { type: T; instanceKey: string; payload: EventPayloads[T] } }[EventType];
type Handler<T extends EventType> = (event: EventPayloads[T]) => Promise<void> | void;

const CLAIM_MS = 30_000;
const BATCH = 100;

/**
 * Events leave through outbox rows written in the same transaction as the state change, and are delivered
 * after commit, at least once: a handler that throws (or a process that dies mid-delivery) sees the event again.
 * Events of a type nobody listens to stay in the outbox until someone does.
 */
export class Outbox {
  private readonly handlers: { [T in EventType]: Handler<T>[] } = {
    userTaskCreated: [],
    userTaskCanceled: [],
    instanceEnded: [],
    incident: [],
  };

  constructor(
    private readonly clock: Clock,
    private readonly logger: EngineLogger,
  ) {}

  on<T extends EventType>(type: T, handler: Handler<T>): void {
    this.handlers[type].push(handler);
  }

  async add<T extends EventType>(trx: Knex.Transaction, type: T, instanceKey: string, payload: EventPayloads[T]): Promise<void> {
    await this.addMany(trx, [{ type, instanceKey, payload } as PendingEvent]);
  }

  /** One insert for all the events of a command (their ids keep the order given). */
  async addMany(trx: Knex.Transaction, events: Array<PendingEvent>): Promise<void> {
    if (!events.length) return;
    const now = this.clock.now();
    await trx('engine_outbox').insert(
      events.map((e) => ({ type: e.type, instance_key: e.instanceKey, payload: JSON.stringify(e.payload), created_at: now })),
    );
  }

  /** Delivers what is due; returns how many events were handled. */
  async deliver(knex: Knex): Promise<number> {
    const types = (Object.keys(this.handlers) as EventType[]).filter((t) => this.handlers[t].length > 0);
    if (!types.length) return 0;
    const now = this.clock.now();
    const due = knex('engine_outbox')
      .select('id')
      .whereIn('type', types)
      .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .orderBy('id')
      .limit(BATCH)
      .forUpdate()
      .skipLocked();
    const claimed: Array<{ id: number; type: EventType; payload: any; attempts: number }> = await knex('engine_outbox')
      .whereIn('id', due)
      .update({ claimed_until: new Date(now.getTime() + CLAIM_MS), attempts: knex.raw('attempts + 1') })
      .returning(['id', 'type', 'payload', 'attempts']);
    claimed.sort((a, b) => Number(a.id) - Number(b.id));
    const delivered: number[] = [];
    for (const event of claimed) {
      try {
        for (const handler of this.handlers[event.type]) await (handler as Handler<EventType>)(event.payload);
        delivered.push(event.id);
      } catch (err) {
        const retryIn = Math.min(60_000, 1000 * 2 ** Math.min(event.attempts, 6));
        this.logger.error({ err, eventId: event.id, type: event.type }, 'engine event handler failed; will redeliver');
        await knex('engine_outbox')
          .where({ id: event.id })
          .update({ claimed_until: new Date(this.clock.now().getTime() + retryIn) });
      }
    }
    if (delivered.length) await knex('engine_outbox').whereIn('id', delivered).delete();
    return delivered.length;
  }
}
