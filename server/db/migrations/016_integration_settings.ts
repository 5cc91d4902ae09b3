import type { Knex } from 'knex';

/**
 * Integration settings an administrator saves on the admin page (SMS provider, WeChat official account), one
 * row per integration. `settings` holds the values that are not secret (provider, sign name, template
 * mapping, AppID) as JSON; `secrets_enc` the credentials, AES-256-GCM sealed with the field encryption key
 * and bound to the row's name (never in clear, never sent to a browser). `version` grows with every save: a
 * server process rebuilds its provider when it reads a new one (several processes see a save within 1 s).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('integration_settings', (t) => {
    t.string('name', 20).primary(); // sms | wechat
    t.text('settings').notNullable();
    t.text('secrets_enc');
    t.integer('version').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.integer('updated_by').references('staff.id').onDelete('SET NULL');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('integration_settings');
}
