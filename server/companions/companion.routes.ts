import Router from '@koa/router';
import { z } from 'zod';
import type { AppState } from '../http/context.ts';
import type { PassService } from '../passes/pass.service.ts';

export const passLinkSchema = z.object({ token: z.string({ error: '通行码链接无效，请核对短信中的链接' }).trim().max(64, '通行码链接无效，请核对短信中的链接') });

/**
 * A companion's pass page (group visits): no login, the token of his SMS link is the only key. POST with the token in
 * the body, not in the path: the request log records paths, and the token must not be written anywhere.
 */
export function companionRoutes(passes: PassService) {
  const router = new Router<AppState>();

  router.post('/api/pass-link', async (ctx) => {
    const { token } = passLinkSchema.parse(ctx.request.body ?? {});
    // The payload rotates: a cached copy is exactly the screenshot the rotation defeats.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { pass: await passes.forLink(token) };
  });

  return router;
}
