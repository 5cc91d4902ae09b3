import type { Knex } from 'knex';
import * as m001 from './001_foundation.ts';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are listed explicitly instead of being found on disk, so that they load the same way under
 * tsx, the test runner and a bundler. Append new ones; never edit one that has shipped.
 */
const migrations: Array<[string, Migration]> = [['001_foundation', m001]];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
