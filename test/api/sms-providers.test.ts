import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { newVisitor, onlyTask, smsTo, staffClient, submitApplication } from '../helpers/flow.ts';
import { makeMobile } from '../helpers/identities.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';
import { AliyunSmsDouble, TencentSmsDouble } from '../helpers/sms-doubles.ts';

const ALIYUN = { accessKeyId: 'LTAI5tTestKey00000000001', accessKeySecret: 'TestSecret0123456789abcdefABCD', signName: '示例大学' };
const TENCENT = { secretId: 'AKIDtest0123456789abcdefghijklmnopqr', secretKey: 'TestKey0123456789abcdefghijklmno', sdkAppId: '1400006666', signName: '示例大学' };

const aliyunEnv = (url: string) => ({
  SMS_PROVIDER: 'aliyun',
  ALIYUN_SMS_ACCESS_KEY_ID: ALIYUN.accessKeyId,
  ALIYUN_SMS_ACCESS_KEY_SECRET: ALIYUN.accessKeySecret,
  ALIYUN_SMS_SIGN_NAME: ALIYUN.signName,
  ALIYUN_SMS_ENDPOINT: url,
  SMS_TEMPLATES: JSON.stringify({
    approved: { id: 'SMS_1001', params: ['name', 'visitDate', 'flowNumber'] },
    refused: 'SMS_1002',
    expired: 'SMS_1003',
    taskAssigned: { id: 'SMS_1004', params: { staff: 'staffName', no: 'flowNumber' } },
  }),
});

const tencentEnv = (url: string) => ({
  SMS_PROVIDER: 'tencent',
  TENCENT_SMS_SECRET_ID: TENCENT.secretId,
  TENCENT_SMS_SECRET_KEY: TENCENT.secretKey,
  TENCENT_SMS_SDK_APP_ID: TENCENT.sdkAppId,
  TENCENT_SMS_SIGN_NAME: TENCENT.signName,
  TENCENT_SMS_ENDPOINT: url,
  SMS_TEMPLATES: JSON.stringify({
    approved: { id: '2001', params: ['name', 'visitDate', 'flowNumber'] },
    refused: { id: '2002', params: ['name', 'flowNumber', 'opinion'] },
    expired: { id: '2003', params: ['name', 'flowNumber'] },
    taskAssigned: { id: '2004', params: ['staffName', 'flowNumber', 'visitDate'] },
  }),
});

async function approveTwice(server: TestServer, beforeLeader: () => void) {
  const { client: host } = await staffClient(server, 'host-cs');
  const task = (await onlyTask(host)).tasks[0];
  const leader = (await host.get(`/api/tasks/${task.id}`)).body.leaders[0];
  const hostDone = await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '同意来访', leaderStaffId: String(leader.id) } });
  if (hostDone.status !== 200) throw new Error(JSON.stringify(hostDone.body));
  await server.settle();
  beforeLeader();
  const { client: leaderClient } = await staffClient(server, 'leader-cs');
  const leaderTask = (await onlyTask(leaderClient)).tasks[0];
  const leaderDone = await leaderClient.post(`/api/tasks/${leaderTask.id}/complete`, { data: { decision: 'approve', opinion: '同意' } });
  if (leaderDone.status !== 200) throw new Error(JSON.stringify(leaderDone.body));
  await server.settle();
}

