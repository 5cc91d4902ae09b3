import type { Knex } from 'knex';

const BLOCK = 1000;

/**
 * Decimal string keys, unique across every engine sharing the database: a sequence hands out blocks (hi) and
 * the engine numbers within its block (lo), so most keys cost no round trip. Always pass the transaction in
 * use: on PGlite a query on another connection inside a transaction never gets one.
 */
export class KeyGenerator {
  private hi = 0;
  private lo = BLOCK;

  async next(db: Knex | Knex.Transaction): Promise<string> {
    if (this.lo >= BLOCK) {
      const result = await db.raw("select nextval('engine_key_seq') as v");
      this.hi = Number(result.rows[0].v);
      this.lo = 0;
    }
    return String(this.hi * BLOCK + this.lo++);
  }
}
