import { actorOf, adminRouter, idParam } from '../admin/admin-http.ts';
import { z } from 'zod';
import type { AppContext } from '../http/context.ts';
import { watchListQuery, type WatchListService } from './watchlist.service.ts';

const importBody = z.object({ csv: z.string({ error: '请提供 CSV 文件内容' }).max(1_000_000, 'CSV 文件过大'), dryRun: z.boolean().optional() });

/** The admin API of the watch list; every route needs the admin role. */
export function watchListRoutes(watchList: WatchListService) {
  const router = adminRouter('/api/admin/watch-list');
  router.get('/', async (ctx) => {
    ctx.body = await watchList.list(watchListQuery.parse(ctx.query));
  });
  router.post('/', async (ctx) => {
    ctx.status = 201;
    ctx.body = { entry: await watchList.add(actorOf(ctx as AppContext), ctx.request.body ?? {}) };
  });
  router.post('/import', async (ctx) => {
    const body = importBody.parse(ctx.request.body ?? {});
    ctx.body = await watchList.importCsv(actorOf(ctx as AppContext), body.csv, body.dryRun ?? false);
  });
  router.post('/:id/deactivate', async (ctx) => {
    const id = idParam(ctx.params.id, 'WATCH_ENTRY_NOT_FOUND', '名单条目不存在');
    ctx.body = { entry: await watchList.deactivate(actorOf(ctx as AppContext), id) };
  });
  return router;
}
