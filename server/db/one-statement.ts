import type { Knex } from 'knex';

/**
 * Several writes as one statement (data-modifying CTEs): atomic like a transaction, but one round trip instead
 * of one per write plus BEGIN and COMMIT. The writes see the same snapshot, not each other's effects, and no
 * row may be changed by two of them; foreign keys are checked at the end of the statement.
 */
export async function writeTogether(knex: Knex, writes: Knex.QueryBuilder[]): Promise<void> {
  if (writes.length === 1) {
    await writes[0];
    return;
  }
  let statement = knex.queryBuilder();
  writes.forEach((write, i) => {
    statement = statement.with(`w${i}`, write);
  });
  await statement.select(knex.raw('1'));
}
