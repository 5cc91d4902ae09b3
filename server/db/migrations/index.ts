import type { Knex } from 'knex';
import * as m002 from '../../../engine-adapter/embedded/migrations.ts';
import * as m007 from '../../../engine-adapter/embedded/revision.migration.ts';
import * as m008 from '../../../engine-adapter/zeebe/end-probe.migration.ts';
import * as m005 from '../../../engine-adapter/zeebe/migrations.ts';
import * as m001 from './001_foundation.ts';
import * as m003 from './003_flow.ts';
import * as m004 from './004_admin.ts';
import * as m006 from './006_task_indexes.ts';
import * as m009 from './009_sms_params.ts';
import * as m010wechat from './010_staff_wechat_openid.ts';
import * as m011watch from './011_watch_list.ts';
import * as m012sso from './012_staff_sso_subject.ts';
import * as m013reports from './013_report_indexes.ts';
import * as m014gates from './014_gates_on_campus.ts';
import * as m016integrations from './016_integration_settings.ts';
import * as m017invitations from './017_invitations.ts';
import * as m018groups from './018_group_visits.ts';
import * as m019sessions from './019_session_changes.ts';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are listed explicitly instead of being found on disk, so that they load the same way under
 * tsx, the test runner and a bundler. Append new ones; never edit one that has shipped.
 */
const migrations: Array<[string, Migration]> = [
  ['001_foundation', m001],
  ['002_engine', m002],
  ['003_flow', m003],
  ['004_admin', m004],
  ['005_zeebe', m005],
  ['006_task_indexes', m006],
  ['007_engine_revision', m007],
  ['008_zeebe_end_probe', m008],
  ['009_sms_params', m009],
  ['010_staff_wechat_openid', m010wechat],
  ['011_watch_list', m011watch],
  ['012_staff_sso_subject', m012sso],
  ['013_report_indexes', m013reports],
  ['014_gates_on_campus', m014gates],
  ['016_integration_settings', m016integrations],
  ['017_invitations', m017invitations],
  ['018_group_visits', m018groups],
  ['019_session_changes', m019sessions],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
