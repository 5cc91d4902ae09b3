/**
 * Local HTTP doubles of the SMS vendors' APIs, for tests only. Each checks a request the way the vendor
 * documents it, with its own implementation of the signature (not the server's), refuses a wrong one with
 * the vendor's error code, records what it accepted and can be told to fail with a chosen vendor code.
 *
 * - aliyun: Dysms SendSms 2017-05-25, RPC style, signature v1 (HMAC-SHA1, key = AccessKeySecret + "&").
 * - tencent: SMS SendSms 2021-01-11, TC3-HMAC-SHA256 (Authorization header, X-TC-* headers).
 */
import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type Failure = { code: string; message: string; times: number; where?: 'error' | 'status'; httpStatus?: number };

abstract class Double<Send> {
  /** Requests that passed every check and were accepted. */
  readonly sends: Send[] = [];
  /** Every request received, with the vendor code it was answered with. */
  readonly answered: string[] = [];
  url = '';
  protected failures: Failure[] = [];
  protected dropAnswers = 0;
  private server: http.Server | undefined;

  /** The next `times` requests that pass the signature check are refused with this vendor code. */
  failNext(code: string, options: { times?: number; message?: string; where?: 'error' | 'status'; httpStatus?: number } = {}): void {
    this.failures.push({ code, message: options.message ?? `${code} (test double)`, times: options.times ?? 1, where: options.where, httpStatus: options.httpStatus });
  }

  /** The next `times` requests are accepted (and recorded) but the connection is cut before the answer. */
  acceptThenDropConnection(times = 1): void {
    this.dropAnswers += times;
  }

  protected takeFailure(): Failure | undefined {
    const f = this.failures[0];
    if (!f) return undefined;
    if (--f.times <= 0) this.failures.shift();
    return f;
  }

  protected abstract handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): unknown;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  protected json(res: http.ServerResponse, status: number, body: unknown, code: string): void {
    this.answered.push(code);
    res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  protected drop(res: http.ServerResponse, code: string): boolean {
    if (this.dropAnswers <= 0) return false;
    this.dropAnswers--;
    this.answered.push(`${code} (connection dropped)`);
    res.socket?.destroy();
    return true;
  }
}

const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

// ---------------------------------------------------------------------------------------------- aliyun

export interface AliyunSend {
  phoneNumbers: string;
  signName: string;
  templateCode: string;
  templateParam: Record<string, string>;
  /** OutId: the sender's own id of the event (ours: sms-<outbox id>). */
  outId?: string;
}

