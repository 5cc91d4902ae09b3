import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  // Form.io forms are versioned like processes: a running application keeps the form it started with.
  await knex.schema.createTable('form_versions', (t) => {
    t.increments('id');
    t.string('form_key', 100).notNullable();
    t.integer('version').notNullable();
    t.string('checksum', 64).notNullable();
    t.jsonb('schema').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['form_key', 'version']);
  });
  // The server's own record of deployments: Zeebe offers no query for them without Operate.
  await knex.schema.createTable('process_deployments', (t) => {
    t.string('process_definition_key', 64).primary();
    t.string('process_id', 100).notNullable();
    t.integer('version').notNullable();
    t.string('name', 200);
    t.text('xml').notNullable();
    t.string('start_form_key', 100);
    t.integer('deployed_by');
    t.timestamp('deployed_at', { useTz: true }).notNullable();
    t.unique(['process_id', 'version']);
  });
  // Which form versions a deployed process version uses (pinned at deploy time).
  await knex.schema.createTable('process_forms', (t) => {
    t.string('process_definition_key', 64).notNullable();
    t.string('form_key', 100).notNullable();
    t.integer('form_version').notNullable();
    t.primary(['process_definition_key', 'form_key']);
  });
  await knex.raw('create sequence if not exists application_flow_seq');
  await knex.schema.createTable('applications', (t) => {
    t.increments('id');
    t.string('flow_number', 32).notNullable().unique();
    t.integer('visitor_id').notNullable().references('visitors.id').onDelete('CASCADE');
    t.integer('campus_id').notNullable().references('campuses.id');
    t.integer('department_id').notNullable().references('departments.id');
    t.integer('host_staff_id').notNullable().references('staff.id');
    t.integer('leader_staff_id').references('staff.id');
    t.date('visit_date').notNullable();
    t.string('visit_start', 5).notNullable();
    t.string('visit_end', 5).notNullable();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.timestamp('window_end', { useTz: true }).notNullable();
    t.string('plate_number', 16);
    t.jsonb('data').notNullable(); // validated form data; never a clear ID number or mobile
    // submitted (accepted, instance not started yet) -> pending -> approved | refused | expired | withdrawn
    t.string('status', 16).notNullable().index();
    t.string('process_id', 100).notNullable();
    t.integer('process_version');
    t.string('process_definition_key', 64);
    t.string('instance_key', 64).unique();
    t.string('form_key', 100).notNullable();
    t.integer('form_version').notNullable();
    t.text('last_opinion');
    t.timestamp('decided_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['visitor_id', 'created_at']);
  });
  await knex.schema.createTable('application_events', (t) => {
    t.bigIncrements('id');
    t.integer('application_id').notNullable().references('applications.id').onDelete('CASCADE');
    t.timestamp('at', { useTz: true }).notNullable();
    t.string('kind', 32).notNullable();
    t.string('title', 200).notNullable();
    t.string('actor', 100);
    t.text('opinion');
    t.string('dedupe_key', 128).unique();
    t.index(['application_id', 'at']);
  });
  await knex.schema.createTable('tasks', (t) => {
    t.increments('id');
    t.string('task_key', 64).notNullable().unique(); // engine key: events are at-least-once
    t.string('instance_key', 64).notNullable().index();
    t.integer('application_id').references('applications.id').onDelete('CASCADE');
    t.string('element_id', 100).notNullable();
    t.string('name', 200).notNullable();
    t.string('form_key', 100);
    t.string('assignee', 64);
    t.jsonb('candidate_groups').notNullable().defaultTo('[]');
    t.jsonb('candidate_users').notNullable().defaultTo('[]');
    t.string('status', 16).notNullable().defaultTo('open'); // open | completed | canceled
    t.integer('claimed_by').references('staff.id');
    t.timestamp('claimed_at', { useTz: true });
    t.jsonb('draft');
    t.jsonb('result');
    t.integer('completed_by').references('staff.id');
    t.timestamp('completed_at', { useTz: true });
    t.timestamp('due_at', { useTz: true });
    t.integer('campus_id');
    t.integer('department_id');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['status', 'assignee']);
    t.index(['status', 'department_id']);
  });
  await knex.schema.createTable('uploads', (t) => {
    t.uuid('id').primary();
    t.integer('visitor_id').notNullable().references('visitors.id').onDelete('CASCADE');
    t.integer('application_id').references('applications.id').onDelete('SET NULL');
    t.string('original_name', 255).notNullable();
    t.string('mime', 64).notNullable();
    t.integer('size').notNullable();
    t.string('storage_name', 100).notNullable();
    t.string('sha256', 64).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['application_id']);
  });
  await knex.schema.createTable('sms_outbox', (t) => {
    t.bigIncrements('id');
    t.string('dedupe_key', 160).notNullable().unique(); // e.g. job key: one message per job, ever
    t.text('recipient_enc').notNullable();
    t.string('recipient_masked', 20).notNullable();
    t.string('template', 50).notNullable();
    t.text('body').notNullable();
    t.integer('application_id').references('applications.id').onDelete('CASCADE');
    t.string('status', 16).notNullable().defaultTo('pending'); // pending | sent | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable();
    t.text('last_error');
    t.string('provider_message_id', 100);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('sent_at', { useTz: true });
    t.index(['status', 'next_attempt_at']);
  });
  await knex.schema.createTable('passes', (t) => {
    t.increments('id');
    t.integer('application_id').notNullable().unique().references('applications.id').onDelete('CASCADE');
    t.string('short_code', 16).notNullable().unique();
    t.integer('campus_id').notNullable().references('campuses.id');
    t.timestamp('valid_from', { useTz: true }).notNullable();
    t.timestamp('valid_until', { useTz: true }).notNullable();
    t.string('plate_number', 16);
    t.string('status', 16).notNullable().defaultTo('active'); // active | revoked
    t.timestamp('revoked_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
  });
  await knex.schema.createTable('pass_events', (t) => {
    t.bigIncrements('id');
    t.integer('pass_id').notNullable().references('passes.id').onDelete('CASCADE');
    t.string('kind', 16).notNullable(); // entry | exit
    t.integer('guard_id').references('staff.id');
    t.integer('campus_id');
    t.timestamp('at', { useTz: true }).notNullable();
  });
  // Texts an administrator changes: review notice, stock opinions, SMS templates, retention.
  await knex.schema.createTable('settings', (t) => {
    t.string('key', 100).primary();
    t.jsonb('value').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'settings',
    'pass_events',
    'passes',
    'sms_outbox',
    'uploads',
    'tasks',
    'application_events',
    'applications',
    'process_forms',
    'process_deployments',
    'form_versions',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.raw('drop sequence if exists application_flow_seq');
}
