import Router from '@koa/router';
import type { Knex } from 'knex';
import { ping } from '../db/database.ts';
import type { AppState } from './context.ts';

export function healthRoutes(knex: Knex) {
  const router = new Router<AppState>();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const database = await ping(knex);
    ctx.status = database ? 200 : 503;
    ctx.body = { status: database ? 'ready' : 'unavailable', database };
  });
  // The CSRF middleware has already set the cookie; the body lets a script read the token without parsing cookies.
  router.get('/api/csrf', (ctx) => {
    ctx.body = { csrfToken: ctx.state.csrfToken };
  });
  return router;
}
