import type { Knex } from 'knex';

/**
 * Hosts' pre-invitations (issue 15): a host names the visitor's mobile, the window and the leader who signs;
 * the visitor applies through an SMS link and skips the host review. The link's token is kept only as its
 * SHA-256 (a database dump opens no invitation); the mobile as the visitors table keeps it (encrypted, blind
 * index, masked). Expiry is the window's end, read from window_end, not a status a timer sets. An application
 * made with one names it; the unique index is the last guard of single use.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('invitations', (t) => {
    t.increments('id');
    t.string('token_hash', 64).notNullable().unique();
    t.integer('host_staff_id').notNullable().references('staff.id');
    t.integer('campus_id').notNullable().references('campuses.id');
    t.integer('department_id').notNullable().references('departments.id');
    t.integer('leader_staff_id').notNullable().references('staff.id');
    t.text('visitor_mobile_enc').notNullable();
    t.string('visitor_mobile_bidx', 64).notNullable();
    t.string('visitor_mobile_masked', 20).notNullable();
    t.string('visitor_name', 50);
    t.date('visit_date').notNullable();
    t.string('visit_start', 5).notNullable();
    t.string('visit_end', 5).notNullable();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.timestamp('window_end', { useTz: true }).notNullable();
    t.string('note', 500);
    t.string('status', 16).notNullable(); // active | used | canceled (expired: active past window_end)
    t.timestamp('used_at', { useTz: true });
    t.timestamp('canceled_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['host_staff_id', 'created_at']);
    t.index(['window_end']);
  });
  await knex.schema.alterTable('applications', (t) => {
    t.integer('invitation_id').references('invitations.id').onDelete('SET NULL');
    t.unique(['invitation_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.dropUnique(['invitation_id']);
    t.dropColumn('invitation_id');
  });
  await knex.schema.dropTableIfExists('invitations');
}
