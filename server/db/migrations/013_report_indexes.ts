import type { Knex } from 'knex';

/**
 * The reports (issue 15) read a date range of the campus's history. Without these every report scans whole
 * tables (a million applications, two million tasks and gate events for a busy year). Each index leads with
 * the date the report filters on and carries the columns the report reads, so PostgreSQL answers from the
 * index alone (index-only scan) where it can; see README "Reports" for the figures.
 *
 * Two facts are copied where the reports read them, so that no report joins across three tables:
 * `applications.entered_at` (the first entry at the gate: a no-show is an approved application without one)
 * and `pass_events.department_id` (the visited department: a leader's peak hours). The gate writes both with
 * the event (PassService.record); here they are filled for the events recorded before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('applications', (t) => {
    t.timestamp('entered_at', { useTz: true });
  });
  await knex.schema.alterTable('pass_events', (t) => {
    t.integer('department_id');
  });
  await knex.raw(`update applications a set entered_at = x.at
    from (select p.application_id, min(e.at) as at from pass_events e join passes p on p.id = e.pass_id where e.kind = 'entry' group by 1) x
    where a.id = x.application_id`);
  await knex.raw(`update pass_events e set department_id = a.department_id
    from passes p join applications a on a.id = p.application_id where p.id = e.pass_id`);

  // Visits per day / campus / department and no-shows: by visit date.
  await knex.raw(
    'create index applications_report_visit_idx on applications (visit_date, campus_id, department_id, status) include (window_end, entered_at)',
  );
  // Submission-to-end times: decided applications by submission time.
  await knex.raw(
    'create index applications_report_decided_idx on applications (created_at) include (decided_at, status, campus_id, department_id) where decided_at is not null',
  );
  // Step times: completed review steps by the time the step started. Refusals: the refused ones alone.
  await knex.raw(
    "create index tasks_report_completed_idx on tasks (created_at) include (element_id, completed_at, campus_id, department_id) where status = 'completed'",
  );
  await knex.raw("create index tasks_report_refused_idx on tasks (created_at) where status = 'completed' and result->>'decision' = 'refuse'");
  // Gate entries by time (peak hours), and a pass's events: the gate's "last event" look-up and the retention
  // purge's cascade had no index on pass_id at all.
  await knex.raw("create index pass_events_report_entry_idx on pass_events (at) include (campus_id, department_id) where kind = 'entry'");
  await knex.raw('create index pass_events_pass_idx on pass_events (pass_id, kind)');

  // The daily sums of closed days (server/reports/report.rollup.ts): what a year's reports read instead of the
  // year's rows. `key` is a status, step, hour or step + opinion; `hist` the step's duration histogram.
  await knex.schema.createTable('report_daily', (t) => {
    t.date('day').notNullable();
    t.string('metric', 16).notNullable();
    t.integer('campus_id').notNullable();
    t.integer('department_id').notNullable();
    t.string('key', 600).notNullable();
    t.string('label', 200);
    t.integer('n').notNullable();
    t.jsonb('hist');
    t.primary(['day', 'metric', 'campus_id', 'department_id', 'key']);
  });
  await knex.schema.createTable('report_rollup', (t) => {
    t.integer('id').primary();
    t.date('through');
    t.timestamp('refreshed_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('report_rollup');
  await knex.schema.dropTableIfExists('report_daily');
  for (const name of [
    'pass_events_pass_idx',
    'pass_events_report_entry_idx',
    'tasks_report_refused_idx',
    'tasks_report_completed_idx',
    'applications_report_decided_idx',
    'applications_report_visit_idx',
  ]) {
    await knex.raw(`drop index if exists ${name}`);
  }
  await knex.schema.alterTable('pass_events', (t) => {
    t.dropColumn('department_id');
  });
  await knex.schema.alterTable('applications', (t) => {
    t.dropColumn('entered_at');
  });
}
