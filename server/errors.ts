/** An error whose code is stable for API clients and whose message is shown to users (Chinese first). */
export class AppError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new AppError(400, code, message, details);
export const unauthorized = (code = 'UNAUTHENTICATED', message = '请先登录') =>
  new AppError(401, code, message);
export const forbidden = (code = 'FORBIDDEN', message = '无权访问') => new AppError(403, code, message);
export const notFound = (code = 'NOT_FOUND', message = '未找到') => new AppError(404, code, message);
export const conflict = (code: string, message: string, details?: unknown) =>
  new AppError(409, code, message, details);
