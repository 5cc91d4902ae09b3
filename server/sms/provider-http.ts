import { type SmsErrorCode, SmsProviderError } from './sms.provider.ts';

/** Error codes of a connection that was never made: the request did not leave, so sending again is safe. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

export interface VendorAnswer {
  status: number;
  text: string;
  json: any;
}

/**
 * One request to a vendor API. A failure to connect is retryable; a time-out or a connection lost once the
 * request may have been sent is SMS_OUTCOME_UNKNOWN (not retried: the vendor may have accepted the message).
 */
export async function callVendor(vendor: string, url: string, init: RequestInit, timeoutMs: number): Promise<VendorAnswer> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    text = await res.text();
  } catch (err: any) {
    const code: string | undefined = err?.cause?.code ?? err?.code;
    if (code && NOT_SENT.has(code)) throw new SmsProviderError('SMS_PROVIDER_UNAVAILABLE', `${vendor} SMS API unreachable (${code})`);
    const what = err?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `connection lost (${code ?? err?.message ?? err})`;
    throw new SmsProviderError('SMS_OUTCOME_UNKNOWN', `${vendor} SMS API: ${what}; the message may have been sent, so it is not sent again`);
  }
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** A vendor refusal without a known code: 5xx is retryable, anything else permanent. */
export function statusError(vendor: string, answer: VendorAnswer): SmsProviderError {
  const code: SmsErrorCode = answer.status >= 500 ? 'SMS_PROVIDER_UNAVAILABLE' : 'SMS_REJECTED';
  return new SmsProviderError(code, `${vendor} SMS API answered HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
}
