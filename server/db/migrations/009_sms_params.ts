import type { Knex } from 'knex';

/**
 * SMS providers in China send approved templates filled with parameters, not free text: the outbox keeps the
 * values each message was rendered with (JSON of strings; the rendered body stays beside them).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sms_outbox', (t) => {
    t.text('params');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sms_outbox', (t) => {
    t.dropColumn('params');
  });
}
