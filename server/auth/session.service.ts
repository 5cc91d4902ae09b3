import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { CachedSession, SessionCache } from './session-cache.ts';

export type SessionKind = 'visitor' | 'staff';

export interface Session {
  id: string;
  kind: SessionKind;
  subjectId: number;
  expiresAt: Date;
}

const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');

/** Database sessions, so any server process behind a load balancer can serve any request. */
export class SessionService {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly ttlMs: Record<SessionKind, number> = { visitor: 12 * 3600_000, staff: 8 * 3600_000 },
    /** Sessions read before, kept while their changes can be heard (see SessionCache); none: always read. */
    private readonly cache?: SessionCache,
  ) {}

  /** `lifetimeMs`: for the cookie, whose expiry the browser judges by its own clock, not the server's. */
  async create(kind: SessionKind, subjectId: number): Promise<{ token: string; session: Session; lifetimeMs: number }> {
    const token = crypto.randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const session: Session = {
      id: hashToken(token),
      kind,
      subjectId,
      expiresAt: new Date(now.getTime() + this.ttlMs[kind]),
    };
    await this.knex('sessions').insert({
      id: session.id,
      kind,
      subject_id: subjectId,
      created_at: now,
      expires_at: session.expiresAt,
    });
    return { token, session, lifetimeMs: this.ttlMs[kind] };
  }

  async resolve(kind: SessionKind, token: string | undefined): Promise<Session | null> {
    const found = await this.throughCache(kind, token, async (id) => {
      const session = this.live(kind, await this.knex('sessions').where({ id, kind }).first());
      return session && { session, subject: null };
    });
    return found?.session ?? null;
  }

  /**
   * resolve() together with the session's subject, read from `table` by id in the same round trip (every
   * staff request needs both). `pick` takes what is needed from the row (as JSON column values): only that is
   * kept in the cache, never the whole row. The subject is null when the row is gone.
   */
  resolveWithSubject<S>(
    kind: SessionKind,
    token: string | undefined,
    table: string,
    pick: (row: any) => S,
  ): Promise<CachedSession<S> | null> {
    return this.throughCache(kind, token, async (id) => {
      const row = await this.knex('sessions')
        .leftJoin({ subject: table }, 'subject.id', 'sessions.subject_id')
        .where({ 'sessions.id': id, 'sessions.kind': kind })
        .select('sessions.*', this.knex.raw('to_json(subject) as subject_row'))
        .first();
      const session = this.live(kind, row);
      return session && { session, subject: row.subject_row ? pick(row.subject_row) : null };
    });
  }

  /** The session of `token` from the cache, else as `read` finds it by the token's hash (then kept). */
  private async throughCache<S>(
    kind: SessionKind,
    token: string | undefined,
    read: (id: string) => Promise<CachedSession<S> | null>,
  ): Promise<CachedSession<S> | null> {
    if (!token || token.length > 100) return null;
    const id = hashToken(token);
    const cached = this.cache?.get(kind, id) as CachedSession<S> | undefined;
    if (cached) return this.unexpired(cached.session) && cached;
    const stamp = this.cache?.stamp() ?? 0;
    const found = await read(id);
    if (found) this.cache?.put(stamp, found);
    return found;
  }

  private unexpired(session: Session): Session | null {
    return session.expiresAt > this.clock.now() ? session : null;
  }

  /** The session of a row read by its token, unless there is none or it has expired. */
  private live(kind: SessionKind, row: any): Session | null {
    return row ? this.unexpired({ id: row.id, kind, subjectId: row.subject_id, expiresAt: new Date(row.expires_at) }) : null;
  }

  // The other processes hear of a deleted session from the database (migration 019); this one forgets it at once.
  async destroy(sessionId: string): Promise<void> {
    await this.knex('sessions').where({ id: sessionId }).del();
    this.cache?.changed(`session:${sessionId}`);
  }

  async destroyAllFor(kind: SessionKind, subjectId: number): Promise<void> {
    await this.knex('sessions').where({ kind, subject_id: subjectId }).del();
    this.cache?.changed(`${kind}:${subjectId}`);
  }

  /** A staff member's roles, department, name or state changed (in this process: the others hear it). */
  subjectChanged(kind: SessionKind, subjectId: number): void {
    this.cache?.changed(`${kind}:${subjectId}`);
  }

  async purgeExpired(): Promise<number> {
    return this.knex('sessions').where('expires_at', '<=', this.clock.now()).del();
  }
}
