import test from 'ava';
import type { Knex } from 'knex';
import { openDatabase } from '../../server/db/database.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';

// What an operator relies on: statements are prepared once per connection (PostgreSQL stops parsing and planning
// them on every run), a pooler that cannot keep prepared statements gets none, and nothing else changes.
async function prepared(knex: Knex): Promise<Array<{ name: string; statement: string }>> {
  return (await knex.raw('select name, statement from pg_prepared_statements')).rows;
}

if ((await testBackends()).includes('postgres')) {
  test('postgres: each statement shape is prepared once per connection, in and out of transactions; DDL and several statements at once are not', async (t) => {
    const db = await createTestDatabase('postgres');
    // One connection, so that every statement below meets the same backend.
    const knex = (await openDatabase({ kind: 'postgres', url: db.url!, pool: { min: 1, max: 1 } })).knex;
    try {
      const [campus] = await knex('campuses').insert({ code: 'P', name: '预备校区' }).returning('*');
      for (let i = 0; i < 3; i++) t.is((await knex('campuses').where({ id: campus.id }).first()).name, '预备校区');
      // Another shape of the same table (a list of ids of another length) is its own statement, with the right answer.
      t.deepEqual((await knex('campuses').whereIn('id', [campus.id, -1]).select('code')).map((r: any) => r.code), ['P']);
      await knex.transaction(async (trx) => {
        await trx('campuses').where({ id: campus.id }).update({ name: '改名校区' });
        t.is((await trx('campuses').where({ id: campus.id }).first()).name, '改名校区');
      });
      await knex.raw('create temporary table scratch (n int); insert into scratch values (1)');
      const statements = (await prepared(knex)).map((p) => p.statement);
      const count = (re: RegExp) => statements.filter((s) => re.test(s)).length;
      t.is(count(/^select \* from "campuses" where "id" = \$1 limit \$2$/), 1, 'the repeated select is prepared once');
      t.is(count(/where "id" in \(\$1, \$2\)/), 1);
      t.is(count(/^update "campuses"/), 1, 'a statement inside a transaction is prepared too');
      t.is(count(/create temporary table|^BEGIN/i), 0);
    } finally {
      await knex.destroy();
      await db.close();
    }
  });

  test('postgres: DB_PREPARED_STATEMENTS=false (a pooler in transaction mode) prepares nothing', async (t) => {
    const db = await createTestDatabase('postgres');
    const knex = (await openDatabase({ kind: 'postgres', url: db.url!, pool: { min: 1, max: 1 }, preparedStatements: false })).knex;
    try {
      for (let i = 0; i < 3; i++) t.is((await knex('campuses').count({ n: '*' }))[0].n, 0);
      t.deepEqual(await prepared(knex), []);
    } finally {
      await knex.destroy();
      await db.close();
    }
  });
}
