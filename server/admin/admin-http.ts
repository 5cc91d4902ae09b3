import Router from '@koa/router';
import { z } from 'zod';
import { requireStaff } from '../auth/session.middleware.ts';
import type { AppContext, AppState } from '../http/context.ts';
import type { Actor } from './audit.service.ts';

/** A router whose every route requires the admin role (checked before anything else runs). */
export function adminRouter(prefix: string): Router<AppState> {
  const router = new Router<AppState>({ prefix });
  router.use(async (ctx, next) => {
    requireStaff(ctx as AppContext, 'admin');
    await next();
  });
  return router;
}

export function actorOf(ctx: AppContext): Actor {
  const staff = requireStaff(ctx, 'admin');
  return { id: staff.id, name: staff.name };
}

export { idParam } from '../http/id-param.ts';

export const paging = z.object({
  page: z.coerce.number().int('页码应为整数').min(1, '页码应为正整数').default(1),
  pageSize: z.coerce.number().int('每页条数应为整数').min(1).max(100, '每页最多 100 条').default(20),
});

export const dateParam = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, '日期格式应为 YYYY-MM-DD');
