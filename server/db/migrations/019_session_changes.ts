import type { Knex } from 'knex';

/**
 * Every server process keeps the sessions it has read (server/auth/session-cache.ts) and must hear when one ends
 * or its staff member changes, whichever process or tool made the change: triggers send it on the channel
 * `visitflow_sessions` (server/auth/session-changes.ts listens), with the commit, not before.
 * - a statement that deletes or updates sessions: `session:<id>` when it touched one, `all` when it touched
 *   more (the expired-session purge), so a purge sends one notice, not one per row;
 * - a staff row updated or deleted (roles, department, active, name): `staff:<id>`.
 */
const SESSIONS_CHANGED = `
create or replace function visitflow_sessions_changed() returns trigger language plpgsql as $$
declare
  touched int;
  one text;
begin
  select count(*), min(id) into touched, one from gone;
  if touched = 1 then
    perform pg_notify('visitflow_sessions', 'session:' || one);
  elsif touched > 1 then
    perform pg_notify('visitflow_sessions', 'all');
  end if;
  return null;
end $$`;

const STAFF_CHANGED = `
create or replace function visitflow_staff_changed() returns trigger language plpgsql as $$
begin
  perform pg_notify('visitflow_sessions', 'staff:' || old.id);
  return null;
end $$`;

export async function up(knex: Knex): Promise<void> {
  // One statement per call: PGlite runs each through the extended protocol.
  await knex.raw(SESSIONS_CHANGED);
  await knex.raw(STAFF_CHANGED);
  // A trigger with a transition table has one event: deletes and updates get one each.
  await knex.raw(
    'create trigger sessions_deleted after delete on sessions referencing old table as gone for each statement execute function visitflow_sessions_changed()',
  );
  await knex.raw(
    'create trigger sessions_updated after update on sessions referencing old table as gone for each statement execute function visitflow_sessions_changed()',
  );
  await knex.raw('create trigger staff_changed after update or delete on staff for each row execute function visitflow_staff_changed()');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger if exists staff_changed on staff');
  await knex.raw('drop trigger if exists sessions_updated on sessions');
  await knex.raw('drop trigger if exists sessions_deleted on sessions');
  await knex.raw('drop function if exists visitflow_staff_changed()');
  await knex.raw('drop function if exists visitflow_sessions_changed()');
}
