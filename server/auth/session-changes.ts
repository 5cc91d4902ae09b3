import type { Knex } from 'knex';
import type { Logger } from '../logger.ts';
import type { SessionCache } from './session-cache.ts';

/** The channel migration 019's triggers notify on. */
export const SESSION_CHANGES_CHANNEL = 'visitflow_sessions';

/**
 * Listens, on a PostgreSQL connection of its own (outside the pool), for the session and staff changes that the
 * triggers of migration 019 announce, and hands them to the SessionCache. Only while it listens does the cache
 * keep anything; when the connection is lost the cache is emptied and off, and the listener connects again.
 * Not started on PGlite: one process there, and the cache stays off (every request reads its session).
 */
export class SessionChanges {
  private connection: any;
  private stopped = false;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly deps: { knex: Knex; cache: SessionCache; logger: Logger; retryMs?: number },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.deps.cache.setListening(false);
    const connection = this.connection;
    this.connection = undefined;
    await connection?.end().catch(() => {});
  }

  /** Whether notices are being heard (the cache is on). */
  get listening(): boolean {
    return this.connection !== undefined;
  }

  private async connect(): Promise<void> {
    let connection: any;
    try {
      connection = await (this.deps.knex.client as any).acquireRawConnection();
      connection.on('notification', (message: { channel: string; payload?: string }) => {
        if (message.channel === SESSION_CHANGES_CHANNEL) this.deps.cache.changed(message.payload ?? 'all');
      });
      const lost = (err?: Error) => {
        if (this.connection !== connection) return;
        this.connection = undefined;
        this.deps.cache.setListening(false);
        connection.end().catch(() => {});
        if (this.stopped) return;
        this.deps.logger.warn({ err }, 'lost the session-change listener; sessions are read on every request until it is back');
        this.scheduleRetry();
      };
      connection.on('error', lost);
      connection.on('end', () => lost());
      await connection.query(`listen ${SESSION_CHANGES_CHANNEL}`);
      if (this.stopped) {
        await connection.end();
        return;
      }
      this.connection = connection;
      this.deps.cache.setListening(true);
    } catch (err) {
      connection?.end().catch(() => {});
      if (this.stopped) return;
      this.deps.logger.warn({ err }, 'could not listen for session changes; sessions are read on every request until it can');
      this.scheduleRetry();
    }
  }

  private scheduleRetry() {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.deps.retryMs ?? 2_000);
    this.retry.unref();
  }
}
