import type { Session, SessionKind } from './session.service.ts';

export interface CachedSession<S = unknown> {
  session: Session;
  /** What the request needs of the session's subject (a staff member's roles, ...); null for a visitor. */
  subject: S | null;
}

interface Entry extends CachedSession {
  readAt: number;
}

export interface SessionCacheOptions {
  /** How long an entry is used at most, even when no change was heard (0: nothing is kept). */
  ttlMs: number;
  maxEntries: number;
  now: () => number;
}

/**
 * The sessions this process has read, so that a request does not read its session again on every call (one
 * statement of the two or three that a polled page costs). It holds only while the database's change notices
 * reach this process (SessionChanges, triggers of migration 019): a logout, a purge, a staff member's new roles or
 * deactivation, in any process, drops the entries they touch; while no notice can be heard (no listener yet, or
 * its connection is lost) nothing is kept and every request reads the database, as without the cache.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  /** Moves on every change heard: a read begun before a change must not put what it read. */
  private generation = 0;
  private listening = false;

  constructor(private readonly options: SessionCacheOptions) {}

  /** Taken before reading the database; handed back to put(). */
  stamp(): number {
    return this.generation;
  }

  get(kind: SessionKind, id: string): CachedSession | undefined {
    const entry = this.entries.get(id);
    if (!entry || entry.session.kind !== kind) return undefined;
    if (this.options.now() - entry.readAt > this.options.ttlMs) {
      this.entries.delete(id);
      return undefined;
    }
    return entry;
  }

  put(stamp: number, value: CachedSession): void {
    if (!this.listening || stamp !== this.generation || this.options.ttlMs <= 0) return;
    // The oldest entry goes first (a Map keeps insertion order).
    if (this.entries.size >= this.options.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(value.session.id, { ...value, readAt: this.options.now() });
  }

  /** A change notice: `session:<id>`, `staff:<id>` (that staff member's sessions) or anything else (all). */
  changed(notice: string): void {
    this.generation++;
    if (notice.startsWith('session:')) {
      this.entries.delete(notice.slice('session:'.length));
    } else if (notice.startsWith('staff:') || notice.startsWith('visitor:')) {
      const [kind, id] = notice.split(':');
      for (const [key, entry] of this.entries) {
        if (entry.session.kind === kind && entry.session.subjectId === Number(id)) this.entries.delete(key);
      }
    } else {
      this.entries.clear();
    }
  }

  /** Whether change notices reach this process; when they stop (or start), everything kept is dropped. */
  setListening(listening: boolean): void {
    this.listening = listening;
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
