import net from 'node:net';
import test from 'ava';
import { AliyunSmsProvider } from '../../server/sms/aliyun.provider.ts';
import { SmsProviderError, type SmsSendRequest } from '../../server/sms/sms.provider.ts';
import { TencentSmsProvider } from '../../server/sms/tencent.provider.ts';
import { AliyunSmsDouble, TencentSmsDouble } from '../helpers/sms-doubles.ts';

const ALIYUN = { accessKeyId: 'LTAI5tTestKey00000000001', accessKeySecret: 'TestSecret0123456789abcdefABCD', signName: '示例大学' };
const TENCENT = { secretId: 'AKIDtest0123456789abcdefghijklmnopqr', secretKey: 'TestKey0123456789abcdefghijklmno', sdkAppId: '1400006666', signName: '示例大学' };

const message = (overrides: Partial<SmsSendRequest> = {}): SmsSendRequest => ({
  to: '13912345678',
  template: 'approved',
  // a value with characters the percent-encoding treats specially
  params: { name: '张三 (访客)*', visitDate: '2026-12-03', flowNumber: 'VF20261201000001', opinion: "同意~!'" },
  body: '【示例大学】张三，您的申请已审核通过',
  ...overrides,
});

async function aliyun(t: any, overrides: Partial<typeof ALIYUN> = {}) {
  const double = await new AliyunSmsDouble({ ...ALIYUN, templates: ['SMS_1001', 'SMS_1002'] }).start();
  t.teardown(() => double.close());
  const provider = new AliyunSmsProvider({
    ...ALIYUN,
    ...overrides,
    endpoint: double.url,
    regionId: 'cn-hangzhou',
    templates: { approved: { id: 'SMS_1001', params: ['name', 'visitDate', 'flowNumber', 'opinion'] }, refused: { id: 'SMS_1002', params: { no: 'flowNumber' } } },
    timeoutMs: 2000,
  });
  return { double, provider };
}

async function tencent(t: any, overrides: Partial<typeof TENCENT> = {}) {
  const double = await new TencentSmsDouble({ ...TENCENT, templates: { '2001': 3, '2002': 2 } }).start();
  t.teardown(() => double.close());
  const provider = new TencentSmsProvider({
    ...TENCENT,
    ...overrides,
    endpoint: double.url,
    region: 'ap-guangzhou',
    templates: { approved: { id: '2001', params: ['name', 'visitDate', 'flowNumber'] }, refused: { id: '2002', params: ['flowNumber'] } },
    defaultParamOrder: {},
    timeoutMs: 2000,
  });
  return { double, provider };
}

async function refusal(t: any, promise: Promise<unknown>): Promise<SmsProviderError> {
  const err = await t.throwsAsync(promise, { instanceOf: SmsProviderError });
  return err as SmsProviderError;
}

test('aliyun: a correctly signed SendSms reaches the double with the template code and the mapped parameters', async (t) => {
  const { double, provider } = await aliyun(t);
  const { messageId } = await provider.send(message());
  t.truthy(messageId);
  t.deepEqual(double.sends, [
    {
      phoneNumbers: '13912345678',
      signName: '示例大学',
      templateCode: 'SMS_1001',
      templateParam: { name: '张三 (访客)*', visitDate: '2026-12-03', flowNumber: 'VF20261201000001', opinion: "同意~!'" },
    },
  ]);
  // a map renames our values to the vendor template's names
  await provider.send(message({ template: 'refused' }));
  t.deepEqual(double.sends[1].templateParam, { no: 'VF20261201000001' });
  t.deepEqual(double.answered, ['OK', 'OK']);
});

test('aliyun: a wrong secret is refused by the signature check and reported as permanent bad credentials', async (t) => {
  const { double, provider } = await aliyun(t, { accessKeySecret: 'WrongSecret0123456789abcdefABC' });
  const err = await refusal(t, provider.send(message()));
  t.like(err, { code: 'SMS_CREDENTIALS_REJECTED', vendorCode: 'SignatureDoesNotMatch', retryable: false });
  t.regex(err.message, /signature is not matched/);
  t.deepEqual(double.sends, []);

  const unknownKey = await aliyun(t, { accessKeyId: 'LTAI5tSomeoneElse0000001' });
  const err2 = await refusal(t, unknownKey.provider.send(message()));
  t.like(err2, { code: 'SMS_CREDENTIALS_REJECTED', vendorCode: 'InvalidAccessKeyId.NotFound', retryable: false });
});

