import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Who changed what and when; before/after are masked snapshots (never a clear ID number or mobile).
  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('id');
    t.timestamp('at', { useTz: true }).notNullable();
    t.integer('actor_id');
    t.string('actor_name', 100);
    t.string('action', 64).notNullable();
    t.string('target_type', 32).notNullable();
    t.string('target_id', 100);
    t.jsonb('before');
    t.jsonb('after');
    t.index(['at']);
    t.index(['target_type', 'target_id']);
  });
  // What the retention purge leaves of a deleted application: anonymous counts for reports.
  await knex.schema.createTable('report_counts', (t) => {
    t.date('day').notNullable(); // the visit date
    t.integer('campus_id').notNullable();
    t.integer('department_id').notNullable();
    t.string('status', 16).notNullable();
    t.integer('count').notNullable();
    t.primary(['day', 'campus_id', 'department_id', 'status']);
  });
  // An administrator's form version must survive a restart: the shipped files never replace it.
  await knex.schema.alterTable('form_versions', (t) => {
    t.integer('created_by');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('form_versions', (t) => {
    t.dropColumn('created_by');
  });
  await knex.schema.dropTableIfExists('report_counts');
  await knex.schema.dropTableIfExists('audit_log');
}