for (const kind of await testBackends()) {
  test(`${kind}: aliyun: the visit's SMS go through the Dysms double once per event; a throttled one is retried and sent once`, async (t) => {
    const double = await new AliyunSmsDouble({ ...ALIYUN, templates: ['SMS_1001', 'SMS_1002', 'SMS_1003', 'SMS_1004'] }).start();
    const server = await startTestServer(kind, { env: aliyunEnv(double.url) });
    try {
      const { client, identity } = await newVisitor(server, { name: '李四' });
      const application = await submitApplication(server, client);
      await approveTwice(server, () => double.failNext('isv.BUSINESS_LIMIT_CONTROL', { message: '触发分钟级流控Permits:1' }));

      // the host's notice and the leader's went out; the visitor's was throttled and waits for its retry
      let rows = await smsTo(server);
      t.deepEqual(
        rows.map((r: any) => [r.template, r.status]),
        [
          ['taskAssigned', 'sent'],
          ['taskAssigned', 'sent'],
          ['approved', 'pending'],
        ],
      );
      t.regex(rows[2].last_error, /^SMS_THROTTLED \(isv\.BUSINESS_LIMIT_CONTROL\)/);
      server.clock.advance(30_000);
      await server.settle();
      server.clock.advance(3600_000);
      await server.settle();

      rows = await smsTo(server);
      t.true(rows.every((r: any) => r.status === 'sent'));
      t.is(rows[2].attempts, 2);
      t.is(double.sends.length, 3, 'one accepted send per event');
      t.deepEqual(double.sends[2], {
        phoneNumbers: identity.mobile,
        signName: '示例大学',
        templateCode: 'SMS_1001',
        templateParam: { name: '李四', visitDate: '2026-12-03', flowNumber: application.flowNumber },
        outId: `sms-${rows[2].id}`,
      });
      t.deepEqual(
        double.sends.slice(0, 2).map((s) => [s.templateCode, s.templateParam.no]),
        [
          ['SMS_1004', application.flowNumber],
          ['SMS_1004', application.flowNumber],
        ],
      );
      t.deepEqual(double.answered, ['OK', 'OK', 'isv.BUSINESS_LIMIT_CONTROL', 'OK']);
      t.false(JSON.stringify(server.logs).includes(identity.mobile), 'no clear mobile in the logs');
    } finally {
      await server.close();
      await double.close();
    }
  });

  test(`${kind}: tencent: the visit's SMS go through the SendSms double once per event; a wrong secret fails them for good`, async (t) => {
    const double = await new TencentSmsDouble({ ...TENCENT, templates: { '2001': 3, '2002': 3, '2003': 2, '2004': 3 } }).start();
    t.teardown(() => double.close());
    const server = await startTestServer(kind, { env: tencentEnv(double.url) });
    try {
      const { client, identity } = await newVisitor(server, { name: '李四' });
      const application = await submitApplication(server, client);
      await approveTwice(server, () => double.failNext('LimitExceeded.PhoneNumberThirtySecondLimit'));
      server.clock.advance(30_000);
      await server.settle();
      server.clock.advance(3600_000);
      await server.settle();

      const rows = await smsTo(server);
      t.deepEqual(
        rows.map((r: any) => [r.template, r.status]),
        [
          ['taskAssigned', 'sent'],
          ['taskAssigned', 'sent'],
          ['approved', 'sent'],
        ],
      );
      t.is(double.sends.length, 3, 'one accepted send per event');
      t.deepEqual(double.sends[2], {
        phoneNumber: `+86${identity.mobile}`,
        sdkAppId: TENCENT.sdkAppId,
        signName: '示例大学',
        templateId: '2001',
        templateParamSet: ['李四', '2026-12-03', application.flowNumber],
        sessionContext: `sms-${rows[2].id}`,
      });
      t.deepEqual(double.sends[0].templateParamSet.slice(1), [application.flowNumber, '2026-12-03']);
      t.is(rows.find((r: any) => r.provider_message_id === null), undefined);
      t.false(JSON.stringify(server.logs).includes(identity.mobile), 'no clear mobile in the logs');
    } finally {
      await server.close();
    }

    // the same server with a secret the vendor does not know: the notice fails at once, with the reason
    const wrong = await startTestServer(kind, { env: { ...tencentEnv(double.url), TENCENT_SMS_SECRET_KEY: 'WrongKey0123456789abcdefghijklmn' } });
    const before = double.sends.length;
    try {
      const { client } = await newVisitor(wrong, { name: '王五' });
      await submitApplication(wrong, client);
      wrong.clock.advance(24 * 3600_000);
      await wrong.settle();
      const rows = await smsTo(wrong);
      t.deepEqual(
        rows.map((r: any) => [r.template, r.status, r.attempts]),
        [['taskAssigned', 'failed', 1]],
        rows[0]?.last_error,
      );
      t.regex(rows[0].last_error, /^SMS_CREDENTIALS_REJECTED \(AuthFailure\.SignatureFailure\)/);
      t.is(double.sends.length, before);
    } finally {
      await wrong.close();
    }
  });
}

