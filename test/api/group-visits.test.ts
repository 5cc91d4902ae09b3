import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { applicationData, approvedWithPass, newVisitor, onlyTask, smsTo, staffClient } from '../helpers/flow.ts';
import { makeIdNumber, makeMobile } from '../helpers/identities.ts';
import { aliyunEnv, FLOW_TEMPLATE_IDS } from '../helpers/sms-doubles.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

const masked = (id: string) => `${id.slice(0, 3)}***********${id.slice(-4)}`;
const maskedMobile = (m: string) => `${m.slice(0, 3)}****${m.slice(-4)}`;

function companion(name: string) {
  return { name, idNumber: makeIdNumber('19920518'), mobile: makeMobile() };
}

async function approveBoth(server: TestServer) {
  const { client: host } = await staffClient(server, 'host-cs');
  const task = (await onlyTask(host)).tasks[0];
  const view = await host.get(`/api/tasks/${task.id}`);
  const done = await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '同意', leaderStaffId: String(view.body.leaders[0].id) } });
  if (done.status !== 200) throw new Error(JSON.stringify(done.body));
  await server.settle();
  const { client: leader } = await staffClient(server, 'leader-cs');
  const leaderTask = (await onlyTask(leader)).tasks[0];
  const leaderView = await leader.get(`/api/tasks/${leaderTask.id}`);
  const finished = await leader.post(`/api/tasks/${leaderTask.id}/complete`, { data: { decision: 'approve', opinion: '同意' } });
  if (finished.status !== 200) throw new Error(JSON.stringify(finished.body));
  await server.settle();
  return { hostView: view.body, leaderView: leaderView.body };
}

