import type { Knex } from 'knex';

/**
 * Tables of the Zeebe adapter. The cluster keeps the process state; these hold only what gRPC cannot be asked
 * for later: the user tasks mirrored from their jobs (deduplicated by job key), the events still to be delivered,
 * the incidents the adapter raised, and what it has seen of each instance (Zeebe has no "get instance" call
 * without Operate). Several server processes share them through one PostgreSQL.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('zeebe_processes', (t) => {
    t.string('definition_key', 32).primary();
    t.string('process_id', 255).notNullable();
    t.integer('version').notNullable();
    t.string('name', 255).notNullable();
    /** element id -> name, for user task names (a job carries no element name). */
    t.jsonb('element_names').notNullable();
    t.timestamp('deployed_at', { useTz: true }).notNullable();
    t.index(['process_id', 'version']);
  });
  await knex.schema.createTable('zeebe_instances', (t) => {
    t.string('instance_key', 32).primary();
    t.string('process_id', 255).notNullable();
    t.integer('version').notNullable();
    t.string('definition_key', 32).notNullable();
    /** active | canceling | completed | canceled */
    t.string('status', 16).notNullable();
    /** The variables of the last job or task seen (exact at the end: the end-event job carries them all). */
    t.jsonb('variables').notNullable();
    t.jsonb('history').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('ended_at', { useTz: true });
  });
  await knex.schema.createTable('zeebe_user_tasks', (t) => {
    t.string('job_key', 32).primary();
    t.string('instance_key', 32).notNullable();
    t.string('element_id', 255).notNullable();
    /** open | completing (a completion is in flight) | completed | canceled */
    t.string('state', 16).notNullable();
    t.jsonb('task').notNullable();
    t.timestamp('claimed_until', { useTz: true });
    /** Last heartbeat: the job's lock was renewed (or its absence noticed) at this time. */
    t.timestamp('checked_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['state', 'checked_at']);
    t.index(['instance_key']);
  });
  await knex.schema.createTable('zeebe_incidents', (t) => {
    t.bigIncrements('key');
    t.string('instance_key', 32).notNullable();
    t.string('element_id', 255).notNullable();
    t.string('job_key', 32).notNullable();
    t.string('type', 64).notNullable();
    t.text('message').notNullable();
    /** open | resolved | obsolete (the job went away with its instance) */
    t.string('state', 16).notNullable();
    t.timestamp('checked_at', { useTz: true }).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('resolved_at', { useTz: true });
    t.index(['state', 'instance_key']);
    t.index(['job_key']);
  });
  await knex.schema.createTable('zeebe_events', (t) => {
    t.bigIncrements('id');
    t.string('type', 32).notNullable();
    /** Makes producing an event idempotent: a redelivered job does not announce its task twice. */
    t.string('dedupe_key', 128).notNullable().unique();
    t.jsonb('payload').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('claimed_until', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.index(['delivered_at', 'type', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['zeebe_events', 'zeebe_incidents', 'zeebe_user_tasks', 'zeebe_instances', 'zeebe_processes'])
    await knex.schema.dropTableIfExists(table);
}
