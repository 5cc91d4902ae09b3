import { AppError } from '../errors.ts';
import type { Middleware } from './context.ts';

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * An API write that carries a body must carry JSON (multipart only where a route takes files): the JSON body
 * parser leaves any other body unread, and the route would then act on an empty body as if nothing was sent (a
 * PUT in text/plain answered 200 having changed nothing). Refused before anything runs.
 */
export function jsonBodyMiddleware(multipartPaths: string[]): Middleware {
  const multipart = new Set(multipartPaths);
  return async (ctx, next) => {
    if (WRITES.has(ctx.method) && ctx.path.startsWith('/api/') && hasBody(ctx.get('content-length'), ctx.get('transfer-encoding'))) {
      const allowed = multipart.has(ctx.path) ? ['json', 'multipart'] : ['json'];
      if (!ctx.is(allowed)) throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', '不支持的内容类型');
    }
    await next();
  };
}

function hasBody(length: string, transferEncoding: string): boolean {
  return Boolean(transferEncoding) || (length !== '' && length !== '0');
}
