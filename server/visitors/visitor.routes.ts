import Router from '@koa/router';
import { clearSessionCookie, requireVisitor, setSessionCookie, VISITOR_COOKIE } from '../auth/session.middleware.ts';
import type { SessionService } from '../auth/session.service.ts';
import { notFound } from '../errors.ts';
import type { AppState } from '../http/context.ts';
import { publicVisitor } from './visitor.model.ts';
import { loginSchema, registrationSchema, type VisitorService } from './visitor.service.ts';

export function visitorRoutes(visitors: VisitorService, sessions: SessionService, secureCookies: boolean) {
  const router = new Router<AppState>({ prefix: '/api/visitors' });

  router.post('/register', async (ctx) => {
    const visitor = await visitors.register(registrationSchema.parse(ctx.request.body ?? {}), ctx.ip);
    const { token, lifetimeMs } = await sessions.create('visitor', visitor.id);
    setSessionCookie(ctx, VISITOR_COOKIE, token, secureCookies, lifetimeMs);
    ctx.status = 201;
    ctx.body = { visitor: publicVisitor(visitor) };
  });

  router.post('/login', async (ctx) => {
    const visitor = await visitors.login(loginSchema.parse(ctx.request.body ?? {}), ctx.ip);
    const { token, lifetimeMs } = await sessions.create('visitor', visitor.id);
    setSessionCookie(ctx, VISITOR_COOKIE, token, secureCookies, lifetimeMs);
    ctx.body = { visitor: publicVisitor(visitor) };
  });

  router.post('/logout', async (ctx) => {
    if (ctx.state.visitor) await sessions.destroy(ctx.state.visitor.sessionId);
    clearSessionCookie(ctx, VISITOR_COOKIE, secureCookies);
    ctx.status = 204;
  });

  router.get('/me', async (ctx) => {
    const visitor = await visitors.find(requireVisitor(ctx).id);
    if (!visitor) throw notFound('VISITOR_NOT_FOUND', '账号不存在');
    ctx.body = { visitor: publicVisitor(visitor) };
  });

  return router;
}
