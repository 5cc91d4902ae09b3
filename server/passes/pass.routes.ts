import Router from '@koa/router';
import { z } from 'zod';
import { requireStaff, requireVisitor } from '../auth/session.middleware.ts';
import { notFound } from '../errors.ts';
import type { AppState } from '../http/context.ts';
import { MAX_ROW_ID, rowId } from '../http/id-param.ts';
import type { PassService } from './pass.service.ts';

const campusId = z.coerce
  .number({ error: '请选择所在校区' })
  .int('请选择所在校区')
  .positive('请选择所在校区');

export const verifySchema = z
  .object({
    payload: z.string({ error: '二维码内容无效' }).trim().max(1000, '无法识别的二维码').optional(),
    code: z.string({ error: '通行码无效' }).trim().max(32, '通行码不存在，请核对后重新输入').optional(),
    campusId,
  })
  .refine((b) => Boolean(b.payload) !== Boolean(b.code), {
    error: '请扫描二维码或输入通行码（二选一）',
    path: ['payload'],
  });

// Optional: a campus may have no gates yet, and gate pages loaded before gates existed send none (未知门岗).
const gateId = z.coerce
  .number({ error: '请选择门岗' })
  .int('请选择门岗')
  .positive('请选择门岗')
  .max(MAX_ROW_ID, '所选门岗不存在或已停用')
  .nullable()
  .optional();

export const gateEventSchema = z.object({ campusId, gateId });

export function passRoutes(service: PassService) {
  const router = new Router<AppState>();

  router.get('/api/applications/:id/pass', async (ctx) => {
    const visitor = requireVisitor(ctx);
    const applicationId = rowId(ctx.params.id) ?? Number.NaN;
    if (!Number.isSafeInteger(applicationId)) throw notFound('PASS_NOT_AVAILABLE', '通行码尚未签发或不可用');
    // The payload rotates: a cached copy is exactly the screenshot the rotation defeats.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { pass: await service.forVisitor(visitor.id, applicationId) };
  });

  router.post('/api/gate/verify', async (ctx) => {
    requireStaff(ctx, 'guard', 'admin');
    const body = verifySchema.parse(ctx.request.body ?? {});
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await service.verify({ payload: body.payload || undefined, code: body.code || undefined, campusId: body.campusId });
  });

  for (const kind of ['entry', 'exit'] as const) {
    router.post(`/api/gate/passes/:id/${kind}`, async (ctx) => {
      const guard = requireStaff(ctx, 'guard', 'admin');
      const body = gateEventSchema.parse(ctx.request.body ?? {});
      const passId = rowId(ctx.params.id) ?? Number.NaN;
      if (!Number.isSafeInteger(passId)) throw notFound('PASS_NOT_FOUND', '通行码不存在');
      ctx.body = await service.record(passId, kind, guard.id, body.campusId, { gateId: body.gateId ?? null });
    });
  }

  // Lets the gate page check signatures offline (the key is public; revocation still needs the server).
  router.get('/api/gate/public-key', async (ctx) => {
    requireStaff(ctx, 'guard', 'admin');
    ctx.body = { algorithm: 'Ed25519', format: 'VF1', rotateSeconds: service.rotateSeconds, publicKeyPem: service.passPublicKeyPem() };
  });

  return router;
}
