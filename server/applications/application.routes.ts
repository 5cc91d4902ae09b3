import Router from '@koa/router';
import { z } from 'zod';
import { requireVisitor } from '../auth/session.middleware.ts';
import { notFound } from '../errors.ts';
import type { AppState } from '../http/context.ts';
import { idParam } from '../http/id-param.ts';
import type { VisitorService } from '../visitors/visitor.service.ts';
import type { ApplicationService } from './application.service.ts';

const submitSchema = z.object({ data: z.record(z.string(), z.unknown(), { error: '申请内容格式不正确' }) });
const applicationId = (raw: string) => idParam(raw, 'APPLICATION_NOT_FOUND', '申请不存在');

export function applicationRoutes(applications: ApplicationService, visitors: VisitorService) {
  const router = new Router<AppState>({ prefix: '/api/applications' });
  const currentVisitor = async (ctx: any) => {
    const visitor = await visitors.find(requireVisitor(ctx).id);
    if (!visitor) throw notFound('VISITOR_NOT_FOUND', '账号不存在');
    return visitor;
  };

  router.get('/form', async (ctx) => {
    ctx.body = await applications.startForm(await currentVisitor(ctx));
  });

  router.post('/', async (ctx) => {
    const visitor = await currentVisitor(ctx);
    const { data } = submitSchema.parse(ctx.request.body ?? {});
    const { view } = await applications.submit(visitor, data);
    ctx.status = 201;
    ctx.body = {
      application: {
        ...view,
        next: '申请已提交，将送交到访部门接待人审核；审核结果将以短信通知您。',
      },
    };
  });

  router.get('/', async (ctx) => {
    ctx.body = { applications: await applications.listForVisitor(requireVisitor(ctx).id) };
  });

  router.get('/:id', async (ctx) => {
    ctx.body = { application: await applications.getForVisitor(requireVisitor(ctx).id, applicationId(ctx.params.id)) };
  });

  router.post('/:id/withdraw', async (ctx) => {
    ctx.body = { application: await applications.withdraw(requireVisitor(ctx).id, applicationId(ctx.params.id)) };
  });

  return router;
}
