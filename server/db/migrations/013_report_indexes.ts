import type { Knex } from 'knex';

/**
 * The reports (issue 15) read a date range of the campus's history. Without these every report scans whole
 * tables (a million applications, two million tasks and gate events for a busy year). Each index leads with
 * the date the report filters on and carries the columns the report reads, so PostgreSQL answers from the
 * index alone (index-only scan) where it can; see README "Reports" for the figures with and without.
 */
export async function up(knex: Knex): Promise<void> {
  // Visits per day / campus / department and the no-show candidates: by visit date.
  await knex.raw(
    'create index applications_report_visit_idx on applications (visit_date, campus_id, department_id, status) include (id, window_end)',
  );
  // Submit-to-end times: decided applications by submission time.
  await knex.raw(
    'create index applications_report_decided_idx on applications (created_at) include (decided_at, status, campus_id, department_id) where decided_at is not null',
  );
  // Step times and refusals: completed review steps by the time the step started.
  await knex.raw(
    'create index tasks_report_completed_idx on tasks (created_at) include (element_id, completed_at, campus_id, department_id) where status = \'completed\'',
  );
  await knex.raw("create index tasks_report_refused_idx on tasks (created_at) where status = 'completed' and result->>'decision' = 'refuse'");
  // Gate entries by time (peak hours), and a pass's events (no-shows; also what the retention purge's cascade
  // and the gate's "last event" look-up need: pass_events had no index on pass_id at all).
  await knex.raw("create index pass_events_report_entry_idx on pass_events (at) include (campus_id, pass_id) where kind = 'entry'");
  await knex.raw('create index pass_events_pass_idx on pass_events (pass_id, kind)');
}

export async function down(knex: Knex): Promise<void> {
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
}
