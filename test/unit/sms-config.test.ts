import test from 'ava';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createSmsProvider } from '../../server/sms/sms.config.ts';

const TEMPLATES = JSON.stringify({
  approved: { id: 'SMS_1001', params: ['name', 'visitDate', 'flowNumber'] },
  refused: 'SMS_1002',
  expired: 'SMS_1003',
  taskAssigned: { id: 'SMS_1004', params: { staff: 'staffName', no: 'flowNumber' } },
});
const ALIYUN = {
  SMS_PROVIDER: 'aliyun',
  ALIYUN_SMS_ACCESS_KEY_ID: 'LTAI5tTestKey00000000001',
  ALIYUN_SMS_ACCESS_KEY_SECRET: 'TestSecret0123456789abcdefABCD',
  ALIYUN_SMS_SIGN_NAME: '示例大学',
  SMS_TEMPLATES: TEMPLATES,
};
const TENCENT = {
  SMS_PROVIDER: 'tencent',
  TENCENT_SMS_SECRET_ID: 'AKIDtest0123456789abcdefghijklmnopqr',
  TENCENT_SMS_SECRET_KEY: 'TestKey0123456789abcdefghijklmno',
  TENCENT_SMS_SDK_APP_ID: '1400006666',
  TENCENT_SMS_SIGN_NAME: '示例大学',
  SMS_TEMPLATES: JSON.stringify({ approved: '2001', refused: '2002', expired: '2003', taskAssigned: { id: '2004', params: ['staffName', 'flowNumber'] } }),
};

const issues = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
};

test('a complete aliyun or tencent configuration starts the matching provider, with the vendor endpoints by default', (t) => {
  const logger = createLogger('silent');
  const a = loadConfig(ALIYUN);
  t.is(a.ALIYUN_SMS_ENDPOINT, 'https://dysmsapi.aliyuncs.com');
  t.is(createSmsProvider(a, logger).name, 'aliyun');
  const tc = loadConfig(TENCENT);
  t.is(tc.TENCENT_SMS_ENDPOINT, 'https://sms.tencentcloudapi.com');
  t.is(createSmsProvider(tc, logger).name, 'tencent');
  t.is(createSmsProvider(loadConfig({}), logger).name, 'console');
});

test('missing credentials stop start-up, each named', (t) => {
  const { ALIYUN_SMS_ACCESS_KEY_SECRET: _s, ALIYUN_SMS_SIGN_NAME: _n, ...partial } = ALIYUN;
  t.deepEqual(issues(partial), ['ALIYUN_SMS_ACCESS_KEY_SECRET: required when SMS_PROVIDER=aliyun', 'ALIYUN_SMS_SIGN_NAME: required when SMS_PROVIDER=aliyun']);
  t.deepEqual(issues({ SMS_PROVIDER: 'tencent' }), [
    'TENCENT_SMS_SECRET_ID: required when SMS_PROVIDER=tencent',
    'TENCENT_SMS_SECRET_KEY: required when SMS_PROVIDER=tencent',
    'TENCENT_SMS_SDK_APP_ID: required when SMS_PROVIDER=tencent',
    'TENCENT_SMS_SIGN_NAME: required when SMS_PROVIDER=tencent',
    'SMS_TEMPLATES: required when SMS_PROVIDER=tencent',
  ]);
  t.regex(issues({ SMS_PROVIDER: 'twilio' }).join('\n'), /SMS_PROVIDER/);
});

test('credentials of the wrong shape stop start-up with a message saying what was expected', (t) => {
  t.regex(issues({ ...ALIYUN, ALIYUN_SMS_ACCESS_KEY_SECRET: 'TestSecret0123456789abcdefABCD\n' }).join('\n'), /ALIYUN_SMS_ACCESS_KEY_SECRET: has a space or line break/);
  t.regex(issues({ ...TENCENT, TENCENT_SMS_SECRET_ID: 'LTAI5tTestKey00000000001' }).join('\n'), /TENCENT_SMS_SECRET_ID: does not look like a SecretId/);
  t.regex(issues({ ...TENCENT, TENCENT_SMS_SDK_APP_ID: 'sms-app' }).join('\n'), /TENCENT_SMS_SDK_APP_ID: does not look like an SmsSdkAppId/);
  t.regex(issues({ ...ALIYUN, ALIYUN_SMS_ENDPOINT: 'dysmsapi.aliyuncs.com' }).join('\n'), /ALIYUN_SMS_ENDPOINT/);
});

test('SMS_TEMPLATES must be JSON, map every SMS the server sends, and name only values that SMS has', (t) => {
  t.regex(issues({ ...ALIYUN, SMS_TEMPLATES: '{approved: SMS_1}' }).join('\n'), /SMS_TEMPLATES: not valid JSON/);
  t.deepEqual(issues({ ...ALIYUN, SMS_TEMPLATES: JSON.stringify({ approved: 'SMS_1', refused: 'SMS_2' }) }), [
    'SMS_TEMPLATES: no aliyun template id for "expired", "taskAssigned" (every SMS the server sends needs one)',
  ]);
  const typo = JSON.parse(TEMPLATES);
  typo.approved.params = ['name', 'visitdate'];
  t.regex(issues({ ...ALIYUN, SMS_TEMPLATES: JSON.stringify(typo) }).join('\n'), /SMS_TEMPLATES\.approved\.params: "visitdate" is not a value of this SMS; available: .*visitDate/);
  t.regex(issues({ ...ALIYUN, SMS_TEMPLATES: JSON.stringify({ ...typo, aproved: 'SMS_9' }) }).join('\n'), /SMS_TEMPLATES\.aproved: unknown template/);
  // tencent templates are positional: a name map cannot say the order
  t.regex(issues({ ...TENCENT, SMS_TEMPLATES: TEMPLATES }).join('\n'), /SMS_TEMPLATES\.taskAssigned\.params: tencent templates take a list/);
  t.deepEqual(issues({ SMS_TEMPLATES: 'not even json' }), [], 'ignored by the console provider');
  // The invitation SMS is optional (a mapping made before it existed still starts); mapped, its values are checked
  t.deepEqual(issues({ ...ALIYUN, SMS_TEMPLATES: JSON.stringify({ ...JSON.parse(TEMPLATES), invitation: { id: 'SMS_1006', params: ['hostName', 'link'] } }) }), []);
  t.regex(
    issues({ ...ALIYUN, SMS_TEMPLATES: JSON.stringify({ ...JSON.parse(TEMPLATES), invitation: { id: 'SMS_1006', params: ['flowNumber'] } }) }).join('\n'),
    /SMS_TEMPLATES\.invitation\.params: "flowNumber" is not a value of this SMS/,
  );
});
