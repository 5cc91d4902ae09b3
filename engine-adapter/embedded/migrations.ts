import type { Knex } from 'knex';

/**
 * Tables of the embedded engine. One row per instance holds the bpmn-engine state; everything an outside
 * party waits on (user tasks, jobs, timers, message subscriptions) is a row of engine_waits, so one query
 * reconciles an instance and the pollers find due work by index.
 */
export async function up(knex: Knex): Promise<void> {
  // hi/lo keys: each engine reserves a block of 1000 keys per nextval, so keys need no round trip each.
  await knex.raw('create sequence engine_key_seq');
  await knex.schema.createTable('engine_definitions', (t) => {
    t.string('key', 32).primary();
    t.string('process_id', 255).notNullable();
    t.integer('version').notNullable();
    t.string('name', 255).notNullable();
    t.string('resource_name', 255).notNullable();
    t.string('checksum', 64).notNullable();
    t.text('xml').notNullable();
    t.timestamp('deployed_at', { useTz: true }).notNullable();
    t.unique(['process_id', 'version']);
  });
  await knex.schema.createTable('engine_instances', (t) => {
    t.string('key', 32).primary();
    t.string('definition_key', 32).notNullable().references('engine_definitions.key');
    t.string('process_id', 255).notNullable();
    t.integer('version').notNullable();
    t.string('status', 16).notNullable();
    t.string('engine_version', 32).notNullable();
    /** bpmn-engine getState() without the model copy, as JSON text (never queried into). */
    t.text('state');
    t.jsonb('variables').notNullable();
    t.jsonb('history').notNullable();
    /** Set while a command is parked behind an incident: no other trigger may move the instance. */
    t.string('parked_incident_key', 32);
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('ended_at', { useTz: true });
    t.index(['process_id', 'status']);
  });
  await knex.schema.createTable('engine_waits', (t) => {
    t.string('key', 32).primary();
    t.string('instance_key', 32).notNullable().references('engine_instances.key').onDelete('CASCADE');
    t.string('element_id', 255).notNullable();
    t.string('execution_id', 255).notNullable();
    t.string('kind', 16).notNullable();
    /** open | activated (job handed to a worker) | failed (job out of retries) | consumed (trigger parked) */
    t.string('state', 16).notNullable();
    t.string('job_type', 255);
    t.integer('retries');
    t.timestamp('due_at', { useTz: true });
    t.timestamp('claimed_until', { useTz: true });
    t.string('message_name', 255);
    t.string('correlation_key', 255);
    t.jsonb('payload').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.unique(['instance_key', 'execution_id']);
    t.index(['kind', 'state', 'due_at']);
    t.index(['message_name', 'correlation_key']);
  });
  await knex.schema.createTable('engine_incidents', (t) => {
    t.string('key', 32).primary();
    t.string('instance_key', 32).notNullable().references('engine_instances.key').onDelete('CASCADE');
    t.string('element_id', 255).notNullable();
    t.string('job_key', 32);
    t.string('type', 64).notNullable();
    t.text('message').notNullable();
    /** The command that failed, replayed by resolveIncident (null for job incidents). */
    t.jsonb('command');
    t.string('state', 16).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('resolved_at', { useTz: true });
    t.index(['instance_key', 'state']);
  });
  await knex.schema.createTable('engine_outbox', (t) => {
    t.bigIncrements('id');
    t.string('type', 32).notNullable();
    t.string('instance_key', 32).notNullable();
    t.jsonb('payload').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('claimed_until', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['type', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('engine_outbox');
  await knex.schema.dropTableIfExists('engine_incidents');
  await knex.schema.dropTableIfExists('engine_waits');
  await knex.schema.dropTableIfExists('engine_instances');
  await knex.schema.dropTableIfExists('engine_definitions');
  await knex.raw('drop sequence if exists engine_key_seq');
}
