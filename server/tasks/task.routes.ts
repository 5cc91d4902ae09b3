import Router from '@koa/router';
import { z } from 'zod';
import { requireStaff } from '../auth/session.middleware.ts';
import type { AppState } from '../http/context.ts';
import { idParam } from '../http/id-param.ts';
import type { TaskService } from './task.service.ts';

const listSchema = z.object({
  list: z.enum(['mine', 'unclaimed', 'done'], { error: '列表类型应为 mine、unclaimed 或 done' }).default('mine'),
  status: z.enum(['open', 'completed', 'canceled']).optional(),
  campusId: z.coerce.number().int().positive().optional(),
  departmentId: z.coerce.number().int().positive().optional(),
  from: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, '日期格式应为 YYYY-MM-DD').optional(),
  to: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, '日期格式应为 YYYY-MM-DD').optional(),
  q: z.string().max(40).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});
const dataSchema = z.object({ data: z.record(z.string(), z.unknown(), { error: '表单内容格式不正确' }) });

// Reviewers of any kind hold one of these roles; a guard only checks passes at the gate.
const TASK_ROLES = ['host', 'leader', 'admin', 'security'];

export function taskRoutes(tasks: TaskService) {
  const router = new Router<AppState>({ prefix: '/api/tasks' });
  router.use(async (ctx, next) => {
    requireStaff(ctx, ...TASK_ROLES);
    await next();
  });
  const id = (ctx: any) => idParam(ctx.params.id, 'TASK_NOT_FOUND', '待办不存在');
  // A task the caller may not see is "not found" whatever the body: its access is decided before the body is read.
  const bodyData = async (ctx: any) => {
    const parsed = dataSchema.safeParse(ctx.request.body ?? {});
    if (parsed.success) return parsed.data.data;
    await tasks.summary(requireStaff(ctx), id(ctx));
    throw parsed.error;
  };

  router.get('/', async (ctx) => {
    ctx.body = await tasks.list(requireStaff(ctx), listSchema.parse(ctx.query));
  });
  router.get('/:id', async (ctx) => {
    ctx.body = await tasks.get(requireStaff(ctx), id(ctx));
  });
  router.post('/:id/claim', async (ctx) => {
    await tasks.claim(requireStaff(ctx), id(ctx));
    ctx.body = await tasks.summary(requireStaff(ctx), id(ctx));
  });
  router.post('/:id/unclaim', async (ctx) => {
    await tasks.unclaim(requireStaff(ctx), id(ctx));
    ctx.body = await tasks.summary(requireStaff(ctx), id(ctx));
  });
  router.put('/:id/draft', async (ctx) => {
    const data = await bodyData(ctx);
    await tasks.saveDraft(requireStaff(ctx), id(ctx), data);
    ctx.body = await tasks.summary(requireStaff(ctx), id(ctx));
  });
  router.post('/:id/complete', async (ctx) => {
    const data = await bodyData(ctx);
    await tasks.complete(requireStaff(ctx), id(ctx), data);
    ctx.body = await tasks.summary(requireStaff(ctx), id(ctx));
  });
  return router;
}
