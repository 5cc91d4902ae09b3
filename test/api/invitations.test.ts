import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, onlyTask, staffClient } from '../helpers/flow.ts';
import { makeMobile, makeVisitor } from '../helpers/identities.ts';
import { aliyunEnv, FLOW_TEMPLATE_IDS } from '../helpers/sms-doubles.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

/** A valid invitation for the computer-science department (host-cs), 2026-12-03 09:00-11:00. */
async function invitationInput(host: ApiClient, overrides: Record<string, unknown> = {}) {
  const options = await host.get('/api/invitations/options');
  if (options.status !== 200) throw new Error(`options: ${JSON.stringify(options.body)}`);
  return {
    visitorMobile: makeMobile(),
    visitorName: '赵敏',
    visitDate: '2026-12-03',
    visitStartTime: '09:00',
    visitEndTime: '11:00',
    leaderStaffId: options.body.leaders[0].id,
    note: '项目洽谈',
    ...overrides,
  };
}

/** The token of the link in the invitation SMS, read from the outbox before it is sent. */
async function linkToken(server: TestServer, invitationId: number): Promise<string> {
  const sms = await server.db.knex('sms_outbox').where({ dedupe_key: `invitation:${invitationId}` }).first();
  const m = /\/\?invite=([A-Za-z0-9_-]+)/.exec(sms?.body ?? '');
  if (!m) throw new Error(`no link in ${sms?.body}`);
  return m[1];
}

async function invite(server: TestServer, host: ApiClient, overrides: Record<string, unknown> = {}) {
  const input = await invitationInput(host, overrides);
  const res = await host.post('/api/invitations', input);
  if (res.status !== 201) throw new Error(`invite: ${JSON.stringify(res.body)}`);
  return { input, invitation: res.body.invitation, token: await linkToken(server, res.body.invitation.id) };
}

/** What the visitor fills on the locked form: only their own fields (the invitation's are set by the server). */
const ownFields = { withVehicle: true, plateNumber: '京A12345', remark: '按邀请来访' };

