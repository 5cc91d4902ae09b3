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
  /**
   * Optimistic commands: the revision the instance was read at. Nothing is written unless the instance is
   * still at it (another command moved it meanwhile: the write reports a conflict and the caller reads again).
   */
  expectRev?: number;
}

export interface CommandWritten {
  /** Outbox ids in the order of `events`. */
  ids: number[];
  /** false: the instance was changed since it was read (optimistic write only); nothing was written. */
  applied: boolean;
}

/** An instance with its waits, read in one statement. */
export interface LoadedInstance {
  row: InstanceRow;
  waits: WaitRow[];
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
  /** Bumped by every write of the row: what an optimistic command checks before it writes. */
  rev?: number;
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
  /**
   * The instance and its waits without a lock, by instance key or by the key of one of its waits: the read
   * of an optimistic command. Wait timestamps come back as ISO text (the command does not read them).
   */
  async load(db: Knex | Knex.Transaction, by: { key: string } | { waitKey: string }): Promise<LoadedInstance | undefined> {
    const where = 'key' in by ? 'i.key = ?' : 'i.key = (select instance_key from engine_waits where key = ?)';
    const result = await db.raw(
      `select i.*, (select coalesce(json_agg(w), '[]'::json) from engine_waits w where w.instance_key = i.key) as waits_json from engine_instances i where ${where}`,
      ['key' in by ? by.key : by.waitKey],
    );
    const found = result.rows[0];
    if (!found) return undefined;
    const { waits_json, ...row } = found;
    return { row, waits: typeof waits_json === 'string' ? JSON.parse(waits_json) : waits_json };
  },

  async lock(trx: Knex | Knex.Transaction, key: string): Promise<InstanceRow> {
    const row = await trx('engine_instances').where({ key }).forUpdate().first();
    if (!row) throw new InstanceNotFoundError(key);
    return row;
  },

  /** Locks the instance a wait belongs to, found by the wait's key; undefined when there is no such wait. */
  async lockByWait(trx: Knex | Knex.Transaction, waitKey: string): Promise<InstanceRow | undefined> {
    return trx('engine_instances')
      .where('key', trx('engine_waits').select('instance_key').where({ key: waitKey }))
      .forUpdate()
      .first();
  },

  /**
   * The end of a command in one round trip: gone waits deleted, new waits and outbox events inserted, the
   * instance inserted or updated, as data-modifying CTEs of a single statement (foreign keys are checked at
   * its end). With `expectRev`, every part is conditional on the instance update, which matches only the
   * revision read (data-modifying CTEs share one snapshot, so the condition is the update's RETURNING).
   */
  async write(db: Knex | Knex.Transaction, w: CommandWrite): Promise<CommandWritten> {
    const parts: string[] = [];
    const bindings: Knex.RawBinding[] = [];
    const values = INSTANCE_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? JSON.stringify(w.row[c]) : w.row[c]));
    if (w.insert) {
      parts.push(
        `instance as (insert into engine_instances (${INSTANCE_COLUMNS.join(', ')}) values (${INSTANCE_COLUMNS.map((c) => (JSON_COLUMNS.has(c) ? '?::jsonb' : '?')).join(', ')}) returning key)`,
      );
      bindings.push(...values);
    } else {
      const set = INSTANCE_COLUMNS.filter((c) => c !== 'key').map((c) => `${c} = ${JSON_COLUMNS.has(c) ? '?::jsonb' : '?'}`);
      const check = w.expectRev === undefined ? '' : ' and rev = ?';
      parts.push(`instance as (update engine_instances set ${set.join(', ')}, rev = rev + 1 where key = ?${check} returning key)`);
      bindings.push(...values.slice(1), w.row.key);
      if (w.expectRev !== undefined) bindings.push(w.expectRev);
    }
    const applied = w.expectRev === undefined ? '' : ' and exists (select 1 from instance)';
    if (w.goneWaitKeys.length) {
      parts.push(`gone as (delete from engine_waits where key in (select jsonb_array_elements_text(?::jsonb))${applied})`);
      bindings.push(JSON.stringify(w.goneWaitKeys));
    }
    if (w.newWaits.length) {
      parts.push(
        `waits as (insert into engine_waits select * from jsonb_populate_recordset(null::engine_waits, ?::jsonb) where true${applied})`,
      );
      bindings.push(JSON.stringify(w.newWaits));
    }
    let ids = `'[]'::json`;
    if (w.events.length) {
      parts.push(
        'events as (insert into engine_outbox (type, instance_key, payload, attempts, claimed_until, created_at) ' +
          'select e.type, e.instance_key, e.payload, e.attempts, e.claimed_until, e.created_at ' +
          'from jsonb_to_recordset(?::jsonb) as e(ord integer, type varchar, instance_key varchar, payload jsonb, attempts integer, claimed_until timestamptz, created_at timestamptz) ' +
          `where true${applied} order by e.ord returning id)`,
      );
      bindings.push(JSON.stringify(w.events.map((e, ord) => ({ ...e, ord }))));
      ids = '(select coalesce(json_agg(id order by id), \'[]\'::json) from events)';
    }
    const result = await db.raw(`with ${parts.join(', ')} select (select count(*) from instance) as applied, ${ids} as ids`, bindings);
    const { applied: count, ids: idList } = result.rows[0];
    const list: unknown[] = typeof idList === 'string' ? JSON.parse(idList) : idList;
    return { ids: list.map(Number), applied: Number(count) > 0 };
  },

  async insert(trx: Knex | Knex.Transaction, row: InstanceRow): Promise<void> {
    await trx('engine_instances').insert({
      ...row,
      variables: JSON.stringify(row.variables),
      history: JSON.stringify(row.history),
    });
  },

  async save(trx: Knex | Knex.Transaction, row: InstanceRow): Promise<void> {
    await trx('engine_instances')
      .where({ key: row.key })
      .update({
        rev: trx.raw('rev + 1'),
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

  waits(trx: Knex | Knex.Transaction, instanceKey: string): Promise<WaitRow[]> {
    return trx('engine_waits').where({ instance_key: instanceKey });
  },

  wait(db: Knex | Knex.Transaction, key: string): Promise<WaitRow | undefined> {
    return db('engine_waits').where({ key }).first();
  },

  async insertWait(trx: Knex | Knex.Transaction, wait: WaitRow): Promise<void> {
    await trx('engine_waits').insert({ ...wait, payload: JSON.stringify(wait.payload) });
  },
};