async function admin(server: TestServer) {
  const client = new ApiClient(server.url);
  const res = await client.post('/api/staff/login', { username: 'admin', password: DEMO_STAFF_PASSWORD });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return client;
}

// The route does not touch the database beyond the login: one back end is enough.
const [firstKind] = await testBackends();

test(`${firstKind}: POST /api/admin/settings/sms/test sends the test template, or answers the vendor's refusal with a stable code`, async (t) => {
  const double = await new AliyunSmsDouble({ ...ALIYUN, templates: ['SMS_1001', 'SMS_1002', 'SMS_1003', 'SMS_1004', 'SMS_1005'] }).start();
  t.teardown(() => double.close());
  const templates = { ...JSON.parse(aliyunEnv(double.url).SMS_TEMPLATES), test: { id: 'SMS_1005', params: ['code'] } };
  const server = await startTestServer(firstKind, { env: { ...aliyunEnv(double.url), SMS_TEMPLATES: JSON.stringify(templates) } });
  const mobile = makeMobile();
  try {
    const host = new ApiClient(server.url);
    await host.post('/api/staff/login', { username: 'host-cs', password: DEMO_STAFF_PASSWORD });
    t.is((await host.post('/api/admin/settings/sms/test', { mobile })).status, 403);
    t.deepEqual(double.sends, []);

    const client = await admin(server);
    const bad = await client.post('/api/admin/settings/sms/test', { mobile: '12345' });
    t.is(bad.status, 400);
    t.is(bad.body.error.code, 'VALIDATION_FAILED');

    const ok = await client.post('/api/admin/settings/sms/test', { mobile });
    t.is(ok.status, 200, JSON.stringify(ok.body));
    t.like(ok.body.test, { ok: true, provider: 'aliyun', template: 'test', to: `${mobile.slice(0, 3)}****${mobile.slice(-4)}` });
    t.is(double.sends.length, 1);
    t.like(double.sends[0], { phoneNumbers: mobile, templateCode: 'SMS_1005' });
    t.regex(double.sends[0].templateParam.code, /^\d{6}$/);
    t.deepEqual(await smsTo(server), [], 'a test is not an outbox message');

    double.failNext('isv.BUSINESS_LIMIT_CONTROL', { message: '触发小时级流控Permits:5' });
    const throttled = await client.post('/api/admin/settings/sms/test', { mobile });
    t.is(throttled.status, 502);
    t.is(throttled.body.error.code, 'SMS_THROTTLED');
    t.like(throttled.body.error.details, { provider: 'aliyun', vendorCode: 'isv.BUSINESS_LIMIT_CONTROL', vendorMessage: '触发小时级流控Permits:5', retryable: true });
    t.false(JSON.stringify(server.logs).includes(mobile), 'no clear mobile in the logs');
  } finally {
    await server.close();
  }

  // bad credentials: the answer says so, with the vendor's own text
  const wrong = await startTestServer(firstKind, { env: { ...aliyunEnv(double.url), ALIYUN_SMS_ACCESS_KEY_SECRET: 'WrongSecret0123456789abcdefABC' }, demo: true });
  try {
    const client = await admin(wrong);
    const res = await client.post('/api/admin/settings/sms/test', { mobile });
    t.is(res.status, 502);
    t.is(res.body.error.code, 'SMS_CREDENTIALS_REJECTED');
    t.regex(res.body.error.message, /^短信服务商拒绝了凭据.*SignatureDoesNotMatch Specified signature is not matched/);
    t.like(res.body.error.details, { provider: 'aliyun', template: 'approved', vendorCode: 'SignatureDoesNotMatch', retryable: false });
    t.is(double.sends.length, 1);
  } finally {
    await wrong.close();
  }
});
