import Router from '@koa/router';
import { AppError } from '../errors.ts';
import type { AppContext, AppState } from '../http/context.ts';
import { STAFF_COOKIE, setSessionCookie } from './session.middleware.ts';
import type { SessionService } from './session.service.ts';
import { SSO_FLOW_TTL_MS, SSO_NEXT_PATHS, type SsoService } from './sso.service.ts';

/** The state of a started sign-in, for its callback only. */
export const SSO_COOKIE = 'vf_sso';
const COOKIE_PATH = '/api/staff/sso';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * A refused callback: the provider sent a browser here, so it gets a page it can read (and a way back);
 * a client asking for JSON gets the usual error body. Same status and code either way.
 */
function refuse(ctx: AppContext, err: AppError, next: string) {
  if (ctx.accepts('json', 'html') !== 'html') throw err;
  ctx.status = err.status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>统一身份认证登录失败</title></head><body><h1>统一身份认证登录失败</h1><p id="sso-error" data-code="${escapeHtml(err.code)}">${escapeHtml(err.message)}</p><p>错误代码：${escapeHtml(err.code)}</p><p><a href="${escapeHtml(next)}">返回登录页</a></p></body></html>`;
}

export function ssoRoutes(sso: SsoService, sessions: SessionService, secureCookies: boolean) {
  const router = new Router<AppState>();

  /** What the login screens show: the SSO button, the password form, or both. */
  router.get('/api/staff/sso', (ctx) => {
    ctx.body = { mode: sso.mode, localPasswords: sso.localPasswords };
  });

  router.get('/api/staff/sso/start', async (ctx) => {
    const wanted = typeof ctx.query.next === 'string' ? ctx.query.next : '/staff/';
    const next = (SSO_NEXT_PATHS as readonly string[]).includes(wanted) ? wanted : '/staff/';
    const { url, state } = await sso.start(next);
    ctx.cookies.set(SSO_COOKIE, state, { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: COOKIE_PATH, maxAge: SSO_FLOW_TTL_MS, overwrite: true });
    ctx.redirect(url);
  });

  router.get('/api/staff/sso/callback', async (ctx) => {
    const cookieState = ctx.cookies.get(SSO_COOKIE);
    // The state is for this one callback, whatever comes of it.
    if (cookieState) ctx.cookies.set(SSO_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: secureCookies, path: COOKIE_PATH, expires: new Date(0), overwrite: true });
    let result: Awaited<ReturnType<SsoService['finish']>>;
    try {
      result = await sso.finish(ctx.query, ctx.querystring, cookieState);
    } catch (err) {
      if (err instanceof AppError) return refuse(ctx, err, '/staff/');
      throw err;
    }
    const { token, lifetimeMs } = await sessions.create('staff', result.staff.id);
    setSessionCookie(ctx, STAFF_COOKIE, token, secureCookies, lifetimeMs);
    ctx.redirect(result.next);
  });

  return router;
}
