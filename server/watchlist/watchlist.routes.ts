import { actorOf, adminRouter, idParam } from '../admin/admin-http.ts';
import type { AppContext } from '../http/context.ts';
import { watchListQuery, type WatchListService } from './watchlist.service.ts';

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
  router.post('/:id/deactivate', async (ctx) => {
    const id = idParam(ctx.params.id, 'WATCH_ENTRY_NOT_FOUND', '名单条目不存在');
    ctx.body = { entry: await watchList.deactivate(actorOf(ctx as AppContext), id) };
  });
  return router;
}
