import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { Middleware } from './context.ts';

/** One structured line per request; the URL's query string is left out because it may carry personal data. */
export function requestLogMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    ctx.state.requestId = crypto.randomUUID();
    // Lets whoever got an error answer find its log line.
    ctx.set('X-Request-Id', ctx.state.requestId);
    try {
      await next();
    } finally {
      logger.info(
        {
          requestId: ctx.state.requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        },
        'request',
      );
    }
  };
}
