import type { Knex } from 'knex';
import { EngineError, type InstanceStatus, type Variables } from '../contract.ts';
import type { WaitRow } from './waits.ts';

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
