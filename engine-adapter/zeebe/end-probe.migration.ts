import type { Knex } from 'knex';

/**
 * When the adapter last saw an end event of an instance whose end it has not yet confirmed: an end event ends the
 * instance only when no other path still runs, which the adapter learns by asking the cluster after the end
 * event's job is done. Set before the job is completed, cleared by the answer: a crash in between leaves it set,
 * and the heartbeat asks again.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('zeebe_instances', (t) => {
    t.timestamp('end_seen_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('zeebe_instances', (t) => {
    t.dropColumn('end_seen_at');
  });
}
