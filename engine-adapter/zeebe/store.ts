import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { Incident, InstanceEnded, UserTask, UserTaskCanceled, Variables } from '../contract.ts';
import type { EngineLogger } from '../embedded/logger.ts';

export interface EventPayloads {
  userTaskCreated: UserTask;
  userTaskCanceled: UserTaskCanceled;
  instanceEnded: InstanceEnded;
  incident: Incident;
}
export type EventType = keyof EventPayloads;
type Handler<T extends EventType> = (event: EventPayloads[T]) => Promise<void> | void;

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
  private readonly handlers: { [T in EventType]: Handler<T>[] } = {
    userTaskCreated: [],
    userTaskCanceled: [],
    instanceEnded: [],
    incident: [],
  };

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly logger: EngineLogger,
  ) {}

  on<T extends EventType>(type: T, handler: Handler<T>): void {
    this.handlers[type].push(handler);
  }

  async add<T extends EventType>(db: Knex | Knex.Transaction, type: T, dedupeKey: string, payload: EventPayloads[T]): Promise<void> {
    await db('zeebe_events')
      .insert({ type, dedupe_key: dedupeKey, payload: JSON.stringify(payload), created_at: this.clock.now() })
      .onConflict('dedupe_key')
      .ignore();
  }

  /** Delivers what is due; returns how many events were handled. */
  async deliver(): Promise<number> {
    const types = (Object.keys(this.handlers) as EventType[]).filter((t) => this.handlers[t].length > 0);
    if (!types.length) return 0;
    const now = this.clock.now();
    const knex = this.knex;
    const due = knex('zeebe_events')
      .select('id')
      .whereNull('delivered_at')
      .whereIn('type', types)
      .andWhere((q) => q.whereNull('claimed_until').orWhere('claimed_until', '<=', now))
      .orderBy('id')
      .limit(BATCH)
      .forUpdate()
      .skipLocked();
    const claimed: Array<{ id: number | string; type: EventType; payload: any; attempts: number }> = await knex('zeebe_events')
      .whereIn('id', due)
      .update({ claimed_until: new Date(now.getTime() + CLAIM_MS), attempts: knex.raw('attempts + 1') })
      .returning(['id', 'type', 'payload', 'attempts']);
    claimed.sort((a, b) => Number(a.id) - Number(b.id));
    const delivered: Array<number | string> = [];
    for (const event of claimed) {
      try {
        const payload = typeof event.payload === 'string' ? JSON.parse(event.payload) : event.payload;
        for (const handler of this.handlers[event.type]) await (handler as Handler<EventType>)(payload);
        delivered.push(event.id);
      } catch (err) {
        const retryIn = Math.min(60_000, 1000 * 2 ** Math.min(event.attempts, 6));
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
