import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { Incident, UserTask, Variables } from '../contract.ts';
import type { EngineLogger } from '../embedded/logger.ts';
import { claimDueEvents, type EventHandler, EventHandlers, type EventPayloads, type EventType, redeliveryDelayMs } from '../events.ts';

export type InstanceStatus = 'active' | 'canceling' | 'completed' | 'canceled';

export interface InstanceRow {
  instance_key: string;
  process_id: string;
  version: number;
  definition_key: string;
  status: InstanceStatus;
  variables: Variables;
  history: string[];
  started_at: Date;
  updated_at: Date;
  ended_at: Date | null;
  /** An end event was reached; whether it ended the instance is still to be asked (see end-probe.migration). */
  end_seen_at: Date | null;
}

export interface TaskRow {
  job_key: string;
  instance_key: string;
  element_id: string;
  state: 'open' | 'completing' | 'completed' | 'canceled';
  task: UserTask;
  claimed_until: Date | null;
  checked_at: Date;
  created_at: Date;
}

const CLAIM_MS = 30_000;
const BATCH = 100;

/**
 * Events leave through zeebe_events rows written in the transaction that recorded what the adapter saw, and are
 * delivered after commit, at least once (any server process may deliver them). A dedupe key per event makes
 * producing them idempotent, since Zeebe hands a job out again after a lost response or an expired lock.
 */
export class EventOutbox {
  private readonly handlers = new EventHandlers();

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly logger: EngineLogger,
  ) {}

  on<T extends EventType>(type: T, handler: EventHandler<T>): void {
    this.handlers.on(type, handler);
  }

  async add<T extends EventType>(db: Knex | Knex.Transaction, type: T, dedupeKey: string, payload: EventPayloads[T]): Promise<void> {
    await db('zeebe_events')
      .insert({ type, dedupe_key: dedupeKey, payload: JSON.stringify(payload), created_at: this.clock.now() })
      .onConflict('dedupe_key')
      .ignore();
  }

  /** Delivers what is due; returns how many events were handled. */
  async deliver(): Promise<number> {
    const types = this.handlers.types();
    if (!types.length) return 0;
    const knex = this.knex;
    const claimed = await claimDueEvents<{ id: number | string; type: EventType; payload: any; attempts: number }>(knex, 'zeebe_events', {
      types,
      now: this.clock.now(),
      claimMs: CLAIM_MS,
      limit: BATCH,
      columns: ['id', 'type', 'payload', 'attempts'],
      where: { delivered_at: null },
    });
    const delivered: Array<number | string> = [];
    for (const event of claimed) {
      try {
        const payload = typeof event.payload === 'string' ? JSON.parse(event.payload) : event.payload;
        await this.handlers.run(event.type, payload);
        delivered.push(event.id);
      } catch (err) {
        const retryIn = redeliveryDelayMs(event.attempts);
        this.logger.error({ err, eventId: event.id, type: event.type }, 'engine event handler failed; will redeliver');
        await knex('zeebe_events')
          .where({ id: event.id })
          .update({ claimed_until: new Date(this.clock.now().getTime() + retryIn) });
      }
    }
    // The row goes; what keeps a redelivered job from announcing again is the task/instance row it changed.
    if (delivered.length) await knex('zeebe_events').whereIn('id', delivered).delete();
    return delivered.length;
  }
}

export function parseJson<T>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}

export function toIncident(row: any): Incident {
  return {
    key: String(row.key),
    instanceKey: row.instance_key,
    elementId: row.element_id,
    jobKey: row.job_key,
    type: row.type,
    message: row.message,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
