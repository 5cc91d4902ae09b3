import { z } from 'zod';
import type { AppContext } from '../http/context.ts';
import { actorOf, adminRouter } from './admin-http.ts';
import type { FormAdminService } from './form-admin.service.ts';

const saveBody = z.object({ schema: z.unknown(), redeploy: z.boolean().optional() });

export function formAdminRoutes(forms: FormAdminService) {
  const router = adminRouter('/api/admin/forms');

  router.get('/', async (ctx) => {
    ctx.body = { forms: await forms.list() };
  });

  router.get('/:formKey', async (ctx) => {
    ctx.body = { form: await forms.get(ctx.params.formKey, 'latest') };
  });

  router.get('/:formKey/versions/:version', async (ctx) => {
    ctx.body = { form: await forms.get(ctx.params.formKey, z.coerce.number().int().positive().parse(ctx.params.version)) };
  });

  router.post('/:formKey/check', async (ctx) => {
    const errors = await forms.check(ctx.params.formKey, saveBody.parse(ctx.request.body ?? {}).schema);
    ctx.body = { valid: errors.length === 0, errors };
  });

  router.put('/:formKey', async (ctx) => {
    const body = saveBody.parse(ctx.request.body ?? {});
    const result = await forms.save(actorOf(ctx as AppContext), ctx.params.formKey, body.schema, { redeploy: body.redeploy });
    ctx.status = result.form.created ? 201 : 200;
    ctx.body = result;
  });

  return router;
}