for (const kind of await testBackends()) {
  test(`${kind}: companions are checked one by one; errors name the row and field; nothing is stored`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client, identity } = await newVisitor(server, { name: '李四' });
      const a = companion('王五');
      const submit = async (companions: unknown) => client.post('/api/applications', { data: await applicationData(client, { companions }) });

      const wrongCheck = `${a.idNumber.slice(0, 17)}${a.idNumber.endsWith('0') ? '1' : '0'}`;
      const bad = await submit([a, { ...companion('赵六'), idNumber: wrongCheck }]);
      t.is(bad.status, 400);
      t.is(bad.body.error.code, 'COMPANION_ID_INVALID');
      t.deepEqual(bad.body.error.details, [{ field: 'companions[1].idNumber', message: '身份证号校验位不正确，请核对后重新输入' }]);

      const badMobile = await submit([{ ...a, mobile: '12345' }]);
      t.is(badMobile.status, 400);
      t.is(badMobile.body.error.details[0].field, 'companions[0].mobile');
      t.regex(badMobile.body.error.details[0].message, /手机号/);

      const duplicate = await submit([a, { ...companion('王五五'), idNumber: a.idNumber.toLowerCase() }]);
      t.is(duplicate.status, 400);
      t.is(duplicate.body.error.code, 'COMPANION_DUPLICATE');
      t.deepEqual(duplicate.body.error.details, [{ field: 'companions[1].idNumber', message: '与第1位同行人员的身份证号重复' }]);

      const himself = await submit([{ ...a, idNumber: identity.idNumber }]);
      t.is(himself.status, 400);
      t.is(himself.body.error.code, 'COMPANION_IS_APPLICANT');
      t.is(himself.body.error.details[0].field, 'companions[0].idNumber');
      t.is(himself.body.error.message, '同行人员不能是申请人本人');

      const many = await submit(Array.from({ length: 21 }, (_, i) => companion(`同行${i}`)));
      t.is(many.status, 400);
      t.is(many.body.error.code, 'COMPANIONS_TOO_MANY');
      t.is(many.body.error.message, '同行人员最多20人');

      // Form.io's own rules of the grid (a required name) answer first, with the row's path.
      const noName = await submit([{ ...a, name: '' }]);
      t.is(noName.status, 400);
      t.is(noName.body.error.code, 'FORM_INVALID');
      t.deepEqual(noName.body.error.details, [{ field: 'companions[0].name', message: '请填写同行人员姓名' }]);

      t.is((await server.db.knex('applications').select('id')).length, 0);
      t.is((await server.db.knex('application_companions').select('id')).length, 0);
      for (const line of server.logs) t.false(JSON.stringify(line).includes(a.idNumber), 'no ID number in the logs');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a group is approved: one pass per person, each companion gets his own link, each is checked at the gate on his own`, async (t) => {
    const server = await startTestServer(kind, { recordSms: true });
    try {
      const { client, identity } = await newVisitor(server, { name: '李四' });
      const a = companion('王五');
      const b = companion('赵小六');
      const data = await applicationData(client, { companions: [a, b] });
      const submitted = await client.post('/api/applications', { data });
      t.is(submitted.status, 201, JSON.stringify(submitted.body));
      const id = submitted.body.application.id;
      await server.settle();

      // Stored encrypted: neither the companions' table nor the application's data holds a clear number.
      const rows = await server.db.knex('application_companions').where({ application_id: id }).orderBy('position');
      t.deepEqual(rows.map((r: any) => r.name), ['王五', '赵小六']);
      t.deepEqual(rows.map((r: any) => r.id_number_masked), [masked(a.idNumber), masked(b.idNumber)]);
      const app = await server.db.knex('applications').where({ id }).first();
      const stored = JSON.stringify([rows, app]);
      for (const secret of [a.idNumber, b.idNumber, a.mobile, b.mobile]) t.false(stored.includes(secret), 'no clear identifier stored');
      const appData = typeof app.data === 'string' ? JSON.parse(app.data) : app.data;
      t.deepEqual(appData.companions, [
        { name: '王五', idNumber: masked(a.idNumber), mobile: maskedMobile(a.mobile) },
        { name: '赵小六', idNumber: masked(b.idNumber), mobile: maskedMobile(b.mobile) },
      ]);

      const { hostView, leaderView } = await approveBoth(server);
      // Host and leader saw the companions, masked.
      for (const view of [hostView, leaderView]) {
        t.deepEqual(
          view.application.group.companions.map((c: any) => [c.name, c.idNumber, c.mobile]),
          [
            ['王五', masked(a.idNumber), maskedMobile(a.mobile)],
            ['赵小六', masked(b.idNumber), maskedMobile(b.mobile)],
          ],
        );
        const text = JSON.stringify(view);
        for (const secret of [a.idNumber, b.idNumber, a.mobile, b.mobile]) t.false(text.includes(secret));
      }
      const { client: admin } = await staffClient(server, 'admin');
      const inst = await admin.get(`/api/admin/instances/${id}`);
      t.is(inst.status, 200, JSON.stringify(inst.body));
      t.deepEqual(inst.body.application.group.companions.map((c: any) => c.idNumber), [masked(a.idNumber), masked(b.idNumber)]);

      // N+1 passes, each with its own code.
      const passes = await server.db.knex('passes').where({ application_id: id }).orderBy('id');
      t.is(passes.length, 3);
      t.is(new Set(passes.map((p: any) => p.short_code)).size, 3);
      t.deepEqual(passes.map((p: any) => p.companion_id === null), [true, false, false]);

      // One SMS per companion, to his own mobile, each with its own link.
      const messages = await smsTo(server);
      t.deepEqual(messages.map((m: any) => m.template).sort(), ['approved', 'companionPass', 'companionPass', 'taskAssigned', 'taskAssigned']);
      t.true(messages.every((m: any) => m.status === 'sent'));
      const links = messages.filter((m: any) => m.template === 'companionPass');
      t.deepEqual(links.map((m: any) => m.recipient_masked), [maskedMobile(a.mobile), maskedMobile(b.mobile)]);
      t.regex(links[0].body, /王五.*李四的同行人员/);
      // Once sent, the outbox keeps no usable link (an administrator's message list shows it); the phone got it.
      t.true(links.every((m: any) => m.body.includes('?pass=***') && !/\?pass=[A-Za-z0-9_-]{8}/.test(`${m.body}${m.params}`)));
      const delivered = server.smsSent.filter((m) => m.template === 'companionPass');
      t.deepEqual(delivered.map((m) => m.to), [a.mobile, b.mobile]);
      const tokens = delivered.map((m) => /\?pass=([A-Za-z0-9_-]+)/.exec(m.body)![1]);
      t.not(tokens[0], tokens[1]);
      t.true(passes.every((p: any) => !tokens.includes(p.link_token_hash)), 'only the hash of a token is stored');

      // The companion opens his pass by the link, without logging in.
      const stranger = new ApiClient(server.url);
      const opened = await stranger.post('/api/pass-link', { token: tokens[1] });
      t.is(opened.status, 200, JSON.stringify(opened.body));
      t.is(opened.body.pass.holderName, '赵**');
      t.is(opened.body.pass.status, 'active');
      t.is(opened.body.pass.shortCode, passes[2].short_code);
      t.truthy(opened.body.pass.qr.payload);
      t.is((await stranger.post('/api/pass-link', { token: `${tokens[1].slice(0, -1)}${tokens[1].endsWith('A') ? 'B' : 'A'}` })).body.error.code, 'PASS_LINK_INVALID');
      t.is((await stranger.post('/api/pass-link', { token: 'x' })).status, 404);
      // The applicant's own pass page still shows his pass.
      t.is((await client.get(`/api/applications/${id}/pass`)).body.pass.shortCode, passes[0].short_code);

      // At the gate, within the window: the companion's pass shows his name, and his entry is his alone.
      server.clock.set('2026-12-03T01:10:00Z');
      const { client: guard } = await staffClient(server, 'guard');
      const campusId = Number(data.campusId);
      const fresh = await stranger.post('/api/pass-link', { token: tokens[1] });
      const verified = await guard.post('/api/gate/verify', { payload: fresh.body.pass.qr.payload, campusId });
      t.true(verified.body.valid, JSON.stringify(verified.body));
      t.is(verified.body.pass.visitorName, '赵小六');
      t.is(verified.body.pass.idNumber, masked(b.idNumber));
      t.is(verified.body.pass.mobile, maskedMobile(b.mobile));
      t.is(verified.body.pass.companionOf, '李四');
      const entry = await guard.post(`/api/gate/passes/${verified.body.pass.id}/entry`, { campusId });
      t.is(entry.status, 200, JSON.stringify(entry.body));
      const byCode = await guard.post('/api/gate/verify', { code: passes[0].short_code, campusId });
      t.is(byCode.body.pass.visitorName, '李四');
      t.is(byCode.body.pass.companionOf, undefined);
      t.is(byCode.body.lastEvent, undefined, "the applicant's pass has no entry of its own");

      const onCampus = await guard.get(`/api/gate/on-campus?campusId=${campusId}`);
      t.is(onCampus.status, 200, JSON.stringify(onCampus.body));
      t.deepEqual(onCampus.body.visitors.map((v: any) => [v.passId, v.name, v.mobile]), [[passes[2].id, '赵**', maskedMobile(b.mobile)]]);

      // The applicant's status page lists the group's passes with their state.
      await client.post('/api/visitors/login', { mobile: identity.mobile, password: identity.idNumber.slice(-8) });
      const mine = await client.get(`/api/applications/${id}`);
      t.deepEqual(mine.body.application.group.applicantPass, { status: 'active', onCampus: false });
      t.deepEqual(
        mine.body.application.group.companions.map((c: any) => [c.name, c.pass]),
        [
          ['王五', { status: 'active', onCampus: false }],
          ['赵小六', { status: 'active', onCampus: true }],
        ],
      );

      // Withdrawing the application revokes every pass of the group.
      await guard.post(`/api/gate/passes/${verified.body.pass.id}/exit`, { campusId });
      t.is((await client.post(`/api/applications/${id}/withdraw`, {})).status, 200);
      const revoked = await stranger.post('/api/pass-link', { token: tokens[0] });
      t.is(revoked.body.pass.status, 'revoked');
      t.is(revoked.body.pass.qr, null);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the applicant sends a companion's link again: a new link to the same or a corrected mobile, the old one stops working; throttled, refused for another visitor or a revoked pass`, async (t) => {
    const server = await startTestServer(kind, { recordSms: true });
    try {
      const { client } = await newVisitor(server, { name: '李四' });
      const a = companion('王五');
      const b = companion('赵小六');
      const submitted = await client.post('/api/applications', { data: await applicationData(client, { companions: [a, b] }) });
      t.is(submitted.status, 201, JSON.stringify(submitted.body));
      const id = submitted.body.application.id;
      await server.settle();
      const resend = (position: number | string, who = client) => who.post(`/api/applications/${id}/companions/${position}/resend-link`, {});

      const early = await resend(1);
      t.is(early.status, 409);
      t.is(early.body.error.code, 'COMPANION_PASS_NOT_ISSUED');
      t.is(early.body.error.message, '申请审批通过后，才会向同行人员发送通行码链接');

      await approveBoth(server);
      const firstToken = /\?pass=([A-Za-z0-9_-]+)/.exec(server.smsSent.filter((m) => m.to === b.mobile).at(-1)!.body)![1];

      // The first SMS has just gone: the applicant waits a minute before sending it again.
      const soon = await resend(1);
      t.is(soon.status, 429);
      t.is(soon.body.error.code, 'COMPANION_LINK_TOO_SOON');
      t.is(soon.body.error.details.retryAfterSeconds, 60);
      t.is(soon.headers.get('retry-after'), '60');
      t.regex(soon.body.error.message, /请60秒后再重发/);

      server.clock.advance(61_000);
      const again = await resend(1);
      t.is(again.status, 200, JSON.stringify(again.body));
      t.deepEqual(again.body.sent, { name: '赵小六', mobile: maskedMobile(b.mobile), retryAfterSeconds: 60 });
      await server.settle();
      const toB = server.smsSent.filter((m) => m.to === b.mobile && m.template === 'companionPass');
      t.is(toB.length, 2, 'a second SMS to the same companion');
      t.is(server.smsSent.filter((m) => m.to === a.mobile && m.template === 'companionPass').length, 1, 'the other companion gets nothing');
      const newToken = /\?pass=([A-Za-z0-9_-]+)/.exec(toB[1].body)![1];
      t.not(newToken, firstToken);
      t.regex(toB[1].body, /赵小六.*李四的同行人员/);

      // Only the newest link opens the pass.
      const stranger = new ApiClient(server.url);
      const old = await stranger.post('/api/pass-link', { token: firstToken });
      t.is(old.status, 404);
      t.is(old.body.error.code, 'PASS_LINK_INVALID');
      const opened = await stranger.post('/api/pass-link', { token: newToken });
      t.is(opened.status, 200, JSON.stringify(opened.body));
      t.is(opened.body.pass.holderName, '赵**');

      // The outbox keeps no usable link; the timeline says what happened.
      const links = (await smsTo(server)).filter((m: any) => m.template === 'companionPass');
      t.is(links.length, 3);
      t.true(links.every((m: any) => m.status === 'sent' && !/\?pass=[A-Za-z0-9_-]{8}/.test(`${m.body}${m.params}`)));
      const view = await client.get(`/api/applications/${id}`);
      t.true(view.body.application.timeline.some((e: any) => e.title === '已向同行人员赵小六重发通行码链接'));

      // Another visitor, a position no companion has, a malformed one.
      const { client: other } = await newVisitor(server, { name: '周九' });
      const foreign = await resend(1, other);
      t.is(foreign.status, 404);
      t.is(foreign.body.error.code, 'APPLICATION_NOT_FOUND');
      for (const position of [2, 'x', '-1', '99999']) {
        const none = await resend(position);
        t.is(none.status, 404, String(position));
        t.is(none.body.error.code, 'COMPANION_NOT_FOUND');
      }
      t.is((await smsTo(server)).filter((m: any) => m.template === 'companionPass').length, 3, 'no SMS for any refusal');

      // Two presses at once (two tabs): one link goes, the other is told to wait.
      server.clock.advance(61_000);
      const both = await Promise.all([resend(0), resend(0)]);
      t.deepEqual(both.map((r) => r.status).sort(), [200, 429]);

      // Five times per pass at most.
      for (let n = 2; n <= 5; n++) {
        server.clock.advance(61_000);
        t.is((await resend(0)).status, 200, `resend ${n}`);
      }
      server.clock.advance(61_000);
      const limit = await resend(0);
      t.is(limit.status, 429);
      t.is(limit.body.error.code, 'COMPANION_LINK_LIMIT');
      t.is(limit.body.error.details.max, 5);

      // 赵小六's mobile was mistyped: the applicant gives the right one, which replaces it, and the link goes there.
      server.clock.advance(61_000);
      const wrongMobile = await client.post(`/api/applications/${id}/companions/1/resend-link`, { mobile: '12345' });
      t.is(wrongMobile.status, 400);
      t.is(wrongMobile.body.error.code, 'COMPANION_MOBILE_INVALID');
      t.deepEqual(wrongMobile.body.error.details, [{ field: 'mobile', message: '请填写正确的11位手机号' }]);
      const right = makeMobile();
      const corrected = await client.post(`/api/applications/${id}/companions/1/resend-link`, { mobile: right });
      t.is(corrected.status, 200, JSON.stringify(corrected.body));
      t.is(corrected.body.sent.mobile, maskedMobile(right));
      await server.settle();
      const toRight = server.smsSent.filter((m) => m.to === right);
      t.is(toRight.length, 1);
      t.regex(toRight[0].body, /赵小六.*\?pass=/);
      const stored = await server.db.knex('application_companions').where({ application_id: id, position: 1 }).first();
      t.is(stored.mobile_masked, maskedMobile(right));
      t.false(JSON.stringify(stored).includes(right), 'stored encrypted, as at submission');
      const after = await client.get(`/api/applications/${id}`);
      t.is(after.body.application.group.companions[1].mobile, maskedMobile(right));
      t.deepEqual(after.body.application.data.companions.map((c: any) => c.mobile), [maskedMobile(a.mobile), maskedMobile(right)]);
      t.true(after.body.application.timeline.some((e: any) => e.title === `已更正同行人员赵小六的手机号（${maskedMobile(right)}）并重发通行码链接`));

      // A withdrawn application's passes are revoked: no link is sent for them.
      t.is((await client.post(`/api/applications/${id}/withdraw`, {})).status, 200);
      const revoked = await resend(1);
      t.is(revoked.status, 409);
      t.is(revoked.body.error.code, 'COMPANION_PASS_NOT_VALID');
      t.regex(revoked.body.error.message, /已作废/);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the watch list checks each companion: refuse refuses the whole application, review flags it with the person`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const refused = companion('钱七');
      const reviewed = companion('孙八');
      t.is((await admin.post('/api/admin/watch-list', { kind: 'id_number', idNumber: refused.idNumber, reason: '冒用证件', mode: 'refuse' })).status, 201);
      t.is((await admin.post('/api/admin/watch-list', { kind: 'name', name: '孙八', reason: '需核实', mode: 'review' })).status, 201);

      const { client } = await newVisitor(server, { name: '李四' });
      const no = await client.post('/api/applications', { data: await applicationData(client, { companions: [companion('王五'), refused] }) });
      t.is(no.status, 403);
      t.is(no.body.error.code, 'APPLICATION_NOT_ACCEPTED');
      t.is(no.body.error.message, '您的申请暂不能受理，如有疑问请联系到访单位');
      t.is((await server.db.knex('application_companions').select('id')).length, 0);

      const yes = await client.post('/api/applications', { data: await applicationData(client, { companions: [reviewed] }) });
      t.is(yes.status, 201, JSON.stringify(yes.body));
      await server.settle();
      // A companion's review hit sends the application to the security office's review first.
      const { client: security } = await staffClient(server, 'security');
      const task = (await onlyTask(security, 'unclaimed')).tasks[0];
      t.is(task.elementId, 'security-review');
      const view = await security.get(`/api/tasks/${task.id}`);
      const entries = view.body.application.watchHit.entries;
      t.is(entries.length, 1);
      t.deepEqual(entries[0].person, { role: 'companion', name: '孙八', index: 0 });
      const audit = JSON.stringify(await server.db.knex('audit_log').select('*'));
      t.false(audit.includes(refused.idNumber), 'the refusal audit holds no clear ID number');
    } finally {
      await server.close();
    }
  });
}

test("a vendor without a companionPass template: the applicant is told at once that the link cannot be sent", async (t) => {
  const server = await startTestServer('pglite', { env: aliyunEnv(FLOW_TEMPLATE_IDS) });
  try {
    const { client, visitor } = await newVisitor(server, { name: '李四' });
    const { application } = await approvedWithPass(server, visitor.id, { window: { start: '2026-12-03T01:00:00Z', end: '2026-12-03T03:00:00Z' } });
    const { fieldCrypto, companions, passes } = server.services;
    const c = companion('王五');
    await server.db.knex.transaction(async (trx) => {
      await companions.insert(trx, application.id, [{ position: 0, name: c.name, idNumber: c.idNumber, idNumberBidx: fieldCrypto.blindIndex('id', c.idNumber), mobile: c.mobile }]);
      await passes.issueForCompanions(trx, application.id);
    });
    const res = await client.post(`/api/applications/${application.id}/companions/0/resend-link`, {});
    t.is(res.status, 409);
    t.is(res.body.error.code, 'COMPANION_LINK_SMS_UNAVAILABLE');
    t.is(res.body.error.message, '短信暂不能发送通行码链接，请联系到访单位');
    const pass = await server.db.knex('passes').whereNotNull('companion_id').first();
    t.is((await server.db.knex('sms_outbox').where({ template: 'companionPass' })).length, 0, 'nothing queued');
    t.truthy(pass.link_token_hash, 'the link is left as it was');
  } finally {
    await server.close();
  }
});
