/**
 * An error as it may be written to the log: type, code, message and stack, with any clear resident ID number
 * or mobile in them masked, and nothing else. pino's default serializer would copy every own property, and
 * database errors carry the query's bindings (knex even writes them into the message) and PostgreSQL's
 * `detail` (the failing row), which can hold personal data.
 */
export interface LoggableError {
  type: string;
  message: string;
  stack?: string;
  code?: string;
  cause?: LoggableError;
}

// Digits not part of a longer number: 18-character resident ID numbers (and the old 15-digit ones), mainland mobiles.
const ID_NUMBER = /(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])/g;
const MOBILE = /(?<![0-9])1[3-9][0-9]{9}(?![0-9])/g;

export function scrubPersonalData(text: string): string {
  return text.replace(ID_NUMBER, '[id-number]').replace(MOBILE, '[mobile]');
}

export function loggableError(err: unknown, depth = 0): LoggableError {
  if (!(err instanceof Error)) return { type: typeof err, message: scrubPersonalData(String(err)) };
  const code = (err as { code?: unknown }).code;
  const result: LoggableError = {
    type: err.name || err.constructor?.name || 'Error',
    message: scrubPersonalData(err.message),
    stack: err.stack === undefined ? undefined : scrubPersonalData(err.stack),
  };
  if (typeof code === 'string' || typeof code === 'number') result.code = String(code);
  if (err.cause !== undefined && depth < 3) result.cause = loggableError(err.cause, depth + 1);
  return result;
}
