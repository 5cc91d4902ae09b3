import Router from '@koa/router';
import { requireStaff, requireVisitor } from '../auth/session.middleware.ts';
import { notFound } from '../errors.ts';
import type { AppContext, AppState } from '../http/context.ts';
import { idParam } from '../http/id-param.ts';
import type { VisitorService } from '../visitors/visitor.service.ts';
import type { InvitationService } from './invitation.service.ts';

/**
 * Hosts' pre-invitations. The link's token travels only in request bodies (POST), never in a path a log line
 * or a proxy would keep.
 */
export function invitationRoutes(invitations: InvitationService, visitors: VisitorService) {
  const router = new Router<AppState>({ prefix: '/api/invitations' });
  const host = (ctx: AppContext) => requireStaff(ctx, 'host');
  const currentVisitor = async (ctx: AppContext) => {
    const visitor = await visitors.find(requireVisitor(ctx).id);
    if (!visitor) throw notFound('VISITOR_NOT_FOUND', '账号不存在');
    return visitor;
  };

  router.get('/', async (ctx) => {
    ctx.body = await invitations.list(host(ctx), ctx.query);
  });
  router.get('/options', async (ctx) => {
    ctx.body = await invitations.options(host(ctx));
  });
  router.post('/', async (ctx) => {
    const staff = host(ctx);
    ctx.status = 201;
    ctx.body = { invitation: await invitations.create(staff, ctx.request.body) };
  });
  router.post('/:id/cancel', async (ctx) => {
    const staff = host(ctx);
    ctx.body = await invitations.cancel(staff, idParam(ctx.params.id, 'INVITATION_NOT_FOUND', '邀请不存在或链接有误'));
  });

  // The visitor's side: what the link shows, the locked form, and the submission.
  router.post('/preview', async (ctx) => {
    ctx.body = await invitations.preview(ctx.request.body);
  });
  router.post('/form', async (ctx) => {
    ctx.body = await invitations.form(await currentVisitor(ctx), ctx.request.body);
  });
  router.post('/apply', async (ctx) => {
    const visitor = await currentVisitor(ctx);
    const app = await invitations.apply(visitor, ctx.request.body);
    ctx.status = 201;
    ctx.body = {
      application: {
        ...(await invitations.view(app)),
        next: '申请已提交。接待人已预先邀请，申请将直接送交部门主管领导审核；审核结果将以短信通知您。',
      },
    };
  });
  return router;
}
