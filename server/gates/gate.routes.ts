import Router from '@koa/router';
import { actorOf, adminRouter, idParam } from '../admin/admin-http.ts';
import { requireStaff } from '../auth/session.middleware.ts';
import type { AppContext, AppState } from '../http/context.ts';
import { gateListQuery, type GateService } from './gate.service.ts';

/** Administrators keep the gates of each campus (directory page); every route needs the admin role. */
export function gateAdminRoutes(gates: GateService) {
  const router = adminRouter('/api/admin/gates');
  const gateId = (raw: string) => idParam(raw, 'GATE_NOT_FOUND', '门岗不存在');
  router.get('/', async (ctx) => {
    ctx.body = { gates: await gates.list(gateListQuery.parse(ctx.query).campusId) };
  });
  router.post('/', async (ctx) => {
    ctx.status = 201;
    ctx.body = { gate: await gates.create(actorOf(ctx as AppContext), ctx.request.body ?? {}) };
  });
  router.put('/:id', async (ctx) => {
    ctx.body = { gate: await gates.update(actorOf(ctx as AppContext), gateId(ctx.params.id), ctx.request.body ?? {}) };
  });
  for (const [action, active] of [
    ['deactivate', false],
    ['activate', true],
  ] as const) {
    router.post(`/:id/${action}`, async (ctx) => {
      ctx.body = { gate: await gates.setActive(actorOf(ctx as AppContext), gateId(ctx.params.id), active) };
    });
  }
  return router;
}

/** The gate page's list of gates to stand at. */
export function gateRoutes(gates: GateService) {
  const router = new Router<AppState>();
  router.get('/api/gate/gates', async (ctx) => {
    requireStaff(ctx, 'guard', 'admin');
    ctx.body = { gates: await gates.listActive() };
  });
  return router;
}
