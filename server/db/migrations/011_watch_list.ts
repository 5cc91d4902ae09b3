import type { Knex } from 'knex';

/**
 * The watch list kept by admins (issue 15): entries by ID number (only the blind index the visitors table uses
 * and a masked form, never the clear value), by vehicle plate (normalised) or by name (+ organisation). An
 * application that hit a `review` entry keeps the hit (entry ids and reasons) for the staff who review it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('watch_list', (t) => {
    t.increments('id');
    t.string('kind', 16).notNullable(); // id_number | plate | name
    t.string('id_number_bidx', 64);
    t.string('id_number_masked', 32);
    t.string('plate', 16);
    t.string('name', 50);
    t.string('organisation', 100);
    t.string('reason', 500).notNullable();
    t.string('mode', 16).notNullable(); // review | refuse
    t.boolean('active').notNullable().defaultTo(true);
    t.integer('created_by');
    t.string('created_by_name', 100);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.integer('deactivated_by');
    t.timestamp('deactivated_at', { useTz: true });
    t.index(['id_number_bidx']);
    t.index(['plate']);
    t.index(['name']);
  });
  await knex.schema.alterTable('applications', (t) => {
    t.jsonb('watch_hit');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('watch_hit');
  });
  await knex.schema.dropTableIfExists('watch_list');
}
