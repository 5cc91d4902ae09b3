import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';

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
    if (!token || token.length > 100) return null;
    return this.live(kind, await this.knex('sessions').where({ id: hashToken(token), kind }).first());
  }

  /** The session of a row read by its token, unless there is none or it has expired. */
  private live(kind: SessionKind, row: any): Session | null {
    if (!row || new Date(row.expires_at) <= this.clock.now()) return null;
    return { id: row.id, kind, subjectId: row.subject_id, expiresAt: new Date(row.expires_at) };
  }

  /**
   * resolve() together with the session's subject, read from `table` by id in the same round trip (every
   * staff request needs both). The subject is the row as JSON column values; null when it is gone.
   */
  async resolveWithSubject(kind: SessionKind, token: string | undefined, table: string): Promise<{ session: Session; subject: any } | null> {
    if (!token || token.length > 100) return null;
    const row = await this.knex('sessions')
      .leftJoin({ subject: table }, 'subject.id', 'sessions.subject_id')
      .where({ 'sessions.id': hashToken(token), 'sessions.kind': kind })
      .select('sessions.*', this.knex.raw('to_json(subject) as subject_row'))
      .first();
    const session = this.live(kind, row);
    return session && { session, subject: row.subject_row ?? null };
  }

  async destroy(sessionId: string): Promise<void> {
    await this.knex('sessions').where({ id: sessionId }).del();
  }

  async destroyAllFor(kind: SessionKind, subjectId: number): Promise<void> {
    await this.knex('sessions').where({ kind, subject_id: subjectId }).del();
  }

  async purgeExpired(): Promise<number> {
    return this.knex('sessions').where('expires_at', '<=', this.clock.now()).del();
  }
}
