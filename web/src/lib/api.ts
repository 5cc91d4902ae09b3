/** Fetch wrapper for our JSON API: CSRF echo, Chinese error messages from the server, one shape for failures. */
import { englishErrorText, englishFieldText } from './error-texts.ts';
import { currentLang, t } from './i18n.ts';

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }

  /** Field-level messages when the server named fields (validation errors); in English where the code tells them. */
  get fieldErrors(): FieldError[] {
    if (!Array.isArray(this.details)) return [];
    const fields = this.details.filter((d): d is FieldError => d && typeof d.field === 'string' && typeof d.message === 'string');
    if (currentLang() !== 'en') return fields;
    return fields.map((d) => ({ field: d.field, message: englishFieldText(this, d) ?? d.message }));
  }
}

export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)vf_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : '';
}

async function ensureCsrf(): Promise<string> {
  if (!csrfToken()) await fetch('/api/csrf', { credentials: 'same-origin' });
  return csrfToken();
}

export async function api<T = any>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = await ensureCsrf();
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'NETWORK', t('err.network'));
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let parsed: any;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const err = parsed?.error;
    // A token that expired with the page: the server has just set a fresh cookie, so one retry is safe.
    if (err?.code === 'CSRF_TOKEN_INVALID' && !retried) return api<T>(method, path, body, true);
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? t('err.server', { status: res.status }), err?.details);
  }
  if (parsed === undefined) throw new ApiError(res.status, 'BAD_RESPONSE', t('err.server', { status: res.status }));
  return parsed as T;
}

export const get = <T = any>(path: string) => api<T>('GET', path);
export const post = <T = any>(path: string, body: unknown = {}) => api<T>('POST', path, body);
export const put = <T = any>(path: string, body: unknown = {}) => api<T>('PUT', path, body);

/** The message to show: the server's (Chinese), or in English the text of its code when known (error-texts.ts). */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return (currentLang() === 'en' && englishErrorText(err)) || err.message;
  return t('err.unexpected');
}
