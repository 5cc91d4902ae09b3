import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { adminRouter, dateParam, paging } from './admin-http.ts';
import type { AuditService } from './audit.service.ts';
import type { RetentionService } from './retention.service.ts';

const auditQuery = paging.extend({
  action: z.string().max(64).optional(),
  targetType: z.string().max(32).optional(),
  targetId: z.string().max(100).optional(),
  actorId: z.coerce.number().int().positive().optional(),
  from: z.iso.datetime({ offset: true, error: '时间格式应为 ISO 8601' }).optional(),
  to: z.iso.datetime({ offset: true, error: '时间格式应为 ISO 8601' }).optional(),
});

/** The audit log and the anonymous report counts (what retention keeps). */
export function auditRoutes(audit: AuditService, retention: RetentionService) {
  const router = adminRouter('/api/admin');
  router.get('/audit', async (ctx) => {
    const q = auditQuery.parse(ctx.query);
    ctx.body = await audit.list({ ...q, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined });
  });
  router.get('/reports/counts', async (ctx) => {
    const { from, to } = z.object({ from: dateParam, to: dateParam }).parse(ctx.query);
    if (from > to) throw badRequest('VALIDATION_FAILED', '开始日期应不晚于结束日期');
    ctx.body = { counts: await retention.counts(from, to) };
  });
  return router;
}
