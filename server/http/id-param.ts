import { notFound } from '../errors.ts';

/** Row ids are PostgreSQL integers (serial): past this PostgreSQL refuses the query itself instead of finding nothing. */
export const MAX_ROW_ID = 2_147_483_647;

/** The row id a path segment names, or undefined when it can name no row ('01', '1.5', '-1', 2^31, 'abc'). */
export function rowId(raw: string | undefined): number | undefined {
  if (!raw || !/^[1-9]\d{0,9}$/.test(raw)) return undefined;
  const id = Number(raw);
  return id <= MAX_ROW_ID ? id : undefined;
}

/** rowId, or the "not found" a missing row gives (so a malformed id reveals nothing more than an unknown one). */
export function idParam(raw: string | undefined, code = 'NOT_FOUND', message = '未找到'): number {
  const id = rowId(raw);
  if (id === undefined) throw notFound(code, message);
  return id;
}
