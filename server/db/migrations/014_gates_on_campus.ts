import type { Knex } from 'knex';

/**
 * Gates and who is on campus now (issue 15).
 * - `gates`: the named gates of a campus (正门, 东门…), kept by administrators; a gate never changes campus.
 * - `pass_events.gate_id`: the gate an entry or exit was recorded at. Events recorded before this migration, or
 *   at a campus without gates, have none ("未知门岗").
 * - `pass_presence`: one row per pass whose latest event is an entry, i.e. the visitor is inside. Kept by
 *   PassService.record in the transaction that writes the event, so the on-campus list reads a table the size of
 *   the people inside instead of scanning every event ever recorded. It carries the pass's window end (fixed when
 *   the pass is issued) so that overstays are counted, filtered and ordered there before anything is joined.
 *   Filled here from the existing events.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('gates', (t) => {
    t.increments('id');
    t.integer('campus_id').notNullable().references('campuses.id');
    t.string('name', 50).notNullable();
    t.boolean('active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.unique(['campus_id', 'name']);
  });
  await knex.schema.alterTable('pass_events', (t) => {
    t.integer('gate_id').references('gates.id');
    // lastEvent() and the presence kept by record() look up a pass's events newest first.
    t.index(['pass_id', 'at', 'id']);
  });
  await knex.schema.createTable('pass_presence', (t) => {
    t.integer('pass_id').primary().references('passes.id').onDelete('CASCADE');
    t.bigInteger('event_id').notNullable().references('pass_events.id').onDelete('CASCADE');
    t.integer('campus_id').notNullable();
    t.integer('gate_id').references('gates.id');
    t.timestamp('entered_at', { useTz: true }).notNullable();
    t.timestamp('valid_until', { useTz: true }).notNullable();
    t.index(['campus_id', 'gate_id']);
  });
  await knex.raw(`
    insert into pass_presence (pass_id, event_id, campus_id, gate_id, entered_at, valid_until)
    select last.pass_id, last.id, coalesce(last.campus_id, passes.campus_id), null, last.at, passes.valid_until
    from (
      select distinct on (pass_id) pass_id, id, kind, campus_id, at
      from pass_events
      order by pass_id, at desc, id desc
    ) last
    join passes on passes.id = last.pass_id
    where last.kind = 'entry'
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('pass_presence');
  await knex.schema.alterTable('pass_events', (t) => {
    t.dropIndex(['pass_id', 'at', 'id']);
    t.dropColumn('gate_id');
  });
  await knex.schema.dropTableIfExists('gates');
}
