// knex's PostgreSQL client class, extended by PgClient; knex publishes no types for it.
declare module 'knex/lib/dialects/postgres/index.js' {
  const ClientPG: unknown;
  export default ClientPG;
}
