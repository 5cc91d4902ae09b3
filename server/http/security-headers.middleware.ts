import type { Middleware } from './context.ts';

/** Defaults for every response (set first, so error answers carry them too); API answers with personal data must never be cached by a shared proxy. */
export function securityHeadersMiddleware(): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('X-Frame-Options', 'DENY');
    if (ctx.path.startsWith('/api/')) ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
