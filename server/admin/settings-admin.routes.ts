import type { AppContext } from '../http/context.ts';
import { actorOf, adminRouter } from './admin-http.ts';
import type { SettingsAdminService } from './settings-admin.service.ts';

export function settingsAdminRoutes(settings: SettingsAdminService) {
  const router = adminRouter('/api/admin/settings');
  router.get('/', async (ctx) => {
    ctx.body = { settings: await settings.getAll() };
  });
  router.put('/', async (ctx) => {
    ctx.body = { settings: await settings.update(actorOf(ctx as AppContext), ctx.request.body ?? {}) };
  });
  router.post('/sms-preview', async (ctx) => {
    ctx.body = { preview: await settings.preview(ctx.request.body ?? {}) };
  });
  return router;
}
