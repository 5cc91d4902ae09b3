import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import knexFactory from 'knex';
import { type Database, type DatabaseKind, migrateLatest, openDatabase } from '../../server/db/database.ts';

/** The server that CI provides; the tests create and drop their own database on it. */
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let postgresReachable: Promise<boolean> | undefined;
async function isPostgresReachable(): Promise<boolean> {
  postgresReachable ??= (async () => {
    const admin = knexFactory({ client: 'pg', connection: TEST_POSTGRES_URL, pool: { min: 0, max: 1 } });
    try {
      await admin.raw('select 1');
      return true;
    } catch {
      return false;
    } finally {
      await admin.destroy();
    }
  })();
  return postgresReachable;
}

/**
 * The back ends every database test runs on. PostgreSQL is required in CI; on a developer machine without
 * one, its tests are left out with a warning rather than failing.
 */
export async function testBackends(): Promise<DatabaseKind[]> {
  if (process.env.VISITFLOW_TEST_BACKENDS) return process.env.VISITFLOW_TEST_BACKENDS.split(',') as DatabaseKind[];
  if (await isPostgresReachable()) return ['pglite', 'postgres'];
  if (process.env.CI) throw new Error(`PostgreSQL is not reachable at ${TEST_POSTGRES_URL}, and CI requires it`);
  console.warn(`PostgreSQL not reachable at ${TEST_POSTGRES_URL}: running the database tests on PGlite only`);
  return ['pglite'];
}

// initdb costs seconds and ~800 MB; loading a dump of a fresh cluster costs about one second.
const templatePath = path.join(os.tmpdir(), 'visitflow-pglite-template-0.5.16.tar.gz');
async function pgliteTemplate(): Promise<Blob> {
  if (!fs.existsSync(templatePath)) {
    const db = new PGlite();
    await db.waitReady;
    const dump = await db.dumpDataDir('gzip');
    await db.close();
    const tmp = `${templatePath}.${process.pid}.${crypto.randomUUID()}`;
    fs.writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    fs.renameSync(tmp, templatePath); // atomic: a concurrent worker sees either no file or a whole one
  }
  return new Blob([fs.readFileSync(templatePath)]);
}

export interface TestDatabase extends Database {
  /** The connection string of the PostgreSQL database created for this test (postgres only). */
  url?: string;
}

/** A fresh, migrated database of the given kind; close() drops it. */
export async function createTestDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  let db: TestDatabase;
  if (kind === 'pglite') {
    db = await openDatabase({ kind: 'pglite', loadDataDir: await pgliteTemplate() });
  } else {
    const name = `vf_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: TEST_POSTGRES_URL, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    await admin.destroy();
    const url = new URL(TEST_POSTGRES_URL);
    url.pathname = `/${name}`;
    const inner = await openDatabase({ kind: 'postgres', url: url.toString() });
    db = {
      ...inner,
      url: url.toString(),
      close: async () => {
        await inner.close();
        const dropper = knexFactory({ client: 'pg', connection: TEST_POSTGRES_URL, pool: { min: 0, max: 1 } });
        try {
          await dropper.raw(`drop database if exists ${name} with (force)`);
        } finally {
          await dropper.destroy();
        }
      },
    };
  }
  if (options.migrate !== false) await migrateLatest(db.knex);
  return db;
}
