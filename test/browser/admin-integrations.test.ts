import test from 'ava';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { acceptDialogs, noCspViolation } from '../helpers/admin-browser.ts';
import { ensureWebBuild, launchBrowser, openPage, PC, shot } from '../helpers/browser.ts';
import { newVisitor, submitApplication } from '../helpers/flow.ts';
import { makeMobile } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';
import { AliyunSmsDouble } from '../helpers/sms-doubles.ts';

const ALIYUN = { accessKeyId: 'LTAI5tPageKey00000000042', accessKeySecret: 'PageSecret0123456789abcdefWXYZ', signName: '示例大学' };
const TEMPLATE_IDS = { approved: 'SMS_1001', refused: 'SMS_1002', expired: 'SMS_1003', taskAssigned: 'SMS_1004', test: 'SMS_1005' };

test('integrations: the admin picks aliyun, enters the account, saves, and the send test goes through; a wrong secret shows the vendor refusing it', async (t) => {
  await ensureWebBuild();
  const double = await new AliyunSmsDouble({ ...ALIYUN, templates: Object.values(TEMPLATE_IDS) }).start();
  t.teardown(() => double.close());
  // the vendor's address is the operator's (here: the double); everything else is entered on the page
  const server = await startTestServer('pglite', { env: { ALIYUN_SMS_ENDPOINT: double.url } });
  // the browser keeps the session cookie by the real clock: the server's must not be days behind it
  server.clock.set(new Date());
  const { browser, close } = await launchBrowser();
  try {
    const admin = await openPage(browser, server.url, PC);
    acceptDialogs(admin.page);
    const p = admin.page;
    /** Saves the SMS panel and waits until the page is drawn again from the server's answer. */
    const saveSms = async () => {
      const before = await p.$('#int-sms-provider');
      await p.click('#int-sms-save');
      await p.waitForFunction((el) => !el?.isConnected, before);
      await p.waitForSelector('#int-sms-messages .alert-success');
    };
    await p.goto(`${server.url}/admin/#/integrations`);
    await p.waitForSelector('#admin-login #f-username');
    await p.fill('#f-username', 'admin');
    await p.fill('#f-password', DEMO_STAFF_PASSWORD);
    await p.click('#admin-login button[type=submit]');
    await p.waitForSelector('#int-sms-provider', { timeout: 60_000 });
    t.true(await p.locator('#int-aliyun').isHidden(), 'console: no vendor fields');

    await p.selectOption('#int-sms-provider', 'aliyun');
    await p.waitForSelector('#int-aliyun', { state: 'visible' });
    t.regex((await p.textContent('#int-sms-operator')) ?? '', new RegExp(`ALIYUN_SMS_ENDPOINT=${double.url}`));
    // a key ID pasted with a space: refused under its field, in Chinese, nothing saved
    await p.fill('#int-aliyun-key-id', 'LTAI 5tPageKey');
    await p.fill('#int-aliyun-key-secret', ALIYUN.accessKeySecret);
    await p.fill('#int-aliyun-sign', ALIYUN.signName);
    for (const [key, id] of Object.entries(TEMPLATE_IDS)) await p.fill(`#int-sms-tpl-${key}-id`, id);
    await p.fill('#int-sms-tpl-test-params', 'code');
    await p.click('#int-sms-save');
    await p.waitForSelector('#int-aliyun-key-id.is-invalid');
    t.regex((await p.locator('#int-aliyun-key-id ~ .invalid-feedback').textContent()) ?? '', /看起来不像 AccessKey ID/);
    t.regex((await p.textContent('#int-sms-messages')) ?? '', /AccessKey ID：看起来不像/);
    t.falsy(await server.db.knex('integration_settings').first());

    await p.fill('#int-aliyun-key-id', ALIYUN.accessKeyId);
    await saveSms();
    // drawn again from the server: the secret is not in the page, only that it is set and its last 4
    t.is(await p.inputValue('#int-aliyun-key-secret'), '');
    t.regex((await p.locator('#int-aliyun .vf-secret-set').allTextContents()).join(' '), /已设置（\*\*\*\*WXYZ）/);
    t.is(await p.inputValue('#int-sms-provider'), 'aliyun');
    t.is(await p.inputValue('#int-sms-tpl-taskAssigned-id'), 'SMS_1004');
    const html = await p.content();
    t.false(html.includes(ALIYUN.accessKeySecret), 'the secret never reaches the browser');
    t.false(html.includes(ALIYUN.accessKeyId));
    await shot(p, 'admin-17-integrations-saved');

    const mobile = makeMobile();
    await p.fill('#set-sms-test-mobile', mobile);
    await p.click('#set-sms-test');
    await p.waitForSelector('#set-sms-test-result .alert-success');
    t.regex((await p.textContent('#set-sms-test-result')) ?? '', /aliyun/);
    t.is(double.sends.length, 1, 'the double accepted the signature made with the saved secret');
    t.like(double.sends[0], { phoneNumbers: mobile, templateCode: 'SMS_1005', signName: ALIYUN.signName });

    // a wrong secret entered and saved: the test shows the vendor's code and what it means
    await p.fill('#int-aliyun-key-secret', 'WrongSecret0123456789abcdefABC');
    await saveSms();
    await p.fill('#set-sms-test-mobile', mobile);
    await p.click('#set-sms-test');
    await p.waitForSelector('#set-sms-test-result .alert-danger');
    const refused = (await p.textContent('#set-sms-test-result')) ?? '';
    t.regex(refused, /SMS_CREDENTIALS_REJECTED/);
    t.regex(refused, /短信服务商拒绝了凭据/);
    t.regex(refused, /签名不符，AccessKey Secret 与 AccessKey ID 不匹配/);
    t.regex(refused, /SignatureDoesNotMatch/);
    t.is(double.sends.length, 1);
    t.false((await p.content()).includes(ALIYUN.accessKeyId), 'not even in the refusal the vendor sent');
    await shot(p, 'admin-18-integrations-wrong-secret');

    // the right secret again; a visit's task notice then shows in the message list as sent
    await p.fill('#int-aliyun-key-secret', ALIYUN.accessKeySecret);
    await saveSms();
    // the server's clock is the real one here: visit the day after tomorrow
    const visitDate = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    await submitApplication(server, (await newVisitor(server)).client, { visitDate });
    await p.goto(`${server.url}/admin/#/messages?tab=sms`);
    await p.waitForSelector('#msg-table tr[data-status="sent"]');
    t.regex((await p.textContent('#msg-table')) ?? '', /138\*\*\*\*1000/);
    t.false(((await p.textContent('#msg-table')) ?? '').includes('13800001000'), 'the recipient is masked');
    await shot(p, 'admin-19-messages');
    await p.click('#msg-tab-wechat');
    await p.waitForSelector('#msg-tab-wechat.active');

    // the directory: a host linked to a campus SSO account is unlinked (confirm accepted)
    const host = await server.db.knex('staff').where({ username: 'host-cs' }).first();
    await server.db.knex('staff').where({ id: host.id }).update({ sso_subject: 'cas:wang' });
    await p.goto(`${server.url}/admin/#/directory?tab=staff&q=host-cs`);
    const row = p.locator('tr[data-username="host-cs"]');
    await row.locator('.vf-sso-unlink').click();
    await row.locator('.vf-sso-unlink').waitFor({ state: 'detached' });
    t.is((await row.locator('td.vf-sso').textContent())?.trim(), '—');
    t.is((await server.db.knex('staff').where({ id: host.id }).first()).sso_subject, null);
    t.is((await server.db.knex('audit_log').where({ action: 'staff.sso.unlink' })).length, 1);
    noCspViolation(t, admin);
  } finally {
    await close();
    await server.close();
  }
});
