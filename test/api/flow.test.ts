import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { applicationData, newVisitor, onlyTask, smsTo, staffClient, submitApplication, tinyPng } from '../helpers/flow.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

async function hostDecides(server: TestServer, decision: 'approve' | 'refuse', opinion: string) {
  const { client: host } = await staffClient(server, 'host-cs');
  const list = await onlyTask(host);
  const task = list.tasks[0];
  const view = await host.get(`/api/tasks/${task.id}`);
  const leader = view.body.leaders[0];
  const data: Record<string, unknown> = { decision, opinion };
  if (decision === 'approve') data.leaderStaffId = String(leader.id);
  const done = await host.post(`/api/tasks/${task.id}/complete`, { data });
  if (done.status !== 200) throw new Error(`host complete failed: ${JSON.stringify(done.body)}`);
  await server.settle();
  return { host, task, view };
}

async function leaderDecides(server: TestServer, decision: 'approve' | 'refuse', opinion: string) {
  const { client: leader } = await staffClient(server, 'leader-cs');
  const list = await onlyTask(leader);
  const done = await leader.post(`/api/tasks/${list.tasks[0].id}/complete`, { data: { decision, opinion } });
  if (done.status !== 200) throw new Error(`leader complete failed: ${JSON.stringify(done.body)}`);
  await server.settle();
  return { leader, list };
}

