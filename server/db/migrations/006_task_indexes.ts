import type { Knex } from 'knex';

/**
 * The task lists are polled by every reviewer and each answer counts all three lists: without these, "mine"
 * and "done" (and their counts) read every task ever made, so a list answer grew with the campus's history
 * (about 30-50 ms of database time per answer at 200,000 past tasks). An application's tasks are read by
 * its view, which waiting visitors poll.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('tasks', (t) => {
    t.index(['claimed_by', 'status']);
    t.index(['completed_by', 'completed_at', 'id']);
    t.index(['application_id', 'status']);
  });
  await knex.schema.alterTable('sms_outbox', (t) => {
    t.index(['application_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sms_outbox', (t) => {
    t.dropIndex(['application_id']);
  });
  await knex.schema.alterTable('tasks', (t) => {
    t.dropIndex(['application_id', 'status']);
    t.dropIndex(['completed_by', 'completed_at', 'id']);
    t.dropIndex(['claimed_by', 'status']);
  });
}
