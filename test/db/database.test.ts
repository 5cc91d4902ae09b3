import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { openDatabase } from '../../server/db/database.ts';
import { DataDirLockedError } from '../../server/db/file-lock.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';

for (const kind of await testBackends()) {
  test(`${kind}: migrations create the tables; delete and count return numbers`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const [campus] = await db.knex('campuses').insert({ code: 'T', name: '测试校区' }).returning('*');
      t.is(campus.opens_at, '07:00');
      const [{ n }] = await db.knex('campuses').count({ n: '*' });
      t.is(n, 1);
      t.is(await db.knex('campuses').where({ id: campus.id }).del(), 1);
      t.is(await db.knex('campuses').where({ id: campus.id }).del(), 0);
    } finally {
      await db.close();
    }
  });
}

test('pglite: a second opener of the same data directory fails at once with a clear message', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-lock-'));
  const first = await openDatabase({ kind: 'pglite', dataDir: dir });
  try {
    const error = await t.throwsAsync(openDatabase({ kind: 'pglite', dataDir: dir }), {
      instanceOf: DataDirLockedError,
    });
    t.regex(error!.message, /already open in process \d+/);
  } finally {
    await first.close();
  }
  // released on close: the directory opens again and kept its data directory
  const again = await openDatabase({ kind: 'pglite', dataDir: dir });
  await again.close();
  t.true(fs.existsSync(path.join(dir, 'pgdata')));
});
