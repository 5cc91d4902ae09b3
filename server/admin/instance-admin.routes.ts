import { z } from 'zod';
import type { ApplicationStatus } from '../applications/application.model.ts';
import type { AppContext } from '../http/context.ts';
import { actorOf, adminRouter, dateParam, idParam, paging } from './admin-http.ts';
import type { InstanceAdminService } from './instance-admin.service.ts';

const STATUSES: [ApplicationStatus, ...ApplicationStatus[]] = ['submitted', 'pending', 'approved', 'refused', 'expired', 'withdrawn'];

const listQuery = paging.extend({
  status: z.enum(STATUSES, { error: '状态参数有误' }).optional(),
  campusId: z.coerce.number().int().positive().optional(),
  departmentId: z.coerce.number().int().positive().optional(),
  from: dateParam.optional(),
  to: dateParam.optional(),
  flowNumber: z.string().trim().max(32).optional(),
});

export function instanceAdminRoutes(instances: InstanceAdminService) {
  const router = adminRouter('/api/admin/instances');
  const appId = (raw: string) => idParam(raw, 'APPLICATION_NOT_FOUND', '申请不存在');

  router.get('/', async (ctx) => {
    ctx.body = await instances.list(listQuery.parse(ctx.query));
  });
  router.get('/:id', async (ctx) => {
    ctx.body = await instances.detail(appId(ctx.params.id));
  });
  router.post('/:id/incidents/:key/retry', async (ctx) => {
    const { retries } = z.object({ retries: z.number().int().min(1).max(10).optional() }).parse(ctx.request.body ?? {});
    const id = appId(ctx.params.id);
    await instances.retryIncident(actorOf(ctx as AppContext), id, ctx.params.key, retries);
    ctx.body = await instances.detail(id);
  });
  router.post('/:id/cancel', async (ctx) => {
    const { reason } = z.object({ reason: z.string().trim().max(500, '取消原因不能超过 500 个字符').optional() }).parse(ctx.request.body ?? {});
    const id = appId(ctx.params.id);
    await instances.cancel(actorOf(ctx as AppContext), id, reason || undefined);
    ctx.body = await instances.detail(id);
  });
  return router;
}
