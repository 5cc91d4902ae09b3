import test from 'ava';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { acceptDialogs, noCspViolation } from '../helpers/admin-browser.ts';
import { ensureWebBuild, launchBrowser, openPage, PC, shot } from '../helpers/browser.ts';
import { makeMobile } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';
import { AliyunSmsDouble } from '../helpers/sms-doubles.ts';

const ALIYUN = { accessKeyId: 'LTAI5tTestKey00000000001', accessKeySecret: 'TestSecret0123456789abcdefABCD', signName: '示例大学' };

test('integrations: the SMS send test reports the vendor accepting it, then the vendor refusing the credentials', async (t) => {
  await ensureWebBuild();
  const double = await new AliyunSmsDouble({ ...ALIYUN, templates: ['SMS_1001', 'SMS_1002', 'SMS_1003', 'SMS_1004', 'SMS_1005'] }).start();
  t.teardown(() => double.close());
  const server = await startTestServer('pglite', {
    env: {
      SMS_PROVIDER: 'aliyun',
      ALIYUN_SMS_ACCESS_KEY_ID: ALIYUN.accessKeyId,
      ALIYUN_SMS_ACCESS_KEY_SECRET: ALIYUN.accessKeySecret,
      ALIYUN_SMS_SIGN_NAME: ALIYUN.signName,
      ALIYUN_SMS_ENDPOINT: double.url,
      SMS_TEMPLATES: JSON.stringify({ approved: 'SMS_1001', refused: 'SMS_1002', expired: 'SMS_1003', taskAssigned: 'SMS_1004', test: { id: 'SMS_1005', params: ['code'] } }),
    },
  });
  // the browser keeps the session cookie by the real clock: the server's must not be days behind it
  server.clock.set(new Date());
  const { browser, close } = await launchBrowser();
  try {
    const admin = await openPage(browser, server.url, PC);
    acceptDialogs(admin.page);
    const p = admin.page;
    // log in on the integrations page itself (where the send test is): the login then returns to it
    await p.goto(`${server.url}/admin/#/integrations`);
    await p.waitForSelector('#admin-login #f-username');
    await p.fill('#f-username', 'admin');
    await p.fill('#f-password', DEMO_STAFF_PASSWORD);
    await p.click('#admin-login button[type=submit]');
    await p.waitForSelector('#set-sms-test-mobile', { timeout: 60_000 }).catch(async (e) => {
      t.log(admin.errors, (await p.textContent('body'))?.slice(0, 500), p.url(), JSON.stringify(server.logs.slice(-6)).slice(0, 3000));
      throw e;
    });

    const mobile = makeMobile();
    await p.fill('#set-sms-test-mobile', mobile);
    await p.click('#set-sms-test');
    await p.waitForSelector('#set-sms-test-result .alert-success');
    const ok = (await p.textContent('#set-sms-test-result'))!;
    t.regex(ok, /aliyun/);
    t.true(ok.includes(`${mobile.slice(0, 3)}****${mobile.slice(-4)}`), ok);
    t.false(ok.includes(mobile), 'the mobile is shown masked');
    t.is(double.sends.length, 1);
    t.like(double.sends[0], { phoneNumbers: mobile, templateCode: 'SMS_1005' });

    // the AccessKey secret is reset in the vendor's console: the server's copy is now wrong
    double.account.accessKeySecret = 'RotatedSecret0123456789abcdefA';
    await p.click('#set-sms-test');
    await p.waitForSelector('#set-sms-test-result .alert-danger');
    const refused = (await p.textContent('#set-sms-test-result'))!;
    t.regex(refused, /SMS_CREDENTIALS_REJECTED/);
    t.regex(refused, /短信服务商拒绝了凭据/);
    t.regex(refused, /SignatureDoesNotMatch/);
    t.is(double.sends.length, 1);
    await shot(p, 'admin-16-sms-send-test');
    noCspViolation(t, admin);
  } finally {
    await close();
    await server.close();
  }
});
