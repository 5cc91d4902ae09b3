import type { Knex } from 'knex';

/**
 * WeChat task notices: the openid of each staff member (under the campus official account, set by an
 * administrator) and the outbox of WeChat notices, one row per notice ever (dedupe_key), like sms_outbox.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('staff', (t) => {
    t.string('wechat_openid', 64);
  });
  await knex.schema.createTable('wechat_outbox', (t) => {
    t.bigIncrements('id');
    t.string('dedupe_key', 160).notNullable().unique();
    t.integer('staff_id').notNullable().references('staff.id').onDelete('CASCADE');
    t.string('openid', 64).notNullable();
    t.string('notice', 50).notNullable();
    t.text('params').notNullable(); // JSON of strings: the values the template's fields are filled with
    t.integer('application_id').references('applications.id').onDelete('CASCADE');
    t.string('status', 16).notNullable().defaultTo('pending'); // pending | sending | sent | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.text('last_error');
    t.string('msg_id', 100);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('sent_at', { useTz: true });
    t.index(['status', 'next_attempt_at']);
    t.index(['application_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('wechat_outbox');
  await knex.schema.alterTable('staff', (t) => {
    t.dropColumn('wechat_openid');
  });
}
