import type { Knex } from 'knex';
import { EngineError, type InstanceStatus, type Variables } from '../contract.ts';
import type { OutboxRow } from './outbox.ts';
import type { WaitRow } from './waits.ts';

/** Everything a command changes, written by one statement. */
export interface CommandWrite {
  row: InstanceRow;
  /** The row is new (a start): inserted rather than updated. */
  insert: boolean;
  goneWaitKeys: string[];
  newWaits: WaitRow[];
  events: OutboxRow[];
}

const INSTANCE_COLUMNS = [
  'key',
  'definition_key',
  'process_id',
  'version',
  'status',
  'engine_version',
  'state',
  'variables',
  'history',
  'parked_incident_key',
  'started_at',
  'updated_at',
  'ended_at',
] as const;
const JSON_COLUMNS = new Set(['variables', 'history']);

export interface InstanceRow {
  key: string;
  definition_key: string;
  process_id: string;
  version: number;
  status: InstanceStatus;
  engine_version: string;
  state: string | null;
  variables: Variables;
  history: string[];
  parked_incident_key: string | null;
  started_at: Date;
  updated_at: Date;
  ended_at: Date | null;
}

export class InstanceNotFoundError extends EngineError {
  constructor(instanceKey: string) {
    super('INSTANCE_NOT_FOUND', `process instance ${instanceKey} does not exist`);
  }
}

/**
 * Row access for instances and their waits. Every command on an instance starts with lock(): SELECT ... FOR
 * UPDATE serialises commands on one instance across connections and processes.
 */
export const instanceStore = {
  async lock(trx: Knex.Transaction, key: string): Promise<InstanceRow> {
    const row = await trx('engine_instances').where({ key }).forUpdate().first();
    if (!row) throw new InstanceNotFoundError(key);
    return row;
  },

  /** Locks the instance a wait belongs to, found by the wait's key; undefined when there is no such wait. */
  async lockByWait(trx: Knex.Transaction, waitKey: string): Promise<InstanceRow | undefined> {
    return trx('engine_instances')
      .where('key', trx('engine_waits').select('instance_key').where({ key: waitKey }))
      .forUpdate()
      .first();
  },

  /**
   * The end of a command in one round trip: gone waits deleted, new waits and outbox events inserted, the
   * instance inserted or updated, as data-modifying CTEs of a single statement (foreign keys are checked at
   * its end). Returns the outbox ids in the order of `events`.
   */
  async write(trx: Knex.Transaction, w: CommandWrite): Promise<number[]> {
    const parts: string[] = [];
    const bindings: Knex.RawBinding[] = [];
    if (w.goneWaitKeys.length) {
      parts.push('gone as (delete from engine_waits where key in (select jsonb_array_elements_text(?::jsonb)))');
      bindings.push(JSON.stringify(w.goneWaitKeys));
    }
    if (w.newWaits.length) {
      parts.push('waits as (insert into engine_waits select * from jsonb_populate_recordset(null::engine_waits, ?::jsonb))');
      bindings.push(JSON.stringify(w.newWaits));
    }
    const values = INSTANCE_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? JSON.stringify(w.row[c]) : w.row[c]));
    if (w.insert) {
      parts.push(
        `instance as (insert into engine_instances (${INSTANCE_COLUMNS.join(', ')}) values (${INSTANCE_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? '?::jsonb' : '?')).join(', ')}))`,
      );
      bindings.push(...values);
    } else {
      const set = INSTANCE_COLUMNS.filter((c) => c !== 'key').map((c) => `${c} = ${JSON_COLUMNS.has(c) ? '?::jsonb' : '?'}`);
      parts.push(`instance as (update engine_instances set ${set.join(', ')} where key = ?)`);
      bindings.push(...values.slice(1), w.row.key);
    }
    let select = 'select null::bigint as id where false';
    if (w.events.length) {
      parts.push(
        'events as (insert into engine_outbox (type, instance_key, payload, attempts, claimed_until, created_at) ' +
          'select e.type, e.instance_key, e.payload, e.attempts, e.claimed_until, e.created_at ' +
          'from jsonb_to_recordset(?::jsonb) as e(ord integer, type varchar, instance_key varchar, payload jsonb, attempts integer, claimed_until timestamptz, created_at timestamptz) ' +
          'order by e.ord returning id)',
      );
      bindings.push(JSON.stringify(w.events.map((e, ord) => ({ ...e, ord }))));
      select = 'select id from events order by id';
    }
    const result = await trx.raw(`with ${parts.join(', ')} ${select}`, bindings);
    return result.rows.map((r: { id: unknown }) => Number(r.id));
  },

  async insert(trx: Knex.Transaction, row: InstanceRow): Promise<void> {
    await trx('engine_instances').insert({
      ...row,
      variables: JSON.stringify(row.variables),
      history: JSON.stringify(row.history),
    });
  },

  async save(trx: Knex.Transaction, row: InstanceRow): Promise<void> {
    await trx('engine_instances')
      .where({ key: row.key })
      .update({
        status: row.status,
        engine_version: row.engine_version,
        state: row.state,
        variables: JSON.stringify(row.variables),
        history: JSON.stringify(row.history),
        parked_incident_key: row.parked_incident_key,
        updated_at: row.updated_at,
        ended_at: row.ended_at,
      });
  },

  waits(trx: Knex.Transaction, instanceKey: string): Promise<WaitRow[]> {
    return trx('engine_waits').where({ instance_key: instanceKey });
  },

  wait(db: Knex | Knex.Transaction, key: string): Promise<WaitRow | undefined> {
    return db('engine_waits').where({ key }).first();
  },

  async insertWait(trx: Knex.Transaction, wait: WaitRow): Promise<void> {
    await trx('engine_waits').insert({ ...wait, payload: JSON.stringify(wait.payload) });
  },
};
