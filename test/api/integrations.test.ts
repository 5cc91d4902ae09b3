import crypto from 'node:crypto';
import test from 'ava';
import { AuditService } from '../../server/admin/audit.service.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { FieldCrypto } from '../../server/crypto/field-crypto.ts';
import { IntegrationSettingsService } from '../../server/integrations/integration-settings.service.ts';
import { createLogger } from '../../server/logger.ts';
import { SmsService } from '../../server/sms/sms.service.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, staffClient, submitApplication } from '../helpers/flow.ts';
import { makeMobile } from '../helpers/identities.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { AliyunSmsDouble, TencentSmsDouble } from '../helpers/sms-doubles.ts';
import { WechatDouble } from '../helpers/wechat-double.ts';

const ALIYUN = { accessKeyId: 'LTAI5tPageKey00000000042', accessKeySecret: 'PageSecret0123456789abcdefWXYZ', signName: '示例大学' };
const TENCENT = { secretId: 'AKIDpage0123456789abcdefghijklmnopqr', secretKey: 'PageKey0123456789abcdefghijkl7788', sdkAppId: '1400006666', signName: '示例大学' };
const ALIYUN_TEMPLATES = {
  approved: { id: 'SMS_1001', params: ['name', 'visitDate', 'flowNumber'] },
  refused: 'SMS_1002',
  expired: 'SMS_1003',
  taskAssigned: { id: 'SMS_1004', params: { staff: 'staffName', no: 'flowNumber' } },
  test: { id: 'SMS_1005', params: ['code'] },
};
const APP_ID = 'wx0123456789abcdef';
const APP_SECRET = '0123456789abcdef0123456789abcdef';
const TEMPLATE_ID = 'Tpl_TaskAssigned-0123456789abcdefghijklmnopq';
const HOST_OPENID = 'oHost_0123456789abcdefghijkl';
const WECHAT_TEMPLATES = { taskAssigned: { templateId: TEMPLATE_ID, fields: { thing1: 'taskName', character_string2: 'flowNumber', thing4: 'staffName' } } };

const aliyunDouble = () => new AliyunSmsDouble({ ...ALIYUN, templates: ['SMS_1001', 'SMS_1002', 'SMS_1003', 'SMS_1004', 'SMS_1005'] }).start();

/** A jsonb column: an object on pg, a string on some drivers. */
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as any;

/** Every row of the table as text, as a database dump would show it. */
const tableText = async (server: TestServer, table: string) => JSON.stringify(await server.db.knex(table).select());

