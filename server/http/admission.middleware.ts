import type { Middleware } from './context.ts';
import { ServerBusyError } from './server-busy.ts';

export interface AdmissionOptions {
  /** API requests one server process works on at once. */
  concurrency: number;
  /** Requests waiting for a turn, at most; the next one is turned away at once. */
  queue: number;
  /** A request that has waited this long for its turn is turned away. */
  maxWaitMs: number;
  /** What a turned-away client is told to wait before it tries again. */
  retryAfterSeconds: number;
}

/**
 * Defaults from the database pool: every request needs a connection for most of its life, so a few requests
 * per connection keep the pool busy without building a queue for it. A longer queue in front of the pool used
 * to end after knex's 10 s acquire timeout in a 500 (issue 16); waiting here is cheap (no connection, no body
 * read yet) and ends, when it must, in a 503 before the pool's timeout could. A burst of 1000 submissions at
 * once on two processes fits in the queue and in the wait.
 */
export function admissionDefaults(poolMax: number): AdmissionOptions {
  return { concurrency: 4 * poolMax, queue: 1000, maxWaitMs: 8000, retryAfterSeconds: 2 };
}

interface Waiter {
  admit(): void;
}

/**
 * Load shedding for one server process: at most `concurrency` requests run, the rest wait in arrival order,
 * and past the queue or the wait a request is refused with ServerBusyError before it has done anything.
 */
export class Admission {
  private active = 0;
  private shed = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly options: AdmissionOptions) {}

  stats(): { active: number; waiting: number; shed: number } {
    return { active: this.active, waiting: this.waiting.length, shed: this.shed };
  }

  /** Resolves with the release of the turn once the request may run; rejects with ServerBusyError. */
  async enter(signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.options.concurrency && this.waiting.length === 0) {
      this.active++;
      return this.release();
    }
    if (this.waiting.length >= this.options.queue) throw this.refuse('queue full');
    await new Promise<void>((resolve, reject) => {
      const leave = (reason: string) => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(this.refuse(reason));
      };
      const onAbort = () => leave('client left while waiting');
      const timer = setTimeout(() => leave('waited too long'), this.options.maxWaitMs);
      const waiter: Waiter = {
        admit: () => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.waiting.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    return this.release();
  }

  /** A finishing request hands its turn straight to the first waiting one, so the limit holds at every moment. */
  private release(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next.admit();
      else this.active--;
    };
  }

  private refuse(reason: string): ServerBusyError {
    this.shed++;
    return new ServerBusyError(this.options.retryAfterSeconds, reason);
  }
}

/** API requests take a turn from the admission; pages, assets and the probes do not (they need no database, or must answer however busy). */
export function admissionMiddleware(admission: Admission): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith('/api/')) return next();
    // A client that gives up while waiting leaves the queue: its request is not worked on for nobody.
    const abandoned = new AbortController();
    const onClose = () => abandoned.abort();
    ctx.res.once('close', onClose);
    let release: () => void;
    try {
      release = await admission.enter(abandoned.signal);
    } finally {
      ctx.res.off('close', onClose);
    }
    try {
      await next();
    } finally {
      release();
    }
  };
}
