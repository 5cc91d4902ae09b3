import crypto from 'node:crypto';
import Router from '@koa/router';
import { AppError } from '../errors.ts';
import type { AppContext, AppState, Middleware } from '../http/context.ts';
import { inClusterWorker, scrapeCluster } from './cluster.ts';
import { type Metrics, NOT_API, UNMATCHED_API } from './metrics.ts';

/**
 * Counts every request by method, route pattern (what the router matched, e.g. /api/applications/:id; never
 * the URL) and status, and observes its latency. First in the chain, so the time covers the whole answer.
 * Per request: one clock read, a few map look-ups and the increments; no database, no label object.
 */
export function metricsMiddleware(metrics: Metrics): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    let failed = false;
    try {
      await next();
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      metrics.observeRequest(ctx.method, routeOf(ctx), failed ? 500 : ctx.status, (performance.now() - started) / 1000);
    }
  };
}

interface MatchedLayer {
  path: unknown;
  methods: string[];
}

/**
 * The pattern of the route that answered: the first layer @koa/router matched with this method (routers run
 * matching layers in order, so that is the one that ran). Not ctx._matchedRoute: a router.use() guard that
 * throws (the admin and task routers' role checks) leaves its own layer's regular expression there. A path
 * some route has, but not with this method (405), gets that route's pattern.
 */
function routeOf(ctx: AppContext): string {
  const matched = (ctx as { matched?: MatchedLayer[] }).matched;
  if (matched) {
    let other: unknown;
    for (const layer of matched) {
      if (!layer.methods.length) continue;
      if (layer.methods.includes(ctx.method)) return String(layer.path);
      other ??= layer.path;
    }
    if (other !== undefined) return String(other);
  }
  return ctx.path.startsWith('/api/') ? UNMATCHED_API : NOT_API;
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/**
 * Who may scrape: with METRICS_TOKEN set, whoever sends `Authorization: Bearer <token>` (from anywhere, and
 * nobody without it); unset, only a client on this machine talking to the server directly: the socket's peer
 * is loopback and the request carries no X-Forwarded-For / Forwarded header (a reverse proxy on the same
 * machine would otherwise make every client look local).
 */
export function checkScrapeAccess(ctx: AppContext, token: string | undefined): void {
  if (token) {
    const header = ctx.get('authorization');
    const given = header.startsWith('Bearer ') ? Buffer.from(header.slice(7).trim()) : Buffer.alloc(0);
    const expected = Buffer.from(token);
    if (given.length === expected.length && crypto.timingSafeEqual(given, expected)) return;
    ctx.set('WWW-Authenticate', 'Bearer realm="metrics"');
    throw new AppError(401, 'METRICS_TOKEN_REQUIRED', '需要指标访问令牌（Authorization: Bearer）');
  }
  const forwarded = ctx.get('x-forwarded-for') || ctx.get('forwarded');
  if (isLoopback(ctx.req.socket.remoteAddress) && !forwarded) return;
  throw new AppError(403, 'METRICS_LOCAL_ONLY', '未设置 METRICS_TOKEN 时只允许本机直接访问指标');
}

export function metricsRoutes(metrics: Metrics, token: string | undefined) {
  const router = new Router<AppState>();
  router.get('/metrics', async (ctx) => {
    checkScrapeAccess(ctx, token);
    // WORKERS > 1: the series of every server process, gathered through the primary (cluster.ts).
    const own = inClusterWorker() ? await scrapeCluster() : await metrics.process.metrics();
    const shared = await metrics.database.metrics();
    ctx.set('Cache-Control', 'no-store');
    ctx.body = `${own.trimEnd()}\n${shared}`;
    ctx.set('Content-Type', metrics.process.contentType);
  });
  return router;
}