for (const kind of await testBackends()) {
  test(`${kind}: aliyun credentials saved on the page are sealed in the database, never answered, and both the send test and the visit's SMS use them`, async (t) => {
    const double = await aliyunDouble();
    // The vendor's address is the operator's (environment); the administrator enters the account.
    const server = await startTestServer(kind, { env: { ALIYUN_SMS_ENDPOINT: double.url } });
    t.teardown(() => double.close());
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const before = (await admin.get('/api/admin/integrations')).body;
      t.like(before.sms.fields.provider, { source: 'default', value: 'console' });
      t.like(before.sms.fields['aliyun.accessKeySecret'], { source: 'default', set: false });
      t.is(before.sms.operator.ALIYUN_SMS_ENDPOINT, double.url, 'the endpoint is shown, read-only');

      const saved = await admin.request('PUT', '/api/admin/integrations/sms', { provider: 'aliyun', aliyun: ALIYUN, templates: ALIYUN_TEMPLATES });
      t.is(saved.status, 200, JSON.stringify(saved.body));
      const view = (await admin.get('/api/admin/integrations')).body;
      for (const answer of [saved.body, view]) {
        const text = JSON.stringify(answer);
        t.false(text.includes(ALIYUN.accessKeySecret), 'the secret is never answered');
        t.false(text.includes(ALIYUN.accessKeyId), 'nor the AccessKey ID');
      }
      t.like(view.sms.fields['aliyun.accessKeySecret'], { source: 'saved', secret: true, set: true, last4: 'WXYZ' });
      t.like(view.sms.fields['aliyun.accessKeyId'], { source: 'saved', set: true, last4: '0042' });
      t.like(view.sms.fields['aliyun.signName'], { source: 'saved', value: '示例大学' });
      t.deepEqual(view.sms.problems, []);

      // the database holds the credentials sealed, bound to the row (they do not open as an ordinary field)
      const row = await server.db.knex('integration_settings').where({ name: 'sms' }).first();
      const dump = await tableText(server, 'integration_settings');
      t.false(dump.includes(ALIYUN.accessKeySecret), 'no clear secret in the table');
      t.false(dump.includes(ALIYUN.accessKeyId), 'no clear AccessKey ID in the table');
      t.regex(row.secrets_enc, /^v1\./);
      t.throws(() => server.services.fieldCrypto.decrypt(row.secrets_enc), undefined, 'sealed with the integration as additional data');
      t.is(JSON.parse(server.services.fieldCrypto.decrypt(row.secrets_enc, 'integration:sms'))['aliyun.accessKeySecret'], ALIYUN.accessKeySecret);
      const audit = await server.db.knex('audit_log').where({ action: 'integrations.sms.update' });
      t.is(audit.length, 1);
      t.false(JSON.stringify(audit).includes(ALIYUN.accessKeySecret), 'the audit log names no secret');
      t.false(JSON.stringify(audit).includes(ALIYUN.accessKeyId));
      t.deepEqual(json(audit[0].after).changedSecrets, ['aliyun.accessKeyId', 'aliyun.accessKeySecret']);

      // the send test: the double recomputes the signature with its own copy of the secret
      const mobile = makeMobile();
      const sent = await admin.post('/api/admin/settings/sms/test', { mobile });
      t.is(sent.status, 200, JSON.stringify(sent.body));
      t.like(sent.body.test, { ok: true, provider: 'aliyun', template: 'test' });
      t.like(double.sends.at(-1), { phoneNumbers: mobile, templateCode: 'SMS_1005', signName: '示例大学' });

      // a visit: the host's task notice goes out through the outbox with the saved account, no restart
      const visitor = await newVisitor(server);
      const application = await submitApplication(server, visitor.client);
      const notice = double.sends.find((s) => s.templateCode === 'SMS_1004');
      t.truthy(notice, `the task notice was sent: ${JSON.stringify(double.answered)}`);
      t.deepEqual(notice?.templateParam, { staff: '王老师', no: application.flowNumber });
      t.is((await server.db.knex('sms_outbox').where({ template: 'taskAssigned' }).first()).status, 'sent');

      // an empty secret field keeps what is stored
      const kept = await admin.request('PUT', '/api/admin/integrations/sms', { aliyun: { accessKeyId: '', accessKeySecret: '', signName: '示例大学' } });
      t.is(kept.status, 200, JSON.stringify(kept.body));
      t.is((await admin.post('/api/admin/settings/sms/test', { mobile })).status, 200, 'still the stored secret');
      t.is(await server.db.knex('audit_log').where({ action: 'integrations.sms.update' }).count({ n: '*' }).then(([{ n }]) => Number(n)), 1, 'nothing changed, nothing audited');

      // a wrong secret saved: the vendor's code and a Chinese explanation
      const wrong = await admin.request('PUT', '/api/admin/integrations/sms', { aliyun: { accessKeySecret: 'WrongSecret0123456789abcdefABC' } });
      t.is(wrong.status, 200);
      const refused = await admin.post('/api/admin/settings/sms/test', { mobile });
      t.is(refused.status, 502);
      t.is(refused.body.error.code, 'SMS_CREDENTIALS_REJECTED');
      t.regex(refused.body.error.message, /^短信服务商拒绝了凭据.*签名不符.*SignatureDoesNotMatch/);
      t.is(refused.body.error.details.vendorCode, 'SignatureDoesNotMatch');
      t.false(JSON.stringify(refused.body).includes(ALIYUN.accessKeyId), "the vendor's echo of the signed string is not passed on");
    } finally {
      await server.close();
    }
  });

  test(`${kind}: tencent saved on the page sends through the TC3 double; a wrong SecretKey is named`, async (t) => {
    const double = await new TencentSmsDouble({ ...TENCENT, templates: { '2001': 3, '2002': 3, '2003': 2, '2004': 2, '2005': 1 } }).start();
    const server = await startTestServer(kind, { env: { TENCENT_SMS_ENDPOINT: double.url } });
    t.teardown(() => double.close());
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const templates = {
        approved: { id: '2001', params: ['name', 'visitDate', 'flowNumber'] },
        refused: { id: '2002', params: ['name', 'flowNumber', 'opinion'] },
        expired: { id: '2003', params: ['name', 'flowNumber'] },
        taskAssigned: { id: '2004', params: ['staffName', 'flowNumber'] },
        test: { id: '2005', params: ['code'] },
      };
      const saved = await admin.request('PUT', '/api/admin/integrations/sms', { provider: 'tencent', tencent: TENCENT, templates });
      t.is(saved.status, 200, JSON.stringify(saved.body));
      t.false(JSON.stringify(saved.body).includes(TENCENT.secretKey));
      const mobile = makeMobile();
      const ok = await admin.post('/api/admin/settings/sms/test', { mobile });
      t.is(ok.status, 200, JSON.stringify(ok.body));
      t.like(double.sends.at(-1), { phoneNumber: `+86${mobile}`, templateId: '2005', sdkAppId: TENCENT.sdkAppId });
      await admin.request('PUT', '/api/admin/integrations/sms', { tencent: { secretKey: 'WrongKey0123456789abcdefghijklmno' } });
      const refused = await admin.post('/api/admin/settings/sms/test', { mobile });
      t.is(refused.status, 502);
      t.is(refused.body.error.code, 'SMS_CREDENTIALS_REJECTED');
      t.regex(refused.body.error.message, /SecretKey 与 SecretId 不匹配。AuthFailure\.SignatureFailure/);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a variable the environment sets wins, shows read-only and cannot be changed on the page; the rest comes from the page`, async (t) => {
    const double = await aliyunDouble();
    // the operator keeps the credentials in the environment; the administrator picks the provider, sign and templates
    const server = await startTestServer(kind, {
      env: { ALIYUN_SMS_ENDPOINT: double.url, ALIYUN_SMS_ACCESS_KEY_ID: ALIYUN.accessKeyId, ALIYUN_SMS_ACCESS_KEY_SECRET: ALIYUN.accessKeySecret },
    });
    t.teardown(() => double.close());
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const view = (await admin.get('/api/admin/integrations')).body.sms;
      t.like(view.fields['aliyun.accessKeySecret'], { source: 'env', env: 'ALIYUN_SMS_ACCESS_KEY_SECRET', set: true, last4: 'WXYZ' });
      t.false(JSON.stringify(view).includes(ALIYUN.accessKeySecret), 'an environment secret is not answered either');
      t.like(view.fields.provider, { source: 'default', value: 'console' });

      const refused = await admin.request('PUT', '/api/admin/integrations/sms', { provider: 'aliyun', aliyun: { accessKeySecret: 'OtherSecret0123456789abcdefABCD' } });
      t.is(refused.status, 400);
      t.is(refused.body.error.code, 'INTEGRATION_SETTINGS_INVALID');
      t.deepEqual(refused.body.error.details, [{ field: 'aliyun.accessKeySecret', message: '由环境变量 ALIYUN_SMS_ACCESS_KEY_SECRET 设置，不能在此修改' }]);
      t.falsy(await server.db.knex('integration_settings').where({ name: 'sms' }).first(), 'a refusal stores nothing');

      const saved = await admin.request('PUT', '/api/admin/integrations/sms', { provider: 'aliyun', aliyun: { signName: '示例大学' }, templates: ALIYUN_TEMPLATES });
      t.is(saved.status, 200, JSON.stringify(saved.body));
      t.like(saved.body.sms.fields.provider, { source: 'saved', value: 'aliyun' });
      t.like(saved.body.sms.fields['aliyun.accessKeyId'], { source: 'env' });
      const sent = await admin.post('/api/admin/settings/sms/test', { mobile: makeMobile() });
      t.is(sent.status, 200, `the environment's credentials sign it: ${JSON.stringify(sent.body)}`);
      t.is(double.sends.length, 1);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the page's values are checked by the environment variables' own rules, with a Chinese message per field`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const put = (body: unknown) => admin.request('PUT', '/api/admin/integrations/sms', body);
      const fields = (res: any) => Object.fromEntries((res.body.error?.details ?? []).map((d: any) => [d.field, d.message]));

      const shapes = await put({ provider: 'aliyun', aliyun: { accessKeyId: 'LTAI 5t', accessKeySecret: ' PageSecret0123456789abcdef', signName: '校' } });
      t.is(shapes.status, 400);
      t.is(shapes.body.error.code, 'INTEGRATION_SETTINGS_INVALID');
      t.like(fields(shapes), {
        'aliyun.accessKeyId': '看起来不像 AccessKey ID（通常以 LTAI 开头，由字母和数字组成）',
        'aliyun.accessKeySecret': '前后有空格或换行（多半是复制时带上的）',
        'aliyun.signName': '至少 2 个字符',
      });
      t.regex(shapes.body.error.message, /^AccessKey ID：看起来不像/);
      // the same values stop the server when they come from the environment: one rule for both
      for (const [key, value] of [
        ['ALIYUN_SMS_ACCESS_KEY_ID', 'LTAI 5t'],
        ['ALIYUN_SMS_ACCESS_KEY_SECRET', ' PageSecret0123456789abcdef'],
      ]) {
        t.throws(() => loadConfig({ [key]: value }), { instanceOf: ConfigError, message: new RegExp(key) });
      }

      const templates = await put({ provider: 'aliyun', aliyun: ALIYUN, templates: { approved: { id: 'SMS_1', params: ['visitdate'] }, refused: { id: '' } } });
      t.is(templates.status, 400);
      t.like(fields(templates), { 'templates.refused.id': '请填写模板号' });
      const mapping = await put({ provider: 'aliyun', aliyun: ALIYUN, templates: { approved: { id: 'SMS_1', params: ['visitdate'] }, refused: 'SMS_2' } });
      t.like(fields(mapping), {
        templates: '缺少 “expired”、“taskAssigned” 的阿里云模板号（服务器发送的每种短信都需要一个）',
        'templates.approved.params': '“visitdate”不是这种短信的取值；可用：university、name、visitDate、visitTime、flowNumber、opinion',
      });

      const required = await put({ provider: 'tencent' });
      t.deepEqual(fields(required), {
        'tencent.secretId': '使用腾讯云短信时必填',
        'tencent.secretKey': '使用腾讯云短信时必填',
        'tencent.sdkAppId': '使用腾讯云短信时必填',
        'tencent.signName': '使用腾讯云短信时必填',
        templates: '使用腾讯云短信时必填',
      });
      t.like(fields(await put({ provider: 'twilio' })), { provider: '只能是 console、aliyun、tencent 之一' });
      const wechat = await admin.request('PUT', '/api/admin/integrations/wechat', { enabled: true, appId: 'gh_0123456789ab', appSecret: 'secret' });
      t.like(fields(wechat), { appId: '看起来不像公众号 AppID（wx 后接 16 位十六进制数字）', appSecret: '看起来不像 AppSecret（32 位十六进制数字）' });
      t.is((await put({ aliyun: { accessKeySecret: 42 } })).status, 400, 'wrong types are refused too');
      t.is((await put({ smsProvider: 'aliyun' })).status, 400, 'unknown keys are refused');
      t.falsy(await server.db.knex('integration_settings').first(), 'nothing was stored by any refusal');
      t.is((await admin.get('/api/admin/integrations')).body.sms.fields.provider.value, 'console');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: WeChat settings saved on the page: notices go out with them, the test checks the credentials, the outbox view lists them masked`, async (t) => {
    const double = await new WechatDouble({ appId: APP_ID, appSecret: APP_SECRET, templates: [TEMPLATE_ID] }).start();
    const server = await startTestServer(kind, { env: { WECHAT_API_BASE: double.url, PUBLIC_URL: 'https://visit.example.edu.cn' } });
    t.teardown(() => double.close());
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const host = (await admin.get('/api/admin/staff?q=host-cs')).body.staff.find((s: any) => s.username === 'host-cs');
      t.is((await admin.request('PUT', `/api/admin/staff/${host.id}`, { wechatOpenId: HOST_OPENID })).status, 200);
      t.is((await admin.post('/api/admin/settings/wechat/test')).body.error.code, 'WECHAT_NOT_CONFIGURED');

      // WeChat off: nothing is queued
      const first = await newVisitor(server);
      await submitApplication(server, first.client);
      t.is(await server.db.knex('wechat_outbox').count({ n: '*' }).then(([{ n }]) => Number(n)), 0);

      const saved = await admin.request('PUT', '/api/admin/integrations/wechat', { enabled: true, appId: APP_ID, appSecret: APP_SECRET, templates: WECHAT_TEMPLATES });
      t.is(saved.status, 200, JSON.stringify(saved.body));
      t.false(JSON.stringify(saved.body).includes(APP_SECRET));
      t.like(saved.body.wechat.fields.appSecret, { source: 'saved', set: true, last4: 'cdef' });
      t.false((await tableText(server, 'integration_settings')).includes(APP_SECRET));
      const test = await admin.post('/api/admin/settings/wechat/test');
      t.is(test.status, 200, JSON.stringify(test.body));
      t.like(test.body.test, { ok: true, appId: APP_ID });

      const second = await newVisitor(server);
      const application = await submitApplication(server, second.client);
      t.is(double.sent.length, 1, 'the next task notice goes out over WeChat');
      t.is(double.sent[0].data.character_string2.value, application.flowNumber);
      double.failNext(43004);
      await submitApplication(server, (await newVisitor(server)).client);

      const list = await admin.get('/api/admin/wechat');
      t.is(list.status, 200);
      t.is(list.body.total, 2);
      const [failed, sent] = list.body.notices;
      t.like(sent, { status: 'sent', attempts: 1, staffName: '王老师', notice: 'taskAssigned', to: 'oHos****ijkl', lastError: null });
      t.like(failed, { status: 'failed', attempts: 1, lastErrorCode: 'WECHAT_NOT_SUBSCRIBED' });
      t.regex(failed.lastError, /43004/);
      t.false(JSON.stringify(list.body).includes(HOST_OPENID), 'openids are masked');
      t.is((await admin.get('/api/admin/wechat?status=failed')).body.total, 1);
      t.is((await admin.get('/api/admin/wechat?status=lost')).status, 400);

      // the AppSecret is reset in the official account's console: the test names WeChat's errcode
      await admin.request('PUT', '/api/admin/integrations/wechat', { appSecret: 'ffffffffffffffffffffffffffffffff' });
      const refused = await admin.post('/api/admin/settings/wechat/test');
      t.is(refused.status, 502);
      t.is(refused.body.error.code, 'WECHAT_CREDENTIALS_REJECTED');
      t.regex(refused.body.error.message, /^微信拒绝了公众号凭据.*errcode 40125（AppSecret 无效）/);

      // off again: no more notices are queued
      await admin.request('PUT', '/api/admin/integrations/wechat', { enabled: false, appSecret: APP_SECRET });
      await submitApplication(server, (await newVisitor(server)).client);
      t.is((await admin.get('/api/admin/wechat')).body.total, 2);
      t.deepEqual(
        (await server.db.knex('audit_log').where({ action: 'integrations.wechat.update' }).orderBy('id')).map((r: any) => json(r.after).changedSecrets),
        [['appSecret'], ['appSecret'], ['appSecret']],
      );
    } finally {
      await server.close();
    }
  });

  test(`${kind}: another server process sees a save within a second; sealed credentials that no longer decrypt hold the SMS back with a clear code`, async (t) => {
    const double = await aliyunDouble();
    const server = await startTestServer(kind, { env: { ALIYUN_SMS_ENDPOINT: double.url } });
    t.teardown(() => double.close());
    try {
      const { config, secrets } = server.services;
      const logger = createLogger('silent');
      // what a second process (WORKERS=2) holds: its own settings service over the same database
      const other = new IntegrationSettingsService({
        knex: server.db.knex,
        clock: server.clock,
        config,
        logger,
        fieldCrypto: new FieldCrypto(secrets.fieldEncryptionKey, secrets.blindIndexKey),
        audit: new AuditService(server.db.knex, server.clock),
      });
      t.is((await other.smsProvider()).name, 'console');
      const { client: admin } = await staffClient(server, 'admin');
      t.is((await admin.request('PUT', '/api/admin/integrations/sms', { provider: 'aliyun', aliyun: ALIYUN, templates: ALIYUN_TEMPLATES })).status, 200);
      t.is((await server.services.integrations.smsProvider()).name, 'aliyun', 'the process that saved uses it at once');
      await new Promise((resolve) => setTimeout(resolve, 1100));
      t.is((await other.smsProvider()).name, 'aliyun', 'the other process within a second');

      // a process with another FIELD_ENCRYPTION_KEY (secrets.json lost): it cannot open the credentials
      const lost = new IntegrationSettingsService({
        knex: server.db.knex,
        clock: server.clock,
        config,
        logger,
        fieldCrypto: new FieldCrypto(crypto.randomBytes(32), secrets.blindIndexKey),
        audit: new AuditService(server.db.knex, server.clock),
      });
      const view = await lost.view('sms');
      t.true(view.secretsUnreadable);
      t.true(view.problems.some((p) => p.field === 'secrets' && /无法解密/.test(p.message)));
      const sms = new SmsService({ knex: server.db.knex, provider: () => lost.smsProvider(), fieldCrypto: server.services.fieldCrypto, clock: server.clock, logger });
      const result = await sms.sendTest(makeMobile());
      t.false(result.ok);
      t.is(result.error?.code, 'SMS_NOT_CONFIGURED');
      t.true(result.error?.retryable, 'queued messages wait for the settings to be fixed');
      t.regex(result.error?.message ?? '', /集成设置/);
      t.is(double.sends.length, 0);
    } finally {
      await server.close();
    }
  });
}
