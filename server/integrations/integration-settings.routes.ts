import { z } from 'zod';
import { actorOf, adminRouter, paging } from '../admin/admin-http.ts';
import type { AppContext } from '../http/context.ts';
import type { WechatNotifier } from '../wechat/wechat.notifier.ts';
import type { IntegrationSettingsService } from './integration-settings.service.ts';

const wechatListQuery = paging.extend({ status: z.enum(['pending', 'sending', 'sent', 'failed'], { error: '微信通知状态参数有误' }).optional() });

/** The integrations page (SMS provider, WeChat official account), the WeChat credential test and the WeChat outbox. */
export function integrationRoutes(integrations: IntegrationSettingsService, wechat: WechatNotifier) {
  const router = adminRouter('/api/admin');
  router.get('/integrations', async (ctx) => {
    ctx.body = { sms: await integrations.view('sms'), wechat: await integrations.view('wechat') };
  });
  router.put('/integrations/sms', async (ctx) => {
    ctx.body = { sms: await integrations.save(actorOf(ctx as AppContext), 'sms', ctx.request.body ?? {}) };
  });
  router.put('/integrations/wechat', async (ctx) => {
    ctx.body = { wechat: await integrations.save(actorOf(ctx as AppContext), 'wechat', ctx.request.body ?? {}) };
  });
  /** An access token with the WeChat credentials in use; a refusal answers 502 with WeChat's errcode. */
  router.post('/settings/wechat/test', async (ctx) => {
    ctx.body = { test: await integrations.testWechat() };
  });
  router.get('/wechat', async (ctx) => {
    const q = wechatListQuery.parse(ctx.query);
    ctx.body = await wechat.list(q.page, q.pageSize, { status: q.status });
  });
  return router;
}
