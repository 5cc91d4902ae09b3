import crypto from 'node:crypto';
import { AppError } from '../errors.ts';
import type { Middleware } from '../http/context.ts';

export const CSRF_COOKIE = 'vf_csrf';
export const CSRF_HEADER = 'x-csrf-token';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Signed double-submit token: a cookie readable by our own scripts that must be echoed in a header on every
 * state-changing request. Another site can neither read the cookie nor set the header; the signature stops a
 * sibling sub-domain from planting a token of its own.
 */
export function csrfMiddleware(secret: Buffer, secure: boolean): Middleware {
  const sign = (nonce: string) => crypto.createHmac('sha256', secret).update(`csrf:${nonce}`).digest('base64url');
  const valid = (token: string | undefined): token is string => {
    if (!token) return false;
    const [nonce, mac] = token.split('.');
    if (!nonce || !mac) return false;
    const expected = Buffer.from(sign(nonce));
    const given = Buffer.from(mac);
    return expected.length === given.length && crypto.timingSafeEqual(expected, given);
  };
  return async (ctx, next) => {
    let token = ctx.cookies.get(CSRF_COOKIE);
    if (!valid(token)) {
      const nonce = crypto.randomBytes(18).toString('base64url');
      token = `${nonce}.${sign(nonce)}`;
      ctx.cookies.set(CSRF_COOKIE, token, { httpOnly: false, sameSite: 'strict', secure, path: '/', overwrite: true });
      if (!SAFE.has(ctx.method)) {
        throw new AppError(403, 'CSRF_TOKEN_INVALID', '页面已过期，请刷新后重试');
      }
    }
    if (!SAFE.has(ctx.method)) {
      const header = ctx.get(CSRF_HEADER);
      const a = Buffer.from(header);
      const b = Buffer.from(token);
      if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
        throw new AppError(403, 'CSRF_TOKEN_INVALID', '页面已过期，请刷新后重试');
      }
    }
    ctx.state.csrfToken = token;
    await next();
  };
}