/** Percent-encoding of Alibaba Cloud's signature v1: every byte but A-Z a-z 0-9 - _ . ~ as %XX (upper case). */
function popEncode(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export class AliyunSmsDouble extends Double<AliyunSend> {
  private readonly nonces = new Set<string>();
  constructor(
    readonly account: { accessKeyId: string; accessKeySecret: string; signName: string; templates: string[] },
  ) {
    super();
  }

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): unknown {
    const requestId = randomUUID().toUpperCase();
    const url = new URL(req.url ?? '/', 'http://double');
    const query = req.method === 'POST' ? new URLSearchParams(body) : url.searchParams;
    const params: Record<string, string> = {};
    for (const [k, v] of query) params[k] = v;
    const refuse = (status: number, code: string, message: string) => this.json(res, status, { RequestId: requestId, HostId: 'dysmsapi.aliyuncs.com', Code: code, Message: message }, code);

    if (url.pathname !== '/') return refuse(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
    for (const k of ['AccessKeyId', 'Signature', 'SignatureNonce', 'Timestamp', 'SignatureMethod', 'SignatureVersion', 'Action', 'Version']) {
      if (!params[k]) return refuse(400, `MissingParameter`, `${k} is mandatory for this action.`);
    }
    if (params.AccessKeyId !== this.account.accessKeyId) return refuse(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0') return refuse(400, 'InvalidParameter', 'SignatureMethod/SignatureVersion');
    const { Signature, ...signed } = params;
    const canonical = Object.keys(signed)
      .sort()
      .map((k) => `${popEncode(k)}=${popEncode(signed[k])}`)
      .join('&');
    const stringToSign = `${req.method}&${popEncode('/')}&${popEncode(canonical)}`;
    const expected = createHmac('sha1', `${this.account.accessKeySecret}&`).update(stringToSign, 'utf8').digest('base64');
    if (!safeEqual(expected, Signature)) {
      return refuse(400, 'SignatureDoesNotMatch', `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`);
    }
    // a Timestamp is valid for 31 minutes (RPC signature v1)
    const skew = Math.abs(Date.now() - Date.parse(params.Timestamp));
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(params.Timestamp) || !(skew <= 31 * 60_000)) {
      return refuse(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    if (this.nonces.has(params.SignatureNonce)) return refuse(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.nonces.add(params.SignatureNonce);
    if (params.Action !== 'SendSms' || params.Version !== '2017-05-25') return refuse(404, 'InvalidAction.NotFound', 'Specified api is not found.');

    const ok = (code: string, message: string) => this.json(res, 200, { RequestId: requestId, Code: code, Message: message }, code);
    const failure = this.takeFailure();
    if (failure) {
      if (failure.httpStatus) return refuse(failure.httpStatus, failure.code, failure.message);
      return ok(failure.code, failure.message);
    }
    if (!/^1[3-9]\d{9}$/.test(params.PhoneNumbers ?? '')) return ok('isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    if (params.SignName !== this.account.signName) return ok('isv.SMS_SIGNATURE_ILLEGAL', '该账号下找不到对应签名');
    if (!this.account.templates.includes(params.TemplateCode)) return ok('isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
    let templateParam: Record<string, string>;
    try {
      templateParam = JSON.parse(params.TemplateParam ?? '{}');
    } catch {
      return ok('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
    }
    if (Object.values(templateParam).some((v) => typeof v !== 'string')) return ok('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
    if (this.drop(res, 'OK')) {
      this.sends.push({ phoneNumbers: params.PhoneNumbers, signName: params.SignName, templateCode: params.TemplateCode, templateParam, ...(params.OutId ? { outId: params.OutId } : {}) });
      return;
    }
    this.sends.push({ phoneNumbers: params.PhoneNumbers, signName: params.SignName, templateCode: params.TemplateCode, templateParam, ...(params.OutId ? { outId: params.OutId } : {}) });
    this.json(res, 200, { RequestId: requestId, Code: 'OK', Message: 'OK', BizId: `${Date.now()}^${this.sends.length}` }, 'OK');
  }
}

// --------------------------------------------------------------------------------------------- tencent

export interface TencentSend {
  phoneNumber: string;
  sdkAppId: string;
  signName: string;
  templateId: string;
  templateParamSet: string[];
  /** SessionContext: echoed by the vendor (ours: sms-<outbox id>). */
  sessionContext?: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac256 = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

export class TencentSmsDouble extends Double<TencentSend> {
  constructor(
    readonly account: {
      secretId: string;
      secretKey: string;
      sdkAppId: string;
      signName: string;
      /** Template id -> how many parameters ({1}..{n}) it has. */
      templates: Record<string, number>;
    },
  ) {
    super();
  }

  protected handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): unknown {
    const requestId = randomUUID();
    const error = (code: string, message: string) => this.json(res, 200, { Response: { Error: { Code: code, Message: message }, RequestId: requestId } }, code);
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : (v ?? '');
    };
    const auth = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d\d-\d\d)\/([a-z]+)\/tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(header('authorization'));
    if (req.method !== 'POST' || !auth) return error('AuthFailure.InvalidAuthorization', 'Authorization in the request header is invalid.');
    const [, secretId, date, service, signedHeaders, signature] = auth;
    if (secretId !== this.account.secretId) return error('AuthFailure.SecretIdNotFound', 'The SecretId is not found, please ensure that your SecretId is correct.');
    const timestamp = Number(header('x-tc-timestamp'));
    if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) {
      return error('AuthFailure.SignatureExpire', 'Signature expired. Timestamp and server time cannot differ by more than five minutes.');
    }
    const names = signedHeaders.split(';');
    if (!names.includes('host') || !names.includes('content-type')) return error('AuthFailure.InvalidAuthorization', 'SignedHeaders must contain host and content-type.');
    // Canonical headers: name and value in lower case, trimmed, in the order SignedHeaders lists them.
    const canonicalHeaders = names.map((n) => `${n}:${header(n).trim().toLowerCase()}\n`).join('');
    const canonicalRequest = [req.method, new URL(req.url ?? '/', 'http://double').pathname, '', canonicalHeaders, signedHeaders, sha256(body)].join('\n');
    const expectedDate = new Date(timestamp * 1000).toISOString().slice(0, 10);
    const stringToSign = ['TC3-HMAC-SHA256', String(timestamp), `${expectedDate}/${service}/tc3_request`, sha256(canonicalRequest)].join('\n');
    const key = hmac256(hmac256(hmac256(`TC3${this.account.secretKey}`, expectedDate), service), 'tc3_request');
    const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
    if (date !== expectedDate || service !== 'sms' || !safeEqual(expected, signature)) {
      return error('AuthFailure.SignatureFailure', 'The provided credentials could not be validated. Please check your signature is correct.');
    }
    if (header('x-tc-action') !== 'SendSms') return error('InvalidAction', 'The action requested does not exist.');
    if (header('x-tc-version') !== '2021-01-11') return error('NoSuchVersion', 'The requested version does not exist.');
    if (!header('x-tc-region')) return error('MissingParameter', 'The request is missing a required parameter `Region`.');
    let payload: any;
    try {
      payload = JSON.parse(body);
    } catch {
      return error('InvalidParameter', 'The request body is not valid JSON.');
    }
    const failure = this.takeFailure();
    const phone = String(payload.PhoneNumberSet?.[0] ?? '');
    const status = (code: string, message: string, serial = '') =>
      this.json(
        res,
        200,
        { Response: { SendStatusSet: [{ SerialNo: serial, PhoneNumber: phone, Fee: code === 'Ok' ? 1 : 0, SessionContext: String(payload.SessionContext ?? ''), Code: code, Message: message, IsoCode: 'CN' }], RequestId: requestId } },
        code,
      );
    if (failure) {
      const where = failure.where ?? (failure.code.startsWith('LimitExceeded.PhoneNumber') || failure.code.startsWith('LimitExceeded.Delivery') ? 'status' : 'error');
      return where === 'status' ? status(failure.code, failure.message) : error(failure.code, failure.message);
    }
    if (payload.SmsSdkAppId !== this.account.sdkAppId) return error('InvalidParameterValue.SdkAppIdNotExist', 'SdkAppId does not exist.');
    if (!Array.isArray(payload.PhoneNumberSet) || payload.PhoneNumberSet.length !== 1) return error('InvalidParameterValue.IncorrectPhoneNumber', 'PhoneNumberSet');
    if (!/^\+861[3-9]\d{9}$/.test(phone)) return status('InvalidParameterValue.IncorrectPhoneNumber', 'incorrect phone number');
    if (payload.SignName !== this.account.signName) return status('FailedOperation.SignatureIncorrectOrUnapproved', 'signature is not approved or format error');
    const params = payload.TemplateParamSet ?? [];
    const expectedCount = this.account.templates[payload.TemplateId];
    if (expectedCount === undefined || !Array.isArray(params) || params.length !== expectedCount || params.some((p: unknown) => typeof p !== 'string')) {
      return status('FailedOperation.TemplateIncorrectOrUnapproved', 'template is not approved or request content does not match the approved template content');
    }
    const send = { phoneNumber: phone, sdkAppId: payload.SmsSdkAppId, signName: payload.SignName, templateId: payload.TemplateId, templateParamSet: params, ...(payload.SessionContext ? { sessionContext: String(payload.SessionContext) } : {}) };
    this.sends.push(send);
    if (this.drop(res, 'Ok')) return;
    status('Ok', 'send success', `2640:${Date.now()}${this.sends.length}`);
  }
}

/** The flow's four templates, as a vendor mapping made before the optional ones existed has them. */
export const FLOW_TEMPLATE_IDS = { approved: 'SMS_1001', refused: 'SMS_1002', expired: 'SMS_1003', taskAssigned: 'SMS_1004' };

/**
 * The environment of a server on the aliyun provider with these template ids (no double: nothing is sent), for tests
 * of what a missing optional template refuses before anything is queued.
 */
export function aliyunEnv(templates: Record<string, string>): Record<string, string> {
  return {
    SMS_PROVIDER: 'aliyun',
    ALIYUN_SMS_ACCESS_KEY_ID: 'LTAI5tTestKey00000000001',
    ALIYUN_SMS_ACCESS_KEY_SECRET: 'TestSecret0123456789abcdefABCD',
    ALIYUN_SMS_SIGN_NAME: '示例大学',
    SMS_TEMPLATES: JSON.stringify(templates),
  };
}