for (const kind of await testBackends()) {
  // npm test runs this file again on the Zeebe adapter (VISITFLOW_TEST_ENGINE=zeebe): keep the titles apart.
  const label = process.env.VISITFLOW_TEST_ENGINE === 'zeebe' ? `zeebe/${kind}` : kind;
  test(`${label}: approve + approve issues a pass, tells everyone by SMS and the guard admits the visitor`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client, identity } = await newVisitor(server, { name: '李四' });
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(tinyPng())], { type: 'image/png' }), '健康码.png');
      const upload = await client.request('POST', '/api/uploads', form);
      t.is(upload.status, 201, JSON.stringify(upload.body));

      const data = await applicationData(client, {
        visitorName: '冒名顶替', // server-filled: whatever the client sends is replaced
        attachments: [{ storage: 'url', name: upload.body.name, url: upload.body.url, data: upload.body }],
        withVehicle: true,
        plateNumber: '京A12345',
      });
      const submitted = await client.post('/api/applications', { data });
      t.is(submitted.status, 201, JSON.stringify(submitted.body));
      t.regex(submitted.body.application.flowNumber, /^VF20261201\d{6}$/);
      t.regex(submitted.body.application.next, /接待人/);
      t.like(submitted.body.application, { status: 'submitted', currentStep: '正在送交到访部门接待人审核', hostName: '王老师', campus: { name: '主校区' }, department: { name: '计算机学院' } });
      // The answer is made from what the checks read, without reading the application again: it shows what the status page shows.
      const asStored = (await client.get(`/api/applications/${submitted.body.application.id}`)).body.application;
      const fixed = ['id', 'flowNumber', 'campus', 'department', 'hostName', 'visitDate', 'visitStartTime', 'visitEndTime', 'plateNumber', 'invitedByHost', 'createdAt', 'lastOpinion'];
      t.deepEqual(
        Object.fromEntries(fixed.map((k) => [k, submitted.body.application[k]])),
        Object.fromEntries(fixed.map((k) => [k, asStored[k]])),
      );
      await server.settle();

      const mine = await client.get(`/api/applications/${submitted.body.application.id}`);
      t.is(mine.body.application.status, 'pending');
      t.is(mine.body.application.data.visitorName, '李四');
      t.is(mine.body.application.plateNumber, '京A12345');
      t.is(mine.body.application.attachments.length, 1);
      t.regex(mine.body.application.currentStep, /接待人意见/);

      const { host, task, view } = await hostDecides(server, 'approve', '同意来访');
      t.is(task.application.flowNumber, submitted.body.application.flowNumber);
      // The task view reads the application with its task in one statement: it shows it as the visitor's view does.
      const shown = ['createdAt', 'visitDate', 'visitStartTime', 'campus', 'department', 'hostName', 'status', 'currentStep', 'data', 'attachments'];
      t.deepEqual(
        Object.fromEntries(shown.map((k) => [k, view.body.application[k]])),
        Object.fromEntries(shown.map((k) => [k, mine.body.application[k]])),
      );
      t.is(view.body.application.visitor.idNumber, `${identity.idNumber.slice(0, 3)}***********${identity.idNumber.slice(-4)}`);
      t.false(JSON.stringify(view.body).includes(identity.idNumber));
      t.false(JSON.stringify(view.body).includes(identity.mobile));
      t.true(view.body.stockOpinions.length > 0);
      t.regex(view.body.notice, /审核/);
      t.is(view.body.attachments.length, 1);
      t.is((await host.get(view.body.attachments[0].url)).status, 200, 'the host can open the attachment');
      const done = await onlyTask(host, 'done');
      t.is(done.counts.done, 1);
      t.is(done.counts.mine, 0);

      await leaderDecides(server, 'approve', '同意');
      const final = await client.get(`/api/applications/${submitted.body.application.id}`);
      t.is(final.body.application.status, 'approved');
      const kinds = final.body.application.timeline.map((e: any) => e.kind);
      t.deepEqual(kinds.filter((k: string) => k !== 'task-created'), ['submitted', 'task-completed', 'task-completed', 'approved']);

      const messages = await smsTo(server);
      t.deepEqual(messages.map((m: any) => m.template), ['taskAssigned', 'taskAssigned', 'approved']);
      t.true(messages.every((m: any) => m.status === 'sent'));
      const approved = messages[2];
      t.regex(approved.body, /李四/);
      t.regex(approved.body, /2026-12-03/);
      t.true(approved.body.includes(submitted.body.application.flowNumber));
      t.regex(approved.body, /身份证号后8位/);
      t.is(approved.recipient_masked, `${identity.mobile.slice(0, 3)}****${identity.mobile.slice(-4)}`);

      const pass = await client.get(`/api/applications/${submitted.body.application.id}/pass`);
      t.is(pass.status, 200, JSON.stringify(pass.body));
      t.is(pass.body.pass.plateNumber, '京A12345');
      const { client: guard } = await staffClient(server, 'guard');
      server.clock.set('2026-12-03T01:10:00Z'); // 09:10 in Shanghai, inside the window; sessions have expired
      await client.post('/api/visitors/login', { mobile: identity.mobile, password: identity.idNumber.slice(-8) });
      await guard.post('/api/staff/login', { username: 'guard', password: 'Demo@2026' });
      const fresh = await client.get(`/api/applications/${submitted.body.application.id}/pass`);
      const verified = await guard.post('/api/gate/verify', { payload: fresh.body.pass.qr.payload, campusId: Number(data.campusId) });
      t.true(verified.body.valid, JSON.stringify(verified.body));
      t.is(verified.body.pass.visitorName, '李四');
    } finally {
      await server.close();
    }
  });

  test(`${label}: the host refuses: the flow ends, the visitor is told with the opinion, no pass`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const app = await submitApplication(server, client);
      await hostDecides(server, 'refuse', '来访事由不充分');
      const final = await client.get(`/api/applications/${app.id}`);
      t.is(final.body.application.status, 'refused');
      t.is(final.body.application.lastOpinion, '来访事由不充分');
      const messages = await smsTo(server);
      t.deepEqual(messages.map((m: any) => m.template), ['taskAssigned', 'refused']);
      t.regex(messages[1].body, /来访事由不充分/);
      t.is((await client.get(`/api/applications/${app.id}/pass`)).status, 404);
    } finally {
      await server.close();
    }
  });

  test(`${label}: the leader refuses after the host approved`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const app = await submitApplication(server, client);
      await hostDecides(server, 'approve', '同意');
      await leaderDecides(server, 'refuse', '请改期');
      const final = await client.get(`/api/applications/${app.id}`);
      t.is(final.body.application.status, 'refused');
      const messages = await smsTo(server);
      t.is(messages.at(-1).template, 'refused');
      t.regex(messages.at(-1).body, /请改期/);
      t.is((await client.get(`/api/applications/${app.id}/pass`)).status, 404);
    } finally {
      await server.close();
    }
  });

  test(`${label}: nobody reviews for 72 hours: the application expires and the task leaves the list`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client, identity } = await newVisitor(server);
      const app = await submitApplication(server, client, { visitDate: '2026-12-20' });
      t.is((await onlyTask((await staffClient(server, 'host-cs')).client)).counts.mine, 1);
      server.clock.advance(71 * 3600_000);
      await server.settle();
      t.is((await server.db.knex('applications').where({ id: app.id }).first()).status, 'pending');
      server.clock.advance(2 * 3600_000);
      await server.settle();
      await client.post('/api/visitors/login', { mobile: identity.mobile, password: identity.idNumber.slice(-8) });
      const final = await client.get(`/api/applications/${app.id}`);
      t.is(final.body.application.status, 'expired');
      t.is((await onlyTask((await staffClient(server, 'host-cs')).client)).counts.mine, 0);
      const messages = await smsTo(server);
      t.is(messages.at(-1).template, 'expired');
      t.regex(messages.at(-1).body, /失效/);
    } finally {
      await server.close();
    }
  });

  test(`${label}: a visitor withdraws a pending application: task gone, instance canceled, cannot withdraw twice`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const app = await submitApplication(server, client);
      const withdrawn = await client.post(`/api/applications/${app.id}/withdraw`);
      t.is(withdrawn.status, 200, JSON.stringify(withdrawn.body));
      t.is(withdrawn.body.application.status, 'withdrawn');
      await server.settle();
      const { client: host } = await staffClient(server, 'host-cs');
      t.is((await onlyTask(host)).counts.mine, 0);
      const row = await server.db.knex('applications').where({ id: app.id }).first();
      const instance = await (server.engine as any).getInstance(row.instance_key);
      t.not(instance?.status, 'active');
      const again = await client.post(`/api/applications/${app.id}/withdraw`);
      t.is(again.status, 409);
      t.is(again.body.error.code, 'APPLICATION_NOT_WITHDRAWABLE');
    } finally {
      await server.close();
    }
  });

  test(`${label}: two colleagues claim the same group task at once: one wins, the other gets 409`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const cs = await server.db.knex('departments').where({ code: 'CS' }).first();
      await server.services.directory.createStaff({
        username: 'host-cs-2',
        name: '钱老师',
        mobile: '13800002000',
        departmentId: cs.id,
        roles: ['host'],
        password: 'Demo@2026',
      });
      const { client } = await newVisitor(server);
      await submitApplication(server, client);
      const { client: host } = await staffClient(server, 'host-cs');
      const task = (await onlyTask(host)).tasks[0];
      t.is((await host.post(`/api/tasks/${task.id}/unclaim`)).status, 200);
      const { client: colleague } = await staffClient(server, 'host-cs-2');
      t.is((await onlyTask(colleague, 'unclaimed')).counts.unclaimed, 1);
      const results = await Promise.all([host.post(`/api/tasks/${task.id}/claim`), colleague.post(`/api/tasks/${task.id}/claim`)]);
      t.deepEqual(results.map((r) => r.status).sort(), [200, 409]);
      t.is(results.find((r) => r.status === 409)!.body.error.code, 'TASK_ALREADY_CLAIMED');
      const loser = results[0].status === 409 ? host : colleague;
      const complete = await loser.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse', opinion: '不同意' } });
      t.is(complete.status, 409);
      t.is(complete.body.error.code, 'TASK_ALREADY_CLAIMED');
    } finally {
      await server.close();
    }
  });

  test(`${label}: the host must pick a leader of the department; a task completes only once`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      await submitApplication(server, client);
      const { client: host } = await staffClient(server, 'host-cs');
      const task = (await onlyTask(host)).tasks[0];
      const noLeader = await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '同意' } });
      t.is(noLeader.status, 400);
      t.is(noLeader.body.error.code, 'FORM_INVALID');
      t.regex(noLeader.body.error.message, /主管领导/);
      const otherLeader = await server.db.knex('staff').where({ username: 'leader-me' }).first();
      const wrong = await host.post(`/api/tasks/${task.id}/complete`, {
        data: { decision: 'approve', opinion: '同意', leaderStaffId: String(otherLeader.id) },
      });
      t.is(wrong.status, 400);
      t.is(wrong.body.error.code, 'LEADER_NOT_ALLOWED');
      const draft = await host.request('PUT', `/api/tasks/${task.id}/draft`, { data: { opinion: '草稿意见', bogus: 1 } });
      t.is(draft.status, 200);
      t.deepEqual(draft.body.task.draft, { opinion: '草稿意见' });
      const first = await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse', opinion: '不同意' } });
      t.is(first.status, 200);
      const second = await host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse', opinion: '不同意' } });
      t.is(second.status, 409);
      t.is(second.body.error.code, 'TASK_NOT_OPEN');
    } finally {
      await server.close();
    }
  });

  test(`${label}: bad applications get Chinese errors with stable codes and nothing is stored`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ hostName: '' }, 'FORM_INVALID', /接待人姓名/],
        [{ hostMobile: '123' }, 'FORM_INVALID', /手机号/],
        [{ visitDate: '2026-11-30' }, 'VISIT_WINDOW_PAST', /晚于当前时间/],
        [{ visitStartTime: '06:00' }, 'VISIT_WINDOW_OUTSIDE_HOURS', /07:00至23:00/],
        [{ visitStartTime: '12:00', visitEndTime: '11:00' }, 'FORM_INVALID', /晚于开始时间/],
        [{ hostName: '不存在的人' }, 'HOST_NOT_FOUND', /接待人/],
        [{ withVehicle: true, plateNumber: 'ABC' }, 'FORM_INVALID', /车牌/],
      ];
      for (const [overrides, code, message] of cases) {
        const res = await client.post('/api/applications', { data: await applicationData(client, overrides) });
        t.is(res.status, 400, JSON.stringify(overrides));
        t.is(res.body.error.code, code, JSON.stringify(res.body));
        t.regex(res.body.error.message, message);
      }
      const early = await client.post('/api/applications', { data: await applicationData(client, { visitStartTime: '06:00' }) });
      t.like(early.body.error.details[0], { field: 'visitStartTime', campus: '主校区', opensAt: '07:00', closesAt: '23:00' }, 'the hours come as values too');
      const east = (await client.get('/api/directory/campuses')).body.campuses.find((c: any) => c.name === '东校区');
      const wrongCampus = await client.post('/api/applications', { data: await applicationData(client, { campusId: String(east.id) }) });
      t.is(wrongCampus.body.error.code, 'DEPARTMENT_NOT_IN_CAMPUS');
      const [{ n }] = await server.db.knex('applications').count({ n: '*' });
      t.is(Number(n), 0);
    } finally {
      await server.close();
    }
  });

  test(`${label}: nobody reaches what is not theirs`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const a = await newVisitor(server);
      const b = await newVisitor(server);
      const app = await submitApplication(server, a.client);
      t.is((await b.client.get(`/api/applications/${app.id}`)).status, 404);
      t.is((await b.client.post(`/api/applications/${app.id}/withdraw`)).status, 404);
      t.is((await b.client.get(`/api/applications/${app.id}/pass`)).status, 404);
      t.deepEqual((await b.client.get('/api/applications')).body.applications, []);
      const { client: otherHost } = await staffClient(server, 'host-me');
      const { client: host } = await staffClient(server, 'host-cs');
      const task = (await onlyTask(host)).tasks[0];
      t.is((await otherHost.get(`/api/tasks/${task.id}`)).status, 404);
      t.is((await otherHost.post(`/api/tasks/${task.id}/claim`)).status, 404);
      t.is((await otherHost.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse', opinion: 'x' } })).status, 404);
      t.is((await onlyTask(otherHost, 'unclaimed')).counts.unclaimed, 0);
      const { client: guard } = await staffClient(server, 'guard');
      t.is((await guard.get('/api/tasks')).status, 403);
      t.is((await guard.get(`/api/tasks/${task.id}`)).status, 403);
      t.is((await a.client.get('/api/tasks')).status, 401, 'a visitor is not staff');
      t.is((await host.get('/api/admin/sms')).status, 403);
      const anonymous = new (await import('../helpers/server.ts')).ApiClient(server.url);
      t.is((await anonymous.get('/api/applications')).status, 401);
      t.is((await anonymous.get(`/api/tasks/${task.id}`)).status, 401);
      t.is((await anonymous.post('/api/gate/verify', { code: 'ABCDEFGH', campusId: 1 })).status, 401);
      t.is((await a.client.post('/api/gate/verify', { code: 'ABCDEFGH', campusId: 1 })).status, 401);
      t.is((await host.post('/api/gate/verify', { code: 'ABCDEFGH', campusId: 1 })).status, 403);
    } finally {
      await server.close();
    }
  });
}
