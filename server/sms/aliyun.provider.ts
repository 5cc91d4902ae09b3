import { createHmac, randomUUID } from 'node:crypto';
import { callVendor, statusError } from './provider-http.ts';
import { type SmsErrorCode, type SmsProvider, SmsProviderError, type SmsSendRequest } from './sms.provider.ts';
import { mappingOf, type SmsTemplateMap } from './sms.template-map.ts';

export interface AliyunSmsOptions {
  accessKeyId: string;
  accessKeySecret: string;
  signName: string;
  /** https://dysmsapi.aliyuncs.com (tests point it at a local double). */
  endpoint: string;
  regionId: string;
  templates: SmsTemplateMap;
  timeoutMs?: number;
}

/** RFC 3986 encoding as Alibaba Cloud's RPC signature wants it: space %20, `*` %2A, `~` kept. */
export function aliyunPercentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Signature v1 of an RPC-style call: HMAC-SHA1 over METHOD&%2F&encode(sorted, encoded query), key secret + "&". */
export function aliyunSign(method: string, params: Record<string, string>, secret: string): string {
  const canonical = Object.keys(params)
    .sort()
    .map((k) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(params[k])}`)
    .join('&');
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(canonical)}`;
  return createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}

const THROTTLED = new Set(['isv.BUSINESS_LIMIT_CONTROL', 'isv.DAY_LIMIT_CONTROL', 'isv.MONTH_LIMIT_CONTROL', 'Throttling', 'Throttling.User', 'Throttling.Api', 'Throttling.Quota']);
const UNAVAILABLE = new Set(['isp.SYSTEM_ERROR', 'InternalError', 'ServiceUnavailable', 'SignatureNonceUsed']);
const CREDENTIALS = new Set([
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive',
  'InvalidTimeStamp.Expired',
  'isp.RAM_PERMISSION_DENY',
  'isv.ACCOUNT_NOT_EXISTS',
  'isv.ACCOUNT_ABNORMAL',
  'Forbidden.RAM',
  'Forbidden.AccessKeyDisabled',
]);
const TEMPLATE = new Set([
  'isv.SMS_TEMPLATE_ILLEGAL',
  'isv.SMS_SIGNATURE_ILLEGAL',
  'isv.SIGN_STATE_ILLEGAL',
  'isv.SMS_SIGNATURE_SCENE_ILLEGAL',
  'isv.TEMPLATE_MISSING_PARAMETERS',
  'isv.TEMPLATE_PARAMS_ILLEGAL',
  'isv.INVALID_JSON_PARAM',
  'isv.PARAM_LENGTH_LIMIT',
  'isv.PARAM_NOT_SUPPORT_URL',
  'isv.BLACK_KEY_CONTROL_LIMIT',
]);
const MOBILE = new Set(['isv.MOBILE_NUMBER_ILLEGAL', 'isv.MOBILE_COUNT_OVER_LIMIT', 'isv.DOMESTIC_NUMBER_NOT_SUPPORTED']);

/** Our stable code for one of Dysms's error codes (https://help.aliyun.com/document_detail/101346.html). */
export function classifyAliyunCode(code: string, httpStatus: number): SmsErrorCode {
  if (THROTTLED.has(code) || code.startsWith('Throttling')) return 'SMS_THROTTLED';
  if (UNAVAILABLE.has(code)) return 'SMS_PROVIDER_UNAVAILABLE';
  if (CREDENTIALS.has(code) || code.startsWith('InvalidAccessKeyId')) return 'SMS_CREDENTIALS_REJECTED';
  if (TEMPLATE.has(code)) return 'SMS_TEMPLATE_REJECTED';
  if (MOBILE.has(code)) return 'SMS_MOBILE_INVALID';
  return httpStatus >= 500 ? 'SMS_PROVIDER_UNAVAILABLE' : 'SMS_REJECTED';
}

/** Alibaba Cloud SMS (Dysms) SendSms, API version 2017-05-25, RPC style, signed with the AccessKey (signature v1). */
export class AliyunSmsProvider implements SmsProvider {
  readonly name = 'aliyun';
  constructor(private readonly opts: AliyunSmsOptions) {}

  hasTemplate(template: string): boolean {
    return Object.hasOwn(this.opts.templates, template);
  }

  /** TemplateParam: the values the vendor template names, as a JSON object of strings. */
  templateParam(template: string, params: Record<string, string>): Record<string, string> {
    const mapping = mappingOf(this.name, this.opts.templates, template);
    const spec = mapping.params;
    if (!spec) return { ...params };
    if (Array.isArray(spec)) return Object.fromEntries(spec.map((name) => [name, params[name] ?? '']));
    return Object.fromEntries(Object.entries(spec).map(([vendorName, ours]) => [vendorName, params[ours] ?? '']));
  }

  async send(message: SmsSendRequest): Promise<{ messageId: string }> {
    const mapping = mappingOf(this.name, this.opts.templates, message.template);
    const params: Record<string, string> = {
      AccessKeyId: this.opts.accessKeyId,
      Action: 'SendSms',
      Format: 'JSON',
      RegionId: this.opts.regionId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: randomUUID(),
      SignatureVersion: '1.0',
      Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      Version: '2017-05-25',
      PhoneNumbers: message.to,
      SignName: this.opts.signName,
      TemplateCode: mapping.id,
      TemplateParam: JSON.stringify(this.templateParam(message.template, message.params)),
      ...(message.reference ? { OutId: message.reference } : {}),
    };
    const body = new URLSearchParams({ ...params, Signature: aliyunSign('POST', params, this.opts.accessKeySecret) });
    const answer = await callVendor(
      'aliyun',
      new URL('/', this.opts.endpoint).href,
      { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: body.toString() },
      this.opts.timeoutMs ?? 10_000,
    );
    const code = answer.json?.Code;
    if (answer.status === 200 && code === 'OK') return { messageId: String(answer.json.BizId ?? answer.json.RequestId ?? '') };
    if (typeof code !== 'string') throw statusError('aliyun', answer);
    throw new SmsProviderError(classifyAliyunCode(code, answer.status), this.vendorText(String(answer.json.Message ?? code)), code);
  }

  /**
   * The vendor's text as kept in the outbox and shown to an administrator: a refused signature echoes the whole
   * string it signed, AccessKey ID and mobile included; that part is dropped and the key ID masked anywhere.
   */
  vendorText(message: string): string {
    const id = this.opts.accessKeyId;
    const masked = id.length > 8 ? `${id.slice(0, 4)}****${id.slice(-4)}` : '****';
    return message.replace(/\s*server string to sign is:[\s\S]*$/i, '').split(id).join(masked);
  }
}
