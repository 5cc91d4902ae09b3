import type { Knex } from 'knex';

/**
 * Group visits (issue 15): one application for several visitors, each with a pass of their own.
 * - `application_companions`: the people who come with the applicant, in the order of the form. Their resident ID
 *   number and mobile are kept as the visitors' are: AES-GCM ciphertext, a blind index (the ID number: duplicates
 *   and the watch list) and a masked copy for the screens; never in clear.
 * - `passes.companion_id`: the companion a pass belongs to (null: the applicant's pass). An application now has one
 *   pass per person, so the unique application_id becomes unique among the applicants' passes only.
 * - `passes.link_token_hash`: SHA-256 of the token in the companion's SMS link, which opens that one pass without
 *   logging in (a companion has no account); the token itself is never stored.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('application_companions', (t) => {
    t.increments('id');
    t.integer('application_id').notNullable().references('applications.id').onDelete('CASCADE');
    t.smallint('position').notNullable();
    t.string('name', 50).notNullable();
    t.text('id_number_enc').notNullable();
    t.string('id_number_bidx', 64).notNullable();
    t.string('id_number_masked', 24).notNullable();
    t.text('mobile_enc').notNullable();
    t.string('mobile_masked', 20).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.unique(['application_id', 'position']);
    t.unique(['application_id', 'id_number_bidx']);
  });
  await knex.schema.alterTable('passes', (t) => {
    t.dropUnique(['application_id']);
    t.integer('companion_id').references('application_companions.id').onDelete('CASCADE').unique();
    t.string('link_token_hash', 64).unique();
    t.index(['application_id']);
  });
  await knex.raw('create unique index passes_applicant_unique on passes (application_id) where companion_id is null');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop index if exists passes_applicant_unique');
  await knex('passes').whereNotNull('companion_id').delete();
  await knex.schema.alterTable('passes', (t) => {
    t.dropIndex(['application_id']);
    t.dropColumn('link_token_hash');
    t.dropColumn('companion_id');
    t.unique(['application_id']);
  });
  await knex.schema.dropTableIfExists('application_companions');
}
