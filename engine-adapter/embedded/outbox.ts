import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import { claimDueEvents, type EventHandler, EventHandlers, type EventPayloads, type EventType, redeliveryDelayMs } from '../events.ts';
import type { EngineLogger } from './logger.ts';

export type PendingEvent = { [T in EventType]: { type: T; instanceKey: string; payload: EventPayloads[T] } }[EventType];

/** An outbox row this process holds a claim on and delivers itself. */
export interface ClaimedEvent {
  id: number;
  type: EventType;
  instanceKey: string;
  payload: any;
  attempts: number;
}

/** The outbox columns of an event, as written by a command (claimed when this process delivers it at once). */
export interface OutboxRow {
  type: EventType;
  instance_key: string;
  payload: unknown;
  attempts: number;
  claimed_until: Date | null;
  created_at: Date;
}

export const CLAIM_MS = 30_000;
const BATCH = 100;
/** Delivered ids are deleted in batches: one statement for many events, a little later. */
const DELETE_BATCH = 200;
const DELETE_DELAY_MS = 20;

/**
 * Events leave through outbox rows written in the same transaction as the state change, and are delivered
 * after commit, at least once: a handler that throws (or a process that dies mid-delivery) sees the event again.
 * Events of a type nobody listens to stay in the outbox until someone does.
 *
 * Two ways out: a command that knows it will deliver its own events right after commit writes them claimed
 * (deliverClaimed); everything else (unclaimed, failed, or claimed by a process that died) is found by the
 * poller (deliver). Events of one instance are handed over in order within a process.
 */
export class Outbox {
  private readonly handlers = new EventHandlers();
  private readonly chains = new Map<string, Promise<void>>();
  private delivered: number[] = [];
  private flushTimer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly logger: EngineLogger,
  ) {}

  on<T extends EventType>(type: T, handler: EventHandler<T>): void {
    this.handlers.on(type, handler);
  }

  handles(type: EventType): boolean {
    return this.handlers.handles(type);
  }

  /** The row for an event; claimed for this process when `claim` is set and someone here listens to it. */
  row(event: PendingEvent, claim: boolean): OutboxRow {
    const now = this.clock.now();
    const claimed = claim && this.handles(event.type);
    return {
      type: event.type,
      instance_key: event.instanceKey,
      payload: event.payload,
      attempts: claimed ? 1 : 0,
      claimed_until: claimed ? new Date(now.getTime() + CLAIM_MS) : null,
      created_at: now,
    };
  }

  /** One insert for all the events of a command (their ids keep the order given); returns the claimed ones. */
  async addMany(trx: Knex | Knex.Transaction, events: Array<PendingEvent>, claim = false): Promise<ClaimedEvent[]> {
    if (!events.length) return [];
    const rows = events.map((e) => this.row(e, claim));
    const inserted: Array<{ id: number }> = await trx('engine_outbox')
      .insert(rows.map((r) => ({ ...r, payload: JSON.stringify(r.payload) })))
      .returning('id');
    return claimedOf(rows, inserted.map((r) => Number(r.id)));
  }

  /** Delivers what the poller finds due; returns how many events were handled. */
  async deliver(): Promise<number> {
    const types = this.handlers.types();
    if (!types.length) return 0;
    const claimed = await claimDueEvents<{ id: number; type: EventType; instance_key: string; payload: any; attempts: number }>(this.knex, 'engine_outbox', {
      types,
      now: this.clock.now(),
      claimMs: CLAIM_MS,
      limit: BATCH,
      columns: ['id', 'type', 'instance_key', 'payload', 'attempts'],
    });
    const handled = await this.deliverClaimed(
      claimed.map((e) => ({ id: Number(e.id), type: e.type, instanceKey: e.instance_key, payload: e.payload, attempts: e.attempts })),
    );
    await this.flush();
    return handled;
  }

  /** Hands claimed events to the handlers, in order per instance; resolves when all were handled or rescheduled. */
  async deliverClaimed(events: ClaimedEvent[]): Promise<number> {
    const byInstance = new Map<string, ClaimedEvent[]>();
    for (const event of events) {
      const list = byInstance.get(event.instanceKey);
      if (list) list.push(event);
      else byInstance.set(event.instanceKey, [event]);
    }
    let handled = 0;
    await Promise.all(
      [...byInstance].map(([instanceKey, list]) => {
        const previous = this.chains.get(instanceKey) ?? Promise.resolve();
        const next = previous.then(async () => {
          for (const event of list) if (await this.handle(event)) handled++;
        });
        this.chains.set(instanceKey, next);
        return next.finally(() => {
          if (this.chains.get(instanceKey) === next) this.chains.delete(instanceKey);
        });
      }),
    );
    return handled;
  }

  private async handle(event: ClaimedEvent): Promise<boolean> {
    try {
      await this.handlers.run(event.type, event.payload);
    } catch (err) {
      const retryIn = redeliveryDelayMs(event.attempts);
      this.logger.error({ err, eventId: event.id, type: event.type }, 'engine event handler failed; will redeliver');
      try {
        await this.knex('engine_outbox')
          .where({ id: event.id })
          .update({ claimed_until: new Date(this.clock.now().getTime() + retryIn) });
      } catch (updateErr) {
        // the claim still runs out, so the poller redelivers it anyway
        this.logger.error({ err: updateErr, eventId: event.id }, 'rescheduling an engine event failed');
      }
      return false;
    }
    this.delivered.push(event.id);
    if (this.delivered.length >= DELETE_BATCH) void this.flush();
    else this.flushTimer ??= setTimeout(() => void this.flush(), DELETE_DELAY_MS);
    return true;
  }

  /**
   * Deletes delivered rows. Until then a delivered event is still claimed, so nobody delivers it again unless
   * this process dies in between (at-least-once either way).
   */
  flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const ids = this.delivered;
    if (!ids.length) return this.flushing;
    this.delivered = [];
    this.flushing = this.flushing.then(async () => {
      try {
        await this.knex('engine_outbox').whereIn('id', ids).delete();
      } catch (err) {
        this.logger.error({ err, count: ids.length }, 'deleting delivered engine events failed; they may be delivered again');
      }
    });
    return this.flushing;
  }

  /** Waits for in-order deliveries still running (used by drain and close). */
  async idle(): Promise<void> {
    while (this.chains.size) await Promise.all(this.chains.values()).catch(() => {});
    await this.flush();
  }
}

export function claimedOf(rows: OutboxRow[], ids: number[]): ClaimedEvent[] {
  const claimed: ClaimedEvent[] = [];
  rows.forEach((row, i) => {
    if (row.claimed_until)
      claimed.push({ id: ids[i], type: row.type, instanceKey: row.instance_key, payload: row.payload, attempts: row.attempts });
  });
  return claimed;
}
