import type { Middleware } from './context.ts';

/**
 * What an answer may load and who may frame it, unless it says otherwise: nothing and nobody. API answers are
 * data, never a document; the pages (static.middleware.ts) and uploaded files (upload.routes.ts) set their own.
 */
export const DEFAULT_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";

/** 180 days: browsers that saw the site over https keep to https. */
export const STRICT_TRANSPORT_SECURITY = 'max-age=15552000';

/**
 * Defaults for every response (set first, so error answers carry them too); API answers with personal data
 * must never be cached by a shared proxy. `hsts`: the site is served over https (COOKIE_SECURE or an https
 * PUBLIC_URL), so browsers are told to use nothing else.
 */
export function securityHeadersMiddleware(options: { hsts?: boolean } = {}): Middleware {
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Content-Security-Policy', DEFAULT_CONTENT_SECURITY_POLICY);
    if (options.hsts) ctx.set('Strict-Transport-Security', STRICT_TRANSPORT_SECURITY);
    if (ctx.path.startsWith('/api/')) ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
