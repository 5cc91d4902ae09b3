import crypto from 'node:crypto';
// knex's own PostgreSQL client, extended below (knex publishes no types for subclassing it).
import ClientPG from 'knex/lib/dialects/postgres/index.js';

/** Statements that may be prepared: one DML statement (utility statements and several at once may not). */
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b[^;]*$/i;
/**
 * Prepared statements kept per connection. PostgreSQL keeps each one's parse tree and plans in the backend until
 * the connection closes; the statements of the visit flow are a few dozen shapes, and what comes after the cap
 * (rare admin shapes, lists of varying length) runs unnamed as before.
 */
const MAX_PER_CONNECTION = 150;

// Module state, not instance fields: knex makes a transaction's client with Object.create(prototype), without them.
/** Statement name by SQL text; null for a text that is not preparable. */
const names = new Map<string, string | null>();
/** knex's `?` -> `$n` rewrite by SQL text (see positionBindings). */
const positioned = new Map<string, string>();
/** Bound on both maps: a flow uses a few dozen texts; what is built with varying lists (admin pages) must not pile up. */
const MAX_TEXTS = 10_000;
const preparedOn = new WeakMap<object, Set<string>>();

/**
 * knex's PostgreSQL client, with every DML statement run as a named prepared statement (pg's `name`):
 * PostgreSQL parses and plans a statement once per connection instead of on every run. Measured on the polled
 * application view (a statement with six subqueries): PostgreSQL's CPU per request 2.5 ms -> 0.4 ms, the server's
 * 2.3 -> 1.4 ms. The name is a hash of the SQL text: knex writes bindings as $n, so one code path is one text,
 * and a text never meets a name that pg bound to another. Off with DB_PREPARED_STATEMENTS=false (PgBouncer in
 * transaction mode before 1.21 cannot keep prepared statements).
 */
export class PgClient extends (ClientPG as any) {
  _query(connection: object, obj: { sql: string; options?: Record<string, unknown> }) {
    const name = (this as any).config.prepareStatements !== false && !obj.options?.name ? statementName(obj.sql) : null;
    if (name) {
      let prepared = preparedOn.get(connection);
      if (!prepared) preparedOn.set(connection, (prepared = new Set()));
      if (prepared.has(name) || prepared.size < MAX_PER_CONNECTION) {
        prepared.add(name);
        obj.options = { ...obj.options, name };
      }
    }
    return super._query(connection, obj);
  }

  /**
   * knex rewrites every statement's `?` to `$n` with a regular expression over its whole text, on every run: for
   * the engine's long commands that was one of knex's largest items in the flow bench's profiles (0.8% of the busy
   * CPU). One code path is one text, so the rewrite is kept per text.
   */
  positionBindings(sql: string): string {
    return keptPerText(positioned, sql, () => super.positionBindings(sql) as string);
  }
}

function statementName(sql: string): string | null {
  const name = () => `vf_${crypto.createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
  return keptPerText(names, sql, () => (PREPARABLE.test(sql) ? name() : null));
}

/** What `make` gives for an SQL text, made once per text; the map is emptied when it reaches MAX_TEXTS. */
function keptPerText<T>(kept: Map<string, T>, sql: string, make: () => T): T {
  let value = kept.get(sql);
  if (value === undefined) {
    value = make();
    if (kept.size >= MAX_TEXTS) kept.clear();
    kept.set(sql, value);
  }
  return value;
}
