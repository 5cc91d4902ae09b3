import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, onlyTask, staffClient, submitApplication } from '../helpers/flow.ts';
import type { TestServer } from '../helpers/server.ts';
import { startTestServer } from '../helpers/server.ts';
import { WechatDouble } from '../helpers/wechat-double.ts';

const APP_ID = 'wx0123456789abcdef';
const APP_SECRET = '0123456789abcdef0123456789abcdef';
const TEMPLATE_ID = 'Tpl_TaskAssigned-0123456789abcdefghijklmnopq';
const HOST_OPENID = 'oHost_0123456789abcdefghijkl';

const wechatEnv = (url: string, extra: Record<string, string> = {}) => ({
  WECHAT_ENABLED: 'true',
  WECHAT_APP_ID: APP_ID,
  WECHAT_APP_SECRET: APP_SECRET,
  WECHAT_API_BASE: url,
  WECHAT_TEMPLATES: JSON.stringify({
    taskAssigned: { templateId: TEMPLATE_ID, fields: { thing1: 'taskName', character_string2: 'flowNumber', time3: 'visitDate', thing4: 'staffName' } },
  }),
  PUBLIC_URL: 'https://visit.example.edu.cn',
  ...extra,
});

const double = () => new WechatDouble({ appId: APP_ID, appSecret: APP_SECRET, templates: [TEMPLATE_ID] }).start();

/** Gives the demo host of computer science an openid through the admin API. */
async function setHostOpenId(server: TestServer, openId: string | null) {
  const { client: admin } = await staffClient(server, 'admin');
  const staff = (await admin.get('/api/admin/staff?q=host-cs')).body.staff.find((s: any) => s.username === 'host-cs');
  const res = await admin.request('PUT', `/api/admin/staff/${staff.id}`, { wechatOpenId: openId });
  if (res.status !== 200) throw new Error(JSON.stringify(res.body));
  return { admin, staff: res.body.staff };
}

const outbox = (server: TestServer) => server.db.knex('wechat_outbox').orderBy('id');

for (const kind of await testBackends()) {
  test(`${kind}: a host with an openid gets one template message per task, the token fetched once; a leader without one gets none`, async (t) => {
    const wechat = await double();
    const server = await startTestServer(kind, { env: wechatEnv(wechat.url) });
    try {
      const { staff } = await setHostOpenId(server, HOST_OPENID);
      t.is(staff.wechatOpenId, HOST_OPENID);
      const first = await newVisitor(server, { name: '李四' });
      const a1 = await submitApplication(server, first.client);
      const second = await newVisitor(server);
      const a2 = await submitApplication(server, second.client);
      await server.settle();

      t.is(wechat.sent.length, 2, 'one message per task assigned');
      t.is(wechat.tokenRequests, 1, 'one token for both sends');
      t.deepEqual(
        wechat.sent.map((m) => [m.touser, m.template_id, m.data.character_string2.value]),
        [
          [HOST_OPENID, TEMPLATE_ID, a1.flowNumber],
          [HOST_OPENID, TEMPLATE_ID, a2.flowNumber],
        ],
      );
      const { client: host } = await staffClient(server, 'host-cs');
      const tasks = (await onlyTask(host)).tasks;
      const task = tasks.find((x: any) => x.flowNumber === a1.flowNumber) ?? tasks[tasks.length - 1];
      t.deepEqual(Object.keys(wechat.sent[0].data).sort(), ['character_string2', 'thing1', 'thing4', 'time3']);
      t.is(wechat.sent[0].data.thing4.value, staff.name);
      t.is(wechat.sent[0].data.time3.value, '2026-12-03');
      t.is(wechat.sent[0].data.thing1.value, task.name);
      t.regex(wechat.sent[0].url ?? '', /^https:\/\/visit\.example\.edu\.cn\/staff\/#\/tasks\/\d+$/);
      const everything = JSON.stringify(wechat.sent);
      for (const clear of [first.identity.mobile, first.identity.idNumber, second.identity.mobile, second.identity.idNumber, '13800001000']) {
        t.false(everything.includes(clear), 'no clear mobile or ID number in a WeChat message');
      }
      t.deepEqual(
        (await outbox(server)).map((r: any) => [r.notice, r.status, r.attempts]),
        [
          ['taskAssigned', 'sent', 1],
          ['taskAssigned', 'sent', 1],
        ],
      );

      // the host approves: the leader's task is notified by SMS only (no openid)
      const leader = (await host.get(`/api/tasks/${task.id}`)).body.leaders[0];
      const done = await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '同意来访', leaderStaffId: String(leader.id) } });
      t.is(done.status, 200);
      await server.settle();
      t.is(wechat.sent.length, 2, 'no WeChat notice to a staff member without an openid');
      t.is((await outbox(server)).length, 2);
      const sms = await server.db.knex('sms_outbox').where({ template: 'taskAssigned' });
      t.is(sms.length, 3, 'the SMS notices go on beside WeChat');
    } finally {
      await server.close();
      await wechat.close();
    }
  });

  test(`${kind}: an expired token is fetched again once (42001), and a token past its expires_in is renewed before use`, async (t) => {
    const wechat = await double();
    const server = await startTestServer(kind, { env: wechatEnv(wechat.url) });
    try {
      await setHostOpenId(server, HOST_OPENID);
      await submitApplication(server, (await newVisitor(server)).client);
      t.is(wechat.tokenRequests, 1);
      wechat.expireTokens();
      await submitApplication(server, (await newVisitor(server)).client);
      t.is(wechat.sent.length, 2);
      t.is(wechat.tokenRequests, 2, 'refreshed once after 42001');
      t.deepEqual(wechat.sendAnswers, [0, 42001, 0]);
      t.true((await outbox(server)).every((r: any) => r.status === 'sent' && r.attempts === 1), 'the refresh is not a failed attempt');

      server.clock.advance(7200_000);
      await submitApplication(server, (await newVisitor(server)).client);
      t.is(wechat.tokenRequests, 3, 'a token near its expiry is not used');
      t.deepEqual(wechat.sendAnswers, [0, 42001, 0, 0]);
    } finally {
      await server.close();
      await wechat.close();
    }
  });

  test(`${kind}: a rate limit (45009) is retried and sent once; a host who unfollowed (43004) ends failed without retry`, async (t) => {
    const wechat = await double();
    const server = await startTestServer(kind, { env: wechatEnv(wechat.url) });
    try {
      await setHostOpenId(server, HOST_OPENID);
      wechat.failNext(45009);
      await submitApplication(server, (await newVisitor(server)).client);
      let [row] = await outbox(server);
      t.is(row.status, 'pending');
      t.regex(row.last_error, /^WECHAT_THROTTLED: errcode 45009/);
      t.is(wechat.sent.length, 0);
      server.clock.advance(30_000);
      await server.settle();
      [row] = await outbox(server);
      t.is(row.status, 'sent');
      t.is(row.attempts, 2);
      t.is(wechat.sent.length, 1, 'sent once');

      wechat.failNext(43004);
      await submitApplication(server, (await newVisitor(server)).client);
      server.clock.advance(3600_000);
      await server.settle();
      const rows = await outbox(server);
      t.is(rows[1].status, 'failed');
      t.is(rows[1].attempts, 1, 'not retried');
      t.regex(rows[1].last_error, /^WECHAT_NOT_SUBSCRIBED: errcode 43004/);
      t.deepEqual(wechat.sendAnswers, [45009, 0, 43004]);
      t.is(wechat.sent.length, 1);
      t.true(
        server.logs.some((l) => l.msg === 'wechat notice failed for good' && l.code === 'WECHAT_NOT_SUBSCRIBED'),
        'the failure is logged with its code',
      );
    } finally {
      await server.close();
      await wechat.close();
    }
  });
}