test('aliyun: throttling and 5xx are retryable; a bad mobile or template is permanent; an unmapped template sends nothing', async (t) => {
  const { double, provider } = await aliyun(t);
  double.failNext('isv.BUSINESS_LIMIT_CONTROL', { message: '触发分钟级流控Permits:1' });
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_THROTTLED', vendorCode: 'isv.BUSINESS_LIMIT_CONTROL', retryable: true });
  double.failNext('Throttling.User', { httpStatus: 400 });
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_THROTTLED', retryable: true });
  double.failNext('ServiceUnavailable', { httpStatus: 503 });
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_PROVIDER_UNAVAILABLE', retryable: true });
  t.like(await refusal(t, provider.send(message({ to: '1391234567' }))), { code: 'SMS_MOBILE_INVALID', vendorCode: 'isv.MOBILE_NUMBER_ILLEGAL', retryable: false });
  double.failNext('isv.SMS_TEMPLATE_ILLEGAL');
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_TEMPLATE_REJECTED', retryable: false });
  const requests = double.answered.length;
  t.like(await refusal(t, provider.send(message({ template: 'expired' }))), { code: 'SMS_TEMPLATE_REJECTED', retryable: false });
  t.is(double.answered.length, requests, 'no request for a template without a vendor id');
  t.deepEqual(double.sends, []);
});

test('aliyun: an answer lost after the vendor accepted is an unknown outcome, not retried; an unreachable API is retryable', async (t) => {
  const { double, provider } = await aliyun(t);
  double.acceptThenDropConnection();
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_OUTCOME_UNKNOWN', retryable: false });
  t.is(double.sends.length, 1);

  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const nowhere = new AliyunSmsProvider({ ...ALIYUN, endpoint: `http://127.0.0.1:${port}`, regionId: 'cn-hangzhou', templates: { approved: { id: 'SMS_1001' } } });
  t.like(await refusal(t, nowhere.send(message())), { code: 'SMS_PROVIDER_UNAVAILABLE', retryable: true });
});

test('tencent: a correctly signed SendSms reaches the double with the template id and the parameters in order', async (t) => {
  const { double, provider } = await tencent(t);
  const { messageId } = await provider.send(message());
  t.regex(messageId, /^2640:/);
  t.deepEqual(double.sends, [
    { phoneNumber: '+8613912345678', sdkAppId: '1400006666', signName: '示例大学', templateId: '2001', templateParamSet: ['张三 (访客)*', '2026-12-03', 'VF20261201000001'] },
  ]);
});

test('tencent: a wrong secret key is refused by the signature check and reported as permanent bad credentials', async (t) => {
  const { double, provider } = await tencent(t, { secretKey: 'WrongKey0123456789abcdefghijklmn' });
  const err = await refusal(t, provider.send(message()));
  t.like(err, { code: 'SMS_CREDENTIALS_REJECTED', vendorCode: 'AuthFailure.SignatureFailure', retryable: false });
  t.deepEqual(double.sends, []);
  const other = await tencent(t, { secretId: 'AKIDsomeoneelse0123456789abcdefghijk' });
  t.like(await refusal(t, other.provider.send(message())), { code: 'SMS_CREDENTIALS_REJECTED', vendorCode: 'AuthFailure.SecretIdNotFound' });
});

test('tencent: LimitExceeded.* and InternalError are retryable; a template mismatch or a bad number is permanent', async (t) => {
  const { double, provider } = await tencent(t);
  double.failNext('LimitExceeded.PhoneNumberThirtySecondLimit');
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_THROTTLED', vendorCode: 'LimitExceeded.PhoneNumberThirtySecondLimit', retryable: true });
  double.failNext('RequestLimitExceeded');
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_THROTTLED', retryable: true });
  double.failNext('InternalError.Timeout');
  t.like(await refusal(t, provider.send(message())), { code: 'SMS_PROVIDER_UNAVAILABLE', retryable: true });
  // the vendor template 2002 has two parameters, the mapping gives one
  t.like(await refusal(t, provider.send(message({ template: 'refused' }))), {
    code: 'SMS_TEMPLATE_REJECTED',
    vendorCode: 'FailedOperation.TemplateIncorrectOrUnapproved',
    retryable: false,
  });
  t.like(await refusal(t, provider.send(message({ to: '1391234567' }))), { code: 'SMS_MOBILE_INVALID', vendorCode: 'InvalidParameterValue.IncorrectPhoneNumber' });
  t.deepEqual(double.sends, []);
});
