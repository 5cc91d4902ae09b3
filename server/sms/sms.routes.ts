import Router from '@koa/router';
import { requireStaff } from '../auth/session.middleware.ts';
import { AppError, badRequest } from '../errors.ts';
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
  /** Sends one test SMS through the configured provider; a refusal answers 502 with the stable code and the vendor's text. */
  router.post('/api/admin/settings/sms/test', async (ctx: AppContext) => {
    requireStaff(ctx, 'admin');
    const mobile = String((ctx.request.body as any)?.mobile ?? '').replace(/[\s-]/g, '');
    if (!/^1[3-9]\d{9}$/.test(mobile)) throw badRequest('VALIDATION_FAILED', '请输入 11 位手机号');
    const result = await service.sendTest(mobile);
    if (!result.ok) {
      const { code, message, ...details } = result.error!;
      throw new AppError(502, code, message, { provider: result.provider, template: result.template, ...details });
    }
    ctx.body = { test: result };
  });
  return router;
}
