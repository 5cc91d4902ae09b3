import type { Knex } from 'knex';

/**
 * A revision per instance row, bumped by every write: the compiled executor's hot commands read the instance
 * without a lock and write only if it is still at the revision they read (two round trips instead of five).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('engine_instances', (t) => {
    t.integer('rev').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('engine_instances', (t) => {
    t.dropColumn('rev');
  });
}