for (const kind of await testBackends()) {
  test(`${kind}: a host invites, lists and cancels; wrong input is refused with codes; the SMS carries the link; other hosts see nothing`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const { client: host, staff: hostStaff } = await staffClient(server, 'host-cs');
      const options = await host.get('/api/invitations/options');
      t.is(options.status, 200);
      t.is(options.body.department.name, '计算机学院');
      t.is(options.body.campus.name, '主校区');
      t.deepEqual(
        options.body.leaders.map((l: any) => l.name),
        [(await knex('staff').where({ username: 'leader-cs' }).first()).name],
      );

      // Refusals, each with its stable code
      const good = await invitationInput(host);
      const refused = async (overrides: Record<string, unknown>) => (await host.post('/api/invitations', { ...good, ...overrides })).body.error?.code;
      t.is(await refused({ visitorMobile: '1380000' }), 'INVITATION_MOBILE_INVALID');
      t.is(await refused({ visitorMobile: undefined }), 'VALIDATION_FAILED');
      t.is(await refused({ visitDate: '2026-11-30' }), 'VISIT_WINDOW_PAST');
      t.is(await refused({ visitStartTime: '06:00' }), 'VISIT_WINDOW_OUTSIDE_HOURS');
      t.is(await refused({ visitStartTime: '11:00', visitEndTime: '10:00' }), 'VISIT_WINDOW_INVALID');
      const hostOfOther = await knex('staff').where({ username: 'leader-me' }).first();
      t.is(await refused({ leaderStaffId: hostOfOther.id }), 'INVITATION_LEADER_INVALID');
      t.is(await refused({ leaderStaffId: hostStaff.id }), 'INVITATION_LEADER_INVALID', 'a host is not a leader');
      const otherDept = await knex('departments').whereNot({ code: 'CS' }).first();
      t.is(await refused({ departmentId: otherDept.id }), 'INVITATION_DEPARTMENT_NOT_OWN');
      t.is(await refused({ extra: 1 }), 'VALIDATION_FAILED');
      t.is(await knex('invitations').count({ n: '*' }).then(([r]: any) => Number(r.n)), 0, 'nothing was stored');

      // Roles: a leader, a guard and a visitor cannot invite
      const { client: leader } = await staffClient(server, 'leader-cs');
      t.is((await leader.post('/api/invitations', good)).status, 403);
      const v = await newVisitor(server);
      t.is((await v.client.post('/api/invitations', good)).status, 401);

      const created = await host.post('/api/invitations', good);
      t.is(created.status, 201, JSON.stringify(created.body));
      const inv = created.body.invitation;
      t.like(inv, {
        status: 'active',
        statusText: '待使用',
        visitorName: '赵敏',
        visitorMobile: `${good.visitorMobile.slice(0, 3)}****${good.visitorMobile.slice(-4)}`,
        visitDate: '2026-12-03',
        visitStartTime: '09:00',
        visitEndTime: '11:00',
        note: '项目洽谈',
        application: null,
      });
      t.is(inv.department.name, '计算机学院');
      t.false(JSON.stringify(created.body).includes(good.visitorMobile), 'the mobile is masked in the answer');

      // The SMS: to the invited mobile, with a link holding a token that is stored only as a hash
      const sms = await knex('sms_outbox').where({ template: 'invitation' });
      t.is(sms.length, 1);
      t.is(sms[0].recipient_masked, inv.visitorMobile);
      t.is(server.services.fieldCrypto.decrypt(sms[0].recipient_enc), good.visitorMobile);
      const token = await linkToken(server, inv.id);
      t.regex(sms[0].body, new RegExp(`https?://[^/\\s]+/\\?invite=${token}$`));
      t.regex(sms[0].body, /赵敏，王老师邀请您于2026-12-03 09:00-11:00到访主校区计算机学院/);
      t.true(Buffer.from(token, 'base64url').length >= 16, 'at least 128 random bits');
      const row = await knex('invitations').where({ id: inv.id }).first();
      t.false(JSON.stringify(row).includes(token), 'the token is not stored');
      t.false(JSON.stringify(row).includes(good.visitorMobile), 'the mobile is not stored in clear');
      // An administrator's SMS list never shows the token, and once sent the outbox forgets it
      const { client: admin } = await staffClient(server, 'admin');
      const adminSms = await admin.get('/api/admin/sms');
      t.false(JSON.stringify(adminSms.body).includes(token));
      t.true(adminSms.body.messages.some((m: any) => m.template === 'invitation' && m.body.includes('?invite=***')));
      await server.settle();
      const sent = await knex('sms_outbox').where({ id: sms[0].id }).first();
      t.is(sent.status, 'sent');
      t.is(JSON.parse(sms[0].params).token, token, 'the vendor gets the token as a value too');
      t.false(JSON.stringify(sent).includes(token), 'the sent SMS no longer holds the token');
      t.true(sent.body.includes('?invite=***'));
      t.false(JSON.stringify(server.logs).includes(token), 'no log line holds the token');

      // The list: newest first, with the status; filters
      const second = await invite(server, host, { visitorName: undefined, visitDate: '2026-12-04' });
      t.regex((await knex('sms_outbox').where({ dedupe_key: `invitation:${second.invitation.id}` }).first()).body, /】您好，王老师邀请您/);
      const list = await host.get('/api/invitations');
      t.is(list.status, 200);
      t.is(list.body.total, 2);
      t.deepEqual(
        list.body.invitations.map((i: any) => i.id),
        [second.invitation.id, inv.id],
      );

      // Another host neither sees nor cancels it
      const { client: otherHost } = await staffClient(server, 'host-me');
      t.is((await otherHost.get('/api/invitations')).body.total, 0);
      const foreign = await otherHost.post(`/api/invitations/${inv.id}/cancel`, {});
      t.is(foreign.status, 404);
      t.is(foreign.body.error.code, 'INVITATION_NOT_FOUND');
      t.is((await knex('invitations').where({ id: inv.id }).first()).status, 'active');

      // Cancel: once; then the list says 已取消 and the link is dead
      const canceled = await host.post(`/api/invitations/${inv.id}/cancel`, {});
      t.is(canceled.status, 200, JSON.stringify(canceled.body));
      t.is(canceled.body.invitation.statusText, '已取消');
      // The visitor holds the invitation's SMS: he is told it is cancelled, on the same mobile.
      t.is(canceled.body.notice, 'sms');
      const notice = await knex('sms_outbox').where({ dedupe_key: `invitation-canceled:${inv.id}` }).first();
      t.is(notice.template, 'invitationCanceled');
      t.is(notice.recipient_masked, `${good.visitorMobile.slice(0, 3)}****${good.visitorMobile.slice(-4)}`);
      t.regex(notice.body, /赵敏，王老师已取消邀请您于2026-12-03 09:00-11:00到访主校区计算机学院，原邀请链接已失效/);
      t.false(notice.body.includes(token));
      const again = await host.post(`/api/invitations/${inv.id}/cancel`, {});
      t.is(again.status, 409);
      t.is(again.body.error.code, 'INVITATION_NOT_CANCELABLE');
      t.is((await host.get('/api/invitations?status=canceled')).body.total, 1);
      t.is((await host.get('/api/invitations?status=active')).body.invitations[0].id, second.invitation.id);
      t.is((await host.get('/api/invitations?status=nope')).body.error.code, 'VALIDATION_FAILED');
      const dead = await new ApiClient(server.url).post('/api/invitations/preview', { token });
      t.is(dead.status, 409);
      t.is(dead.body.error.code, 'INVITATION_CANCELED');
      t.is((await knex('sms_outbox').where({ dedupe_key: `invitation-canceled:${inv.id}` })).length, 1, 'one notice, not one per attempt');

      // Audited where staff changes are: creation and cancellation, the mobile masked
      const audit = await admin.get('/api/admin/audit?targetType=invitation');
      t.deepEqual(
        audit.body.entries.map((e: any) => [e.action, e.targetId]).reverse(),
        [
          ['invitation.create', String(inv.id)],
          ['invitation.create', String(second.invitation.id)],
          ['invitation.cancel', String(inv.id)],
        ],
      );
      t.false(JSON.stringify(audit.body).includes(good.visitorMobile));

      // Cancelled before its SMS left the outbox: the SMS is stopped (with its link) and nothing else is sent.
      const unsent = await invite(server, host, { visitDate: '2026-12-05' });
      const stopped = await host.post(`/api/invitations/${unsent.invitation.id}/cancel`, {});
      t.is(stopped.status, 200, JSON.stringify(stopped.body));
      t.is(stopped.body.notice, 'stopped');
      t.is((await knex('sms_outbox').where({ dedupe_key: `invitation:${unsent.invitation.id}` })).length, 0, 'the unsent SMS is gone');
      t.is((await knex('sms_outbox').where({ dedupe_key: `invitation-canceled:${unsent.invitation.id}` })).length, 0);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the invited visitor applies with the locked form, skips the host review, the chosen leader approves; the link works once`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const cs = await knex('departments').where({ code: 'CS' }).first();
      // A second leader in the department: the invitation names who signs
      const deputy = await server.services.directory.createStaff({
        username: 'leader-cs-2',
        name: '钱副主任',
        mobile: makeMobile(),
        departmentId: cs.id,
        roles: ['leader'],
        password: 'Demo@2026',
      });
      const { client: host } = await staffClient(server, 'host-cs');
      const identity = makeVisitor({ name: '赵敏' });
      const { invitation, token } = await invite(server, host, { visitorMobile: identity.mobile, leaderStaffId: deputy.id });

      // Before logging in: who invites, where and when
      const anonymous = new ApiClient(server.url);
      const preview = await anonymous.post('/api/invitations/preview', { token });
      t.is(preview.status, 200, JSON.stringify(preview.body));
      t.like(preview.body.invitation, { hostName: '王老师', visitDate: '2026-12-03', visitStartTime: '09:00', visitEndTime: '11:00', visitorMobile: invitation.visitorMobile });
      t.is(preview.body.invitation.department.name, '计算机学院');
      for (const bad of ['', 'x'.repeat(43), `${token.slice(0, -2)}AA`, 42]) {
        const res = await anonymous.post('/api/invitations/preview', { token: bad });
        t.true([400, 404].includes(res.status), `${bad}: ${res.status}`);
      }
      t.is((await anonymous.post('/api/invitations/form', { token })).status, 401);

      // A visitor with another mobile is told clearly
      const stranger = await newVisitor(server);
      const mismatch = await stranger.client.post('/api/invitations/form', { token });
      t.is(mismatch.status, 403);
      t.is(mismatch.body.error.code, 'INVITATION_MOBILE_MISMATCH');
      t.regex(mismatch.body.error.message, new RegExp(invitation.visitorMobile.replace(/\*/g, '\\*')));
      t.is((await stranger.client.post('/api/invitations/apply', { token, data: ownFields })).body.error.code, 'INVITATION_MOBILE_MISMATCH');

      // The invited visitor registers with the invited mobile and gets the form filled and locked
      const visitor = new ApiClient(server.url);
      t.is((await visitor.post('/api/visitors/register', identity)).status, 201);
      const form = await visitor.post('/api/invitations/form', { token });
      t.is(form.status, 200, JSON.stringify(form.body));
      const components: any[] = [];
      const walk = (cs: any[]) => {
        for (const c of cs ?? []) {
          components.push(c);
          walk(c.components);
          for (const col of c.columns ?? []) walk(col.components);
        }
      };
      walk(form.body.form.components);
      const byKey = (k: string) => components.find((c) => c.key === k);
      t.like(byKey('campusId'), { disabled: true, defaultValue: String(invitation.campus.id) });
      t.like(byKey('departmentId'), { disabled: true, defaultValue: String(cs.id) });
      t.like(byKey('hostName'), { disabled: true, defaultValue: '王老师' });
      t.like(byKey('hostMobile'), { disabled: true, defaultValue: '138****1000' });
      t.like(byKey('visitDate'), { disabled: true, defaultValue: '2026-12-03' });
      t.false(Boolean(byKey('plateNumber').disabled), 'the visitor still fills the plate');
      t.false(JSON.stringify(form.body).includes('13800001000'), "the host's mobile is shown masked");
      t.is(form.body.invitation.hostName, '王老师');

      // Whatever the browser sends for the locked fields, the invitation's values are kept
      const other = await knex('departments').whereNot({ code: 'CS' }).first();
      const submitted = await visitor.post('/api/invitations/apply', {
        token,
        data: { ...form.body.prefill, ...ownFields, departmentId: String(other.id), visitDate: '2026-12-05', hostName: '别人' },
      });
      t.is(submitted.status, 201, JSON.stringify(submitted.body));
      const app = submitted.body.application;
      t.true(app.invitedByHost);
      t.is(app.department.id, cs.id);
      t.is(app.visitDate, '2026-12-03');
      t.is(app.hostName, '王老师');
      t.is(app.plateNumber, '京A12345');
      const row = await knex('applications').where({ id: app.id }).first();
      t.is(row.invitation_id, invitation.id);
      t.is(row.leader_staff_id, deputy.id);

      // The same link again: refused with a stable code, no second application
      const reuse = await visitor.post('/api/invitations/apply', { token, data: ownFields });
      t.is(reuse.status, 409);
      t.is(reuse.body.error.code, 'INVITATION_USED');
      t.is((await visitor.post('/api/invitations/form', { token })).body.error.code, 'INVITATION_USED');
      t.is((await knex('applications').where({ visitor_id: row.visitor_id })).length, 1);
      t.is((await host.get('/api/invitations')).body.invitations[0].statusText, '已使用');
      t.is((await host.get('/api/invitations')).body.invitations[0].application.flowNumber, app.flowNumber);

      // The process starts with the invitation's variables and goes straight to the chosen leader
      await server.settle();
      const info = await server.engine.getInstance((await knex('applications').where({ id: app.id }).first()).instance_key);
      t.is(info?.variables.invitedByHost, true);
      t.is(info?.variables.leaderStaffId, String(deputy.id));
      t.deepEqual(
        (await knex('tasks').where({ application_id: app.id })).map((x: any) => [x.element_id, x.assignee]),
        [['leader-review', String(deputy.id)]],
        'no host review; the leader review is the chosen leader’s',
      );
      t.is((await onlyTask(host)).tasks.length, 0, 'the host has nothing to review');
      const { client: chief } = await staffClient(server, 'leader-cs');
      t.is((await onlyTask(chief)).tasks.length, 0, 'the other leader has nothing either');
      const { client: deputyClient } = await staffClient(server, 'leader-cs-2');
      const [task] = (await onlyTask(deputyClient)).tasks;
      t.is(task.application.flowNumber, app.flowNumber);
      const done = await deputyClient.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '同意' } });
      t.is(done.status, 200, JSON.stringify(done.body));
      await server.settle();

      const status = await visitor.get(`/api/applications/${app.id}`);
      t.is(status.body.application.status, 'approved');
      t.true(status.body.application.invitedByHost);
      t.true(status.body.application.timeline.some((e: any) => e.kind === 'invited' && e.actor === '王老师'));
      t.is((await visitor.get(`/api/applications/${app.id}/pass`)).status, 200);

      // An ordinary application still starts with invitedByHost false and goes to the host
      const plain = await newVisitor(server);
      const { applicationData } = await import('../helpers/flow.ts');
      const ordinary = await plain.client.post('/api/applications', { data: await applicationData(plain.client) });
      t.is(ordinary.status, 201);
      t.false(ordinary.body.application.invitedByHost);
      await server.settle();
      const plainRow = await knex('applications').where({ id: ordinary.body.application.id }).first();
      t.is((await server.engine.getInstance(plainRow.instance_key))?.variables.invitedByHost, false);
      t.deepEqual(
        (await knex('tasks').where({ application_id: plainRow.id })).map((x: any) => x.element_id),
        ['host-review'],
      );
    } finally {
      await server.close();
    }
  });

  test(`${kind}: an invited visitor on the watch list (review) goes to the security office first, then straight to the leader`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const { client: admin } = await staffClient(server, 'admin');
      t.is((await admin.post('/api/admin/watch-list', { kind: 'name', name: '周九', organisation: '某科技公司', reason: '曾在实验室滋事', mode: 'review' })).status, 201);
      const { client: host } = await staffClient(server, 'host-cs');
      const identity = makeVisitor({ name: '周九', organisation: '某科技公司' });
      const { token } = await invite(server, host, { visitorMobile: identity.mobile });
      const visitor = new ApiClient(server.url);
      t.is((await visitor.post('/api/visitors/register', identity)).status, 201);
      const submitted = await visitor.post('/api/invitations/apply', { token, data: ownFields });
      t.is(submitted.status, 201, JSON.stringify(submitted.body));
      t.false(JSON.stringify(submitted.body).includes('滋事'));
      await server.settle();
      const app = submitted.body.application;
      const elements = async () => (await knex('tasks').where({ application_id: app.id }).orderBy('id')).map((x: any) => [x.element_id, x.status]);
      t.deepEqual(await elements(), [['security-review', 'open']]);

      const { client: security } = await staffClient(server, 'security');
      const [task] = (await onlyTask(security, 'unclaimed')).tasks;
      t.is((await security.post(`/api/tasks/${task.id}/claim`)).status, 200);
      t.is((await security.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '已核实' } })).status, 200);
      await server.settle();
      t.deepEqual(await elements(), [
        ['security-review', 'completed'],
        ['leader-review', 'open'],
      ]);
      t.is((await onlyTask(host)).tasks.length, 0, 'still no host review');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: expired and cancelled links are refused; two submissions with one link make one application`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const { client: host } = await staffClient(server, 'host-cs');
      const identity = makeVisitor();
      const visitor = new ApiClient(server.url);
      t.is((await visitor.post('/api/visitors/register', identity)).status, 201);

      const race = await invite(server, host, { visitorMobile: identity.mobile });
      const answers = await Promise.all([0, 1, 2].map(() => visitor.post('/api/invitations/apply', { token: race.token, data: ownFields })));
      t.deepEqual(answers.map((a) => a.status).sort(), [201, 409, 409], JSON.stringify(answers.map((a) => a.body)));
      t.true(answers.filter((a) => a.status === 409).every((a) => a.body.error.code === 'INVITATION_USED'));
      t.is((await knex('applications').where({ invitation_id: race.invitation.id })).length, 1);

      const canceled = await invite(server, host, { visitorMobile: identity.mobile, visitDate: '2026-12-04' });
      t.is((await host.post(`/api/invitations/${canceled.invitation.id}/cancel`, {})).status, 200);
      const refusedCanceled = await visitor.post('/api/invitations/apply', { token: canceled.token, data: ownFields });
      t.is(refusedCanceled.status, 409);
      t.is(refusedCanceled.body.error.code, 'INVITATION_CANCELED');

      const late = await invite(server, host, { visitorMobile: identity.mobile, visitDate: '2026-12-05', visitStartTime: '14:00', visitEndTime: '15:00' });
      // Past the window's end (15:00 Shanghai = 07:00Z): expired
      server.clock.set('2026-12-05T07:00:00Z');
      const { client: hostLater } = await staffClient(server, 'host-cs');
      t.is((await hostLater.get('/api/invitations?status=expired')).body.invitations[0].id, late.invitation.id);
      t.is((await hostLater.get('/api/invitations?status=expired')).body.invitations[0].statusText, '已过期');
      t.is((await hostLater.post(`/api/invitations/${late.invitation.id}/cancel`, {})).body.error.code, 'INVITATION_NOT_CANCELABLE');
      t.is((await visitor.post('/api/visitors/login', { mobile: identity.mobile, password: identity.idNumber.slice(-8) })).status, 200);
      const refusedLate = await visitor.post('/api/invitations/apply', { token: late.token, data: ownFields });
      t.is(refusedLate.status, 409);
      t.is(refusedLate.body.error.code, 'INVITATION_EXPIRED');
      t.is((await new ApiClient(server.url).post('/api/invitations/preview', { token: late.token })).body.error.code, 'INVITATION_EXPIRED');

      // The retention period removes unused invitations (and their SMS) once past; the used one stays with its application
      await server.settle();
      server.clock.advance(181 * 86_400_000);
      const purged = await server.services.admin.retention.purge(server.clock.now());
      t.is(purged.invitations, 2);
      t.deepEqual((await knex('invitations').select('id')).map((r: any) => r.id), [race.invitation.id]);
      t.deepEqual((await knex('sms_outbox').where({ template: 'invitation' }).select('dedupe_key')).map((r: any) => r.dedupe_key), [`invitation:${race.invitation.id}`]);
    } finally {
      await server.close();
    }
  });
}

