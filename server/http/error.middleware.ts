import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { AppError } from '../errors.ts';
import type { AppContext, Middleware } from './context.ts';
import { loggableError } from './loggable-error.ts';
import { DATABASE_BUSY_RETRY_AFTER_S, isDatabaseBusy, ServerBusyError } from './server-busy.ts';

function send(ctx: AppContext, status: number, code: string, message: string, details?: unknown) {
  ctx.status = status;
  ctx.body = { error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * PostgreSQL's class 22 (data exception): numeric value out of range, string too long, invalid text syntax, a
 * NUL byte in text... Also when objection wrapped it (DataError, the driver's error kept as nativeError).
 */
export function isDataException(err: any): boolean {
  if (err?.nativeError && err.nativeError !== err && isDataException(err.nativeError)) return true;
  return typeof err?.code === 'string' && /^22[0-9A-Z]{3}$/.test(err.code) && typeof err?.severity === 'string';
}

/**
 * Turns every failure into `{ error: { code, message } }`; only genuine faults become 500, and each of those
 * is logged with the request id (the answer's X-Request-Id). Overload (no turn, no database connection in
 * time, a transaction PostgreSQL rolled back) becomes 503 + Retry-After, logged as a warning.
 */
export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) send(ctx, 404, 'NOT_FOUND', '请求的地址不存在');
      else if (ctx.status === 405 && ctx.body === undefined) send(ctx, 405, 'METHOD_NOT_ALLOWED', '不支持该请求方法');
    } catch (err: any) {
      if (err instanceof ServerBusyError || isDatabaseBusy(err)) {
        const busy = err instanceof ServerBusyError ? err : new ServerBusyError(DATABASE_BUSY_RETRY_AFTER_S, 'database');
        logger.warn(
          { requestId: ctx.state.requestId, path: ctx.path, reason: busy.reason, ...(busy === err ? {} : { error: loggableError(err) }) },
          'server busy',
        );
        ctx.set('Retry-After', String(busy.retryAfterSeconds));
        return send(ctx, 503, busy.code, busy.message);
      }
      if (err instanceof AppError) {
        // A throttled caller (login lock-out, a link sent again too soon) learns the wait in the standard header too.
        const wait = (err.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
        if (err.status === 429 && typeof wait === 'number') ctx.set('Retry-After', String(Math.ceil(wait)));
        return send(ctx, err.status, err.code, err.message, err.details);
      }
      if (err instanceof ZodError) {
        return send(
          ctx,
          400,
          'VALIDATION_FAILED',
          err.issues[0]?.message ?? '输入有误',
          err.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
        );
      }
      if (isDataException(err)) {
        // A value the validation let through and PostgreSQL refused (out of range, too long, bad syntax): the
        // client's input, not a fault. The warning names the route and the SQLSTATE so that the schema gets fixed.
        logger.warn({ requestId: ctx.state.requestId, path: ctx.path, sqlState: err.code }, 'value refused by the database');
        return send(ctx, 400, 'INVALID_VALUE', '输入的值超出范围或格式不正确');
      }
      const status = Number(err?.status ?? err?.statusCode);
      if (status === 413 || err?.type === 'entity.too.large') return send(ctx, 413, 'BODY_TOO_LARGE', '请求内容过大');
      if (err?.type === 'entity.parse.failed' || err?.name === 'SyntaxError') {
        return send(ctx, 400, 'MALFORMED_JSON', '请求内容不是有效的 JSON');
      }
      if (err?.name === 'UnsupportedBodyTypeError' || status === 415) {
        return send(ctx, 415, 'UNSUPPORTED_MEDIA_TYPE', '不支持的内容类型');
      }
      if (status >= 400 && status < 500) return send(ctx, status, 'BAD_REQUEST', '请求无效');
      // Under `error`, not `err`: pino's err serializer would copy every property of the error back in.
      logger.error({ error: loggableError(err), requestId: ctx.state.requestId, path: ctx.path }, 'unhandled error');
      send(ctx, 500, 'INTERNAL', '服务器内部错误，请稍后再试');
    }
  };
}
