import { AppError } from '../errors.ts';

/**
 * 503 with Retry-After: the server cannot take this request now. Raised before the request changed anything
 * (no turn, no database connection), so the same request may simply be sent again after the pause.
 */
export class ServerBusyError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    /** Why, for the log line: which limit was reached. */
    readonly reason: string,
  ) {
    super(503, 'SERVER_BUSY', '服务器繁忙，请稍后再试');
    this.name = 'ServerBusyError';
  }
}

/** What a client is told to wait when the database is the bottleneck (a pool wait timed out, a deadlock…). */
export const DATABASE_BUSY_RETRY_AFTER_S = 2;

/**
 * PostgreSQL conditions that mean "not now" rather than "broken": too_many_connections, cannot_connect_now,
 * serialization_failure, deadlock_detected, lock_not_available (the transaction was rolled back, so retrying later
 * is safe), and the server going away under the connection (admin_shutdown, crash_shutdown, connection_failure,
 * connection_does_not_exist, connection_exception: a restart of PostgreSQL, after which the pool reconnects).
 */
const TRANSIENT_SQLSTATES = new Set(['53300', '57P03', '40001', '40P01', '55P03', '57P01', '57P02', '08006', '08003', '08000']);

/** node-pg's own words when the socket under a query closes (no SQLSTATE: the server never answered). */
const CONNECTION_LOST = /^Connection terminated|^terminating connection|Client has encountered a connection error/;

/**
 * Database errors that say the database is overloaded or out of reach for a moment: knex gave up waiting for
 * a pooled connection (or a query timed out), PostgreSQL refused a connection or rolled back a transaction that
 * may run again. These become 503 + Retry-After, never 500 (issue 16).
 */
export function isDatabaseBusy(err: unknown): boolean {
  const e = err as { name?: string; code?: unknown; nativeError?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  // objection wraps the driver's error (DBError) and keeps the original, with its SQLSTATE, as nativeError.
  if (e.nativeError && e.nativeError !== e && isDatabaseBusy(e.nativeError)) return true;
  if (e.name === 'KnexTimeoutError' || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET') return true;
  if (typeof e.code === 'string' && TRANSIENT_SQLSTATES.has(e.code)) return true;
  return CONNECTION_LOST.test(String((e as { message?: unknown }).message ?? ''));
}