const [firstKind] = await testBackends();

test(`${firstKind}: administrators set and clear a staff openid; a malformed one is refused`, async (t) => {
  const server = await startTestServer(firstKind);
  try {
    const { admin, staff } = await setHostOpenId(server, HOST_OPENID);
    const bad = await admin.request('PUT', `/api/admin/staff/${staff.id}`, { wechatOpenId: 'not an openid' });
    t.is(bad.status, 400);
    t.is((await server.db.knex('staff').where({ id: staff.id }).first()).wechat_openid, HOST_OPENID);
    const cleared = await admin.request('PUT', `/api/admin/staff/${staff.id}`, { wechatOpenId: '' });
    t.is(cleared.status, 200);
    t.is(cleared.body.staff.wechatOpenId, null);
    // WeChat off (the default): no notice is queued even for a staff member with an openid
    await setHostOpenId(server, HOST_OPENID);
    await submitApplication(server, (await newVisitor(server)).client);
    t.is((await outbox(server)).length, 0);
    t.is((await server.db.knex('sms_outbox').where({ template: 'taskAssigned' })).length, 1);
  } finally {
    await server.close();
  }
});

test(`${firstKind}: a wrong AppSecret is reported at start-up with WeChat's code, naming the variables`, async (t) => {
  const wechat = await double();
  const server = await startTestServer(firstKind, { env: wechatEnv(wechat.url, { WECHAT_APP_SECRET: 'ffffffffffffffffffffffffffffffff' }) });
  try {
    const check = await server.services.wechat.checkCredentials();
    t.like(check, { ok: false, code: 'WECHAT_CREDENTIALS_REJECTED' });
    t.regex((check as any).message, /WECHAT_APP_ID \/ WECHAT_APP_SECRET.*errcode 40125 token: invalid appsecret/);
    // a notice queued meanwhile fails for good instead of hammering WeChat
    await setHostOpenId(server, HOST_OPENID);
    await submitApplication(server, (await newVisitor(server)).client);
    const [row] = await outbox(server);
    t.is(row.status, 'failed');
    t.regex(row.last_error, /^WECHAT_CREDENTIALS_REJECTED/);
  } finally {
    await server.close();
    await wechat.close();
  }
});
