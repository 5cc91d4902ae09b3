import { z } from 'zod';
import type { AppContext } from '../http/context.ts';
import { actorOf, adminRouter } from './admin-http.ts';
import type { ProcessAdminService } from './process-admin.service.ts';

const xmlBody = z.object({ xml: z.string({ error: '请提供 BPMN 文件内容' }), name: z.string().max(200).optional() });
const versionParam = (raw: string) => (raw === 'latest' ? 'latest' : z.coerce.number().int().positive().parse(raw));

export function processAdminRoutes(processes: ProcessAdminService) {
  const router = adminRouter('/api/admin/processes');

  router.get('/', async (ctx) => {
    ctx.body = { processes: await processes.list() };
  });

  router.post('/validate', async (ctx) => {
    ctx.body = await processes.validate(xmlBody.parse(ctx.request.body ?? {}).xml);
  });

  router.post('/import', async (ctx) => {
    ctx.body = await processes.importXml(xmlBody.parse(ctx.request.body ?? {}).xml);
  });

  router.post('/deploy', async (ctx) => {
    const body = xmlBody.parse(ctx.request.body ?? {});
    const result = await processes.deploy(actorOf(ctx as AppContext), body.xml, body.name);
    ctx.status = result.deployments.some((d) => d.created) ? 201 : 200;
    ctx.body = result;
  });

  router.post('/:processId/redeploy', async (ctx) => {
    const result = await processes.redeployLatest(actorOf(ctx as AppContext), ctx.params.processId);
    ctx.status = result.deployments.some((d) => d.created) ? 201 : 200;
    ctx.body = result;
  });

  router.get('/:processId/versions/:version', async (ctx) => {
    ctx.body = { process: await processes.version(ctx.params.processId, versionParam(ctx.params.version)) };
  });

  router.get('/:processId/versions/:version/export', async (ctx) => {
    const p = await processes.version(ctx.params.processId, versionParam(ctx.params.version));
    ctx.type = 'application/xml; charset=utf-8';
    ctx.attachment(`${p.processId}-v${p.version}.bpmn`);
    ctx.body = p.xml;
  });

  return router;
}
