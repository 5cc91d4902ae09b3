import Router from '@koa/router';
import { requireStaff } from '../auth/session.middleware.ts';
import { badRequest } from '../errors.ts';
import type { AppContext, AppState } from '../http/context.ts';
import type { SmsService, SmsStatus } from './sms.service.ts';

const STATUSES = new Set<SmsStatus>(['pending', 'sending', 'sent', 'failed']);

export function smsAdminRoutes(service: SmsService): Router<AppState> {
  const router = new Router<AppState>();
  router.get('/api/admin/sms', async (ctx: AppContext) => {
    requireStaff(ctx, 'admin');
    const page = Number(ctx.query.page ?? 1);
    const pageSize = Number(ctx.query.pageSize ?? 20);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      throw badRequest('VALIDATION_FAILED', '分页参数有误');
    }
    const status = typeof ctx.query.status === 'string' && ctx.query.status ? ctx.query.status : undefined;
    if (status && !STATUSES.has(status as SmsStatus)) throw badRequest('VALIDATION_FAILED', '短信状态参数有误');
    ctx.body = await service.list(page, pageSize, { status: status as SmsStatus | undefined });
  });
  return router;
}
