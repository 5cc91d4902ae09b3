import { createHash, createHmac } from 'node:crypto';
import { callVendor, statusError } from './provider-http.ts';
import { type SmsErrorCode, type SmsProvider, SmsProviderError, type SmsSendRequest } from './sms.provider.ts';
import { mappingOf, type SmsTemplateMap } from './sms.template-map.ts';

export interface TencentSmsOptions {
  secretId: string;
  secretKey: string;
  sdkAppId: string;
  signName: string;
  /** https://sms.tencentcloudapi.com (tests point it at a local double). */
  endpoint: string;
  region: string;
  templates: SmsTemplateMap;
  /** Our placeholder names per template, in order: the TemplateParamSet of a mapping without its own params list. */
  defaultParamOrder: Record<string, string[]>;
  timeoutMs?: number;
}

const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s).digest();

/** The TC3-HMAC-SHA256 Authorization header of a JSON POST to `/` (signed headers content-type and host). */
export function tencentAuthorization(opts: { secretId: string; secretKey: string; host: string; payload: string; timestamp: number; service?: string }): string {
  const service = opts.service ?? 'sms';
  const date = new Date(opts.timestamp * 1000).toISOString().slice(0, 10);
  const canonicalRequest = ['POST', '/', '', `content-type:application/json; charset=utf-8\nhost:${opts.host.toLowerCase()}\n`, 'content-type;host', sha256hex(opts.payload)].join('\n');
  const scope = `${date}/${service}/tc3_request`;
  const stringToSign = ['TC3-HMAC-SHA256', String(opts.timestamp), scope, sha256hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(`TC3${opts.secretKey}`, date), service), 'tc3_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return `TC3-HMAC-SHA256 Credential=${opts.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

const TEMPLATE = new Set([
  'FailedOperation.TemplateIncorrectOrUnapproved',
  'FailedOperation.SignatureIncorrectOrUnapproved',
  'FailedOperation.ContainSensitiveWord',
  'FailedOperation.MissingSignature',
  'FailedOperation.MissingTemplateToModify',
  'InvalidParameterValue.TemplateParameterFormatError',
  'InvalidParameterValue.TemplateParameterLengthLimit',
  'InvalidParameterValue.ProhibitedUseUrlInTemplateParameter',
  'InvalidParameterValue.ContentLengthLimit',
  'InvalidParameterValue.MissingSignatureList',
]);
const MOBILE = new Set([
  'InvalidParameterValue.IncorrectPhoneNumber',
  'FailedOperation.PhoneNumberInBlacklist',
  'FailedOperation.PhoneNumberOnBlacklist',
  'UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber',
]);

/** Our stable code for a Tencent Cloud API / SMS error code (https://cloud.tencent.com/document/api/382/52075). */
export function classifyTencentCode(code: string): SmsErrorCode {
  if (code.startsWith('LimitExceeded') || code.startsWith('RequestLimitExceeded')) return 'SMS_THROTTLED';
  if (code.startsWith('InternalError') || code === 'ResourceUnavailable') return 'SMS_PROVIDER_UNAVAILABLE';
  if (code.startsWith('AuthFailure') || code.startsWith('UnauthorizedOperation') || code === 'InvalidParameterValue.SdkAppIdNotExist') {
    return 'SMS_CREDENTIALS_REJECTED';
  }
  if (TEMPLATE.has(code)) return 'SMS_TEMPLATE_REJECTED';
  if (MOBILE.has(code)) return 'SMS_MOBILE_INVALID';
  return 'SMS_REJECTED';
}

/** Tencent Cloud SMS SendSms, API version 2021-01-11, signed with TC3-HMAC-SHA256. */
export class TencentSmsProvider implements SmsProvider {
  readonly name = 'tencent';
  constructor(private readonly opts: TencentSmsOptions) {}

  hasTemplate(template: string): boolean {
    return Object.hasOwn(this.opts.templates, template);
  }

  /** TemplateParamSet: our values in the order of the vendor template's {1}, {2}, ... */
  templateParamSet(template: string, params: Record<string, string>): string[] {
    const mapping = mappingOf(this.name, this.opts.templates, template);
    const order = Array.isArray(mapping.params) ? mapping.params : (this.opts.defaultParamOrder[template] ?? []);
    return order.map((name) => params[name] ?? '');
  }

  async send(message: SmsSendRequest): Promise<{ messageId: string }> {
    const mapping = mappingOf(this.name, this.opts.templates, message.template);
    const payload = JSON.stringify({
      PhoneNumberSet: [`+86${message.to}`],
      SmsSdkAppId: this.opts.sdkAppId,
      SignName: this.opts.signName,
      TemplateId: mapping.id,
      TemplateParamSet: this.templateParamSet(message.template, message.params),
      ...(message.reference ? { SessionContext: message.reference } : {}),
    });
    const url = new URL('/', this.opts.endpoint);
    const timestamp = Math.floor(Date.now() / 1000);
    const answer = await callVendor(
      'tencent',
      url.href,
      {
        method: 'POST',
        headers: {
          authorization: tencentAuthorization({ secretId: this.opts.secretId, secretKey: this.opts.secretKey, host: url.host, payload, timestamp }),
          'content-type': 'application/json; charset=utf-8',
          'x-tc-action': 'SendSms',
          'x-tc-version': '2021-01-11',
          'x-tc-timestamp': String(timestamp),
          'x-tc-region': this.opts.region,
        },
        body: payload,
      },
      this.opts.timeoutMs ?? 10_000,
    );
    const response = answer.json?.Response;
    if (answer.status !== 200 || !response) throw statusError('tencent', answer);
    if (response.Error) {
      const code = String(response.Error.Code);
      throw new SmsProviderError(classifyTencentCode(code), String(response.Error.Message ?? code), code);
    }
    const status = response.SendStatusSet?.[0];
    if (!status) throw new SmsProviderError('SMS_REJECTED', `tencent SMS API answered without a send status (RequestId ${response.RequestId})`);
    if (status.Code !== 'Ok') {
      const code = String(status.Code);
      throw new SmsProviderError(classifyTencentCode(code), String(status.Message ?? code), code);
    }
    return { messageId: String(status.SerialNo ?? response.RequestId ?? '') };
  }
}
