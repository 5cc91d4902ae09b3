import Router from '@koa/router';
import { z } from 'zod';
import { requireVisitor } from '../auth/session.middleware.ts';
import type { AppState } from '../http/context.ts';
import { idParam } from '../http/id-param.ts';
import type { PassService } from '../passes/pass.service.ts';
import type { CompanionService } from './companion.service.ts';

export const passLinkSchema = z.object({ token: z.string({ error: '通行码链接无效，请核对短信中的链接' }).trim().max(64, '通行码链接无效，请核对短信中的链接') });

/** A corrected mobile for the companion (optional): the link goes there, and it replaces the one given before. */
export const resendSchema = z.object({ mobile: z.string({ error: '请填写正确的11位手机号' }).max(20, '请填写正确的11位手机号').optional() });

/**
 * A companion's pass page (group visits): no login, the token of his SMS link is the only key. POST with the token in
 * the body, not in the path: the request log records paths, and the token must not be written anywhere.
 */
export function companionRoutes(passes: PassService, companions: CompanionService) {
  const router = new Router<AppState>();

  router.post('/api/pass-link', async (ctx) => {
    const { token } = passLinkSchema.parse(ctx.request.body ?? {});
    // The payload rotates: a cached copy is exactly the screenshot the rotation defeats.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { pass: await passes.forLink(token) };
  });

  /**
   * The applicant sends a companion's link again (group visits): `position` is the companion's as the application's
   * `group.companions` lists it; `mobile` in the body corrects his number first. The answer names the masked mobile
   * it went to.
   */
  router.post('/api/applications/:id/companions/:position/resend-link', async (ctx) => {
    const visitor = requireVisitor(ctx);
    const id = idParam(ctx.params.id, 'APPLICATION_NOT_FOUND', '申请不存在');
    const position = /^\d{1,2}$/.test(ctx.params.position) ? Number(ctx.params.position) : -1;
    const { mobile } = resendSchema.parse(ctx.request.body ?? {});
    ctx.body = { sent: await companions.resendLink(visitor.id, id, position, mobile) };
  });

  return router;
}
