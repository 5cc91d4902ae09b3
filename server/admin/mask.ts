import { maskIdNumber, maskMobile } from '../crypto/field-crypto.ts';

// A resident ID number (GB 11643 layout: region, birth date, sequence, check) or a mainland mobile, anywhere
// in a string. Engine keys and flow numbers do not have these shapes.
const ID_NUMBER = /(?<![\dA-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])/g;
const MOBILE = /(?<!\d)1[3-9]\d{9}(?!\d)/g;

export function maskText(text: string): string {
  return text.replace(ID_NUMBER, (m) => maskIdNumber(m)).replace(MOBILE, (m) => maskMobile(m));
}

/**
 * Masks anything that looks like an ID number or a mobile in a JSON-like value. Process variables and audit
 * snapshots should hold none in clear anyway; this is the defence for a model or a caller that slips one in.
 */
export function maskDeep<T>(value: T): T {
  if (typeof value === 'string') return maskText(value) as T;
  if (typeof value === 'number' && Number.isInteger(value) && String(value).length === 11) return maskText(String(value)) as T;
  if (Array.isArray(value)) return value.map((v) => maskDeep(v)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskDeep(v)])) as T;
  }
  return value;
}
