import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { acquireLock } from './file-lock.ts';
import { migrationSource } from './migrations/index.ts';
import { PgClient } from './pg-client.ts';
import { PgliteClient } from './pglite-client.ts';

// int8 (count(*), bigserial) and numeric come back as strings from pg but as numbers from PGlite: make them agree.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));
// A DATE is a calendar day, not an instant: keep it as 'YYYY-MM-DD' on both back ends.
pg.types.setTypeParser(1082, (v) => v);
const DATE_OID = 1082;

export type DatabaseKind = 'pglite' | 'postgres';

export interface Database {
  kind: DatabaseKind;
  knex: Knex;
  close(): Promise<void>;
  /** PGlite only: the instance, e.g. to dump a template data directory in tests. */
  pglite?: PGlite;
}

export type DatabaseOptions =
  | {
      kind: 'postgres';
      url: string;
      pool?: { min: number; max: number };
      acquireTimeoutMs?: number;
      /** Named prepared statements (PgClient); default on. */
      preparedStatements?: boolean;
    }
  | { kind: 'pglite'; dataDir?: string; loadDataDir?: Blob; acquireTimeoutMs?: number };

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.kind === 'postgres') {
    const knex = knexFactory({
      client: PgClient as any,
      connection: options.url,
      pool: options.pool ?? { min: 0, max: 10 },
      acquireConnectionTimeout: options.acquireTimeoutMs ?? 10_000,
      prepareStatements: options.preparedStatements ?? true,
    } as Knex.Config);
    return { kind: 'postgres', knex, close: () => knex.destroy() };
  }
  let release = () => {};
  if (options.dataDir) {
    fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    release = acquireLock(path.join(options.dataDir, 'pglite.lock'));
  }
  try {
    const pglite = new PGlite(options.dataDir ? path.join(options.dataDir, 'pgdata') : undefined, {
      loadDataDir: options.loadDataDir,
      parsers: { [DATE_OID]: (v: string) => v },
    });
    await pglite.waitReady;
    const knex = knexFactory({
      client: PgliteClient as any,
      connection: () => ({ pglite }) as any,
      acquireConnectionTimeout: options.acquireTimeoutMs ?? 30_000,
    });
    return {
      kind: 'pglite',
      knex,
      pglite,
      close: async () => {
        await knex.destroy();
        if (!pglite.closed) await pglite.close();
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

export async function migrateLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource });
}

/** True when the database answers a trivial query (readiness probe). */
export async function ping(knex: Knex): Promise<boolean> {
  try {
    await knex.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
