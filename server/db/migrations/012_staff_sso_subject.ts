import type { Knex } from 'knex';

/**
 * Staff single sign-on. A staff row gets the two keys a provider's answer is linked by (staff number, work
 * e-mail, kept lower-case) and, once linked, the provider's subject (`oidc:<issuer>#<sub>` or `cas:<user>`).
 * `staff_sso_flows` holds a started sign-in (state -> nonce and PKCE verifier) until its callback uses it once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('staff', (t) => {
    t.string('staff_no', 64).unique();
    t.string('email', 254).index();
    t.string('sso_subject', 400).unique();
  });
  await knex.schema.createTable('staff_sso_flows', (t) => {
    t.string('id', 64).primary(); // sha256 of the state
    t.string('nonce', 100);
    t.string('code_verifier', 200);
    t.string('next_path', 100).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('staff_sso_flows');
  await knex.schema.alterTable('staff', (t) => {
    t.dropColumn('sso_subject');
    t.dropColumn('email');
    t.dropColumn('staff_no');
  });
}
