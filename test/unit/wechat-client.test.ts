import test from 'ava';
import { WechatClient, WechatError } from '../../server/wechat/wechat.client.ts';
import { fieldValue } from '../../server/wechat/wechat.notifier.ts';
import { WechatDouble } from '../helpers/wechat-double.ts';

const APP_ID = 'wx0123456789abcdef';
const APP_SECRET = '0123456789abcdef0123456789abcdef';
const TEMPLATE_ID = 'Tpl_TaskAssigned-0123456789abcdefghijklmnopq';
const OPENID = 'oHost_0123456789abcdefghijkl';

const message = (i: number) => ({ openId: OPENID, templateId: TEMPLATE_ID, data: { character_string1: `VF${i}` } });

test('concurrent sends share one token fetch', async (t) => {
  const wechat = await new WechatDouble({ appId: APP_ID, appSecret: APP_SECRET, templates: [TEMPLATE_ID] }).start();
  try {
    const client = new WechatClient({ appId: APP_ID, appSecret: APP_SECRET, apiBase: wechat.url });
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => client.sendTemplate(message(i))));
    t.is(wechat.tokenRequests, 1);
    t.is(wechat.sent.length, 6);
    t.is(new Set(results.map((r) => r.msgId)).size, 6);

    // all tokens expire at once: the concurrent sends that get 42001 refresh once between them
    wechat.expireTokens();
    await Promise.all([7, 8, 9].map((i) => client.sendTemplate(message(i))));
    t.is(wechat.tokenRequests, 2);
    t.is(wechat.sent.length, 9);
  } finally {
    await wechat.close();
  }
});

test('a token WeChat refuses but still hands out is replaced by a forced refresh, once', async (t) => {
  const wechat = await new WechatDouble({ appId: APP_ID, appSecret: APP_SECRET, templates: [TEMPLATE_ID] }).start();
  try {
    const client = new WechatClient({ appId: APP_ID, appSecret: APP_SECRET, apiBase: wechat.url });
    await client.sendTemplate(message(1));
    const other = new WechatClient({ appId: APP_ID, appSecret: APP_SECRET, apiBase: wechat.url });
    await other.sendTemplate(message(2));
    t.is(wechat.forcedRefreshes, 0, 'a second process gets the same stable token, without a forced refresh');
    wechat.revokeTokenSilently();
    await Promise.all([3, 4].map((i) => client.sendTemplate(message(i))));
    t.is(wechat.forcedRefreshes, 1);
    t.is(wechat.sent.length, 4);
    t.deepEqual(wechat.sendAnswers, [0, 0, 40001, 40001, 0, 0]);
  } finally {
    await wechat.close();
  }
});

test('WeChat answers are sorted into retryable and permanent errors', async (t) => {
  const wechat = await new WechatDouble({ appId: APP_ID, appSecret: APP_SECRET, templates: [TEMPLATE_ID] }).start();
  try {
    const client = new WechatClient({ appId: APP_ID, appSecret: APP_SECRET, apiBase: wechat.url });
    const cases: Array<[number, string, boolean]> = [
      [-1, 'WECHAT_UNAVAILABLE', true],
      [45009, 'WECHAT_THROTTLED', true],
      [43004, 'WECHAT_NOT_SUBSCRIBED', false],
    ];
    for (const [errcode, code, retryable] of cases) {
      wechat.failNext(errcode);
      const err = await t.throwsAsync(client.sendTemplate(message(1)), { instanceOf: WechatError });
      t.is(err!.code as string, code, String(errcode));
      t.is(err!.retryable, retryable, String(errcode));
    }
    const badTemplate = await t.throwsAsync(client.sendTemplate({ ...message(1), templateId: 'unknown_template_id_0123' }), { instanceOf: WechatError });
    t.like(badTemplate, { code: 'WECHAT_TEMPLATE_REJECTED', errcode: 40037, retryable: false });
    const badOpenid = await t.throwsAsync(client.sendTemplate({ ...message(1), openId: 'x' }), { instanceOf: WechatError });
    t.like(badOpenid, { code: 'WECHAT_OPENID_INVALID', errcode: 40003, retryable: false });
    const wrong = new WechatClient({ appId: APP_ID, appSecret: 'f'.repeat(32), apiBase: wechat.url });
    t.like(await t.throwsAsync(wrong.sendTemplate(message(1))), { code: 'WECHAT_CREDENTIALS_REJECTED', errcode: 40125, retryable: false });
  } finally {
    await wechat.close();
  }
  // nothing listening: the request never left, so it is retried
  const gone = new WechatClient({ appId: APP_ID, appSecret: APP_SECRET, apiBase: wechat.url });
  t.like(await t.throwsAsync(gone.sendTemplate(message(1))), { code: 'WECHAT_UNAVAILABLE', retryable: true });
});

test('field values are cut to what WeChat accepts per field kind', (t) => {
  t.is(fieldValue('thing1', '一二三四五六七八九十一二三四五六七八九十多'), '一二三四五六七八九十一二三四五六七八九…');
  t.is(fieldValue('thing1', '短'), '短');
  t.is([...fieldValue('character_string2', 'x'.repeat(40))].length, 32);
  t.is(fieldValue('time3', '2026-12-03 09:00'), '2026-12-03 09:00');
});
