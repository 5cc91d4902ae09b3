import Router from '@koa/router';
import { requireStaff } from '../auth/session.middleware.ts';
import type { AppState } from '../http/context.ts';
import { idParam } from '../http/id-param.ts';
import { onCampusExitSchema, onCampusQuery, type OnCampusService } from './on-campus.service.ts';

/** Who is on campus now (security office in the admin app, guards on the gate page). Guards and admins only. */
export function onCampusRoutes(service: OnCampusService) {
  const router = new Router<AppState>();

  router.get('/api/gate/on-campus', async (ctx) => {
    const staff = requireStaff(ctx, 'guard', 'admin');
    const query = onCampusQuery.parse(ctx.query);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await service.list(staff, query);
  });

  router.post('/api/gate/on-campus/:id/exit', async (ctx) => {
    const staff = requireStaff(ctx, 'guard', 'admin');
    const body = onCampusExitSchema.parse(ctx.request.body ?? {});
    const passId = idParam(ctx.params.id, 'PASS_NOT_FOUND', '通行码不存在');
    ctx.body = await service.recordExit(staff, passId, body.gateId ?? null);
  });

  return router;
}
