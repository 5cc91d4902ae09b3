import ClientPgLite from 'knex-pglite';

/**
 * knex-pglite reports the knex method name ("del") as the SQL command, so knex's postgres dialect
 * does not recognise a DELETE and returns the raw response instead of the affected-row count.
 */
export class PgliteClient extends (ClientPgLite as any) {
  processResponse(obj: any, runner: any) {
    if (obj?.method === 'del') return super.processResponse({ ...obj, method: 'delete' }, runner);
    return super.processResponse(obj, runner);
  }
}