test('with a vendor that has no invitation template, a host is told at once and nothing is stored', async (t) => {
  const server = await startTestServer('pglite', { env: aliyunEnv(FLOW_TEMPLATE_IDS) });
  try {
    const { client: host } = await staffClient(server, 'host-cs');
    const res = await host.post('/api/invitations', await invitationInput(host));
    t.is(res.status, 409);
    t.is(res.body.error.code, 'INVITATION_SMS_UNAVAILABLE');
    t.regex(res.body.error.message, /短信服务未配置邀请短信模板/);
    t.is((await server.db.knex('invitations')).length, 0);
    t.is((await server.db.knex('sms_outbox').where({ template: 'invitation' })).length, 0);
  } finally {
    await server.close();
  }
});

test('a vendor without the cancellation template: the host is told the visitor was not notified; a never-delivered invitation needs no notice', async (t) => {
  const server = await startTestServer('pglite', { env: aliyunEnv({ ...FLOW_TEMPLATE_IDS, invitation: 'SMS_1005' }) });
  try {
    const knex = server.db.knex;
    const { client: host } = await staffClient(server, 'host-cs');
    // No vendor is reachable from the tests: the outbox rows are set as the sender would leave them.
    const delivered = await invite(server, host);
    await knex('sms_outbox').where({ dedupe_key: `invitation:${delivered.invitation.id}` }).update({ status: 'sent' });
    const res = await host.post(`/api/invitations/${delivered.invitation.id}/cancel`, {});
    t.is(res.status, 200, JSON.stringify(res.body));
    t.is(res.body.notice, 'unavailable');
    t.is(res.body.invitation.statusText, '已取消');

    const lost = await invite(server, host, { visitDate: '2026-12-04' });
    await knex('sms_outbox').where({ dedupe_key: `invitation:${lost.invitation.id}` }).update({ status: 'failed' });
    t.is((await host.post(`/api/invitations/${lost.invitation.id}/cancel`, {})).body.notice, 'none');
    t.is((await knex('sms_outbox').where({ template: 'invitationCanceled' })).length, 0, 'nothing the vendor cannot send is queued');
  } finally {
    await server.close();
  }
});
