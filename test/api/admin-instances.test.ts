import test from 'ava';
import { adminClient, bundledProcessXml, ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, onlyTask, staffClient, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

/** The default process with a service step before the host review whose worker the test controls. */
const withFlakyStep = () =>
  bundledProcessXml()
    .replace('<bpmn:sequenceFlow id="f-start" sourceRef="start" targetRef="watch-decision" />', '<bpmn:sequenceFlow id="f-start" sourceRef="start" targetRef="check" />\n    <bpmn:sequenceFlow id="f-check" sourceRef="check" targetRef="watch-decision" />')
    .replace('<bpmn:incoming>f-start</bpmn:incoming>\n      <bpmn:outgoing>watch-review-flow</bpmn:outgoing>', '<bpmn:incoming>f-check</bpmn:incoming>\n      <bpmn:outgoing>watch-review-flow</bpmn:outgoing>')
    .replace(
      '</bpmn:process>',
      `<bpmn:serviceTask id="check" name="黑名单核验">
      <bpmn:extensionElements><zeebe:taskDefinition type="blacklist-check" retries="1" /></bpmn:extensionElements>
      <bpmn:incoming>f-start</bpmn:incoming><bpmn:outgoing>f-check</bpmn:outgoing>
    </bpmn:serviceTask>
  </bpmn:process>`,
    );

for (const kind of await testBackends()) {
  test(`${kind}: instance list with filters; detail with the version's diagram, current step, history and masked variables; cancel`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const { client } = await newVisitor(server, { name: '王五' });
      const app = await submitApplication(server, client);
      const other = await submitApplication(server, (await newVisitor(server)).client, { visitDate: '2026-12-04' });

      const pending = await ok(admin.get('/api/admin/instances?status=pending'));
      t.is(pending.total, 2);
      const byFlow = await ok(admin.get(`/api/admin/instances?flowNumber=${app.flowNumber}`));
      t.deepEqual(byFlow.instances.map((i: any) => i.applicationId), [app.id]);
      t.is(byFlow.instances[0].visitorName, '王五');
      t.deepEqual(byFlow.instances[0].currentSteps, [{ elementId: 'host-review', name: '到访部门接待人意见' }]);
      t.deepEqual((await ok(admin.get('/api/admin/instances?from=2026-12-04&to=2026-12-04'))).instances.map((i: any) => i.applicationId), [other.id]);
      t.is((await ok(admin.get('/api/admin/instances?status=approved'))).total, 0);
      t.is((await admin.get('/api/admin/instances?status=nope')).status, 400);

      const row = await server.db.knex('applications').where({ id: app.id }).first();
      // A model that slips a clear mobile or ID number into the variables: the admin page still masks it.
      await server.engine.setVariables(row.instance_key, { note: '联系 13812345678', id: '110105199003071234' });
      const detail = await ok(admin.get(`/api/admin/instances/${app.id}`));
      t.deepEqual([...detail.instance.currentElementIds].sort(), ['host-review', 'host-review-timeout'], 'the task and its boundary timer');
      t.true(detail.instance.completedElementIds.includes('start'));
      t.is(detail.instance.status, 'active');
      t.regex(detail.process.xml, /id="host-review"/);
      t.is(detail.process.version, 1);
      t.is(detail.instance.variables.note, '联系 138****5678');
      t.is(detail.instance.variables.id, '110***********1234');
      t.is(detail.instance.variables.flowNumber, app.flowNumber, 'flow numbers are not mistaken for identifiers');
      t.deepEqual(detail.application.timeline.map((e: any) => e.kind), ['submitted', 'task-created']);
      t.is(detail.tasks[0].assignee.name, '王老师');
      t.is(detail.tasks[0].status, 'open');

      // The host approves: history shows who and the opinion.
      const { client: host } = await staffClient(server, 'host-cs');
      const task = (await onlyTask(host)).tasks.find((x: any) => x.application.id === app.id);
      const leaders = (await host.get(`/api/tasks/${task.id}`)).body.leaders;
      await ok(host.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'approve', opinion: '欢迎来访', leaderStaffId: String(leaders[0].id) } }));
      await server.settle();
      const moved = await ok(admin.get(`/api/admin/instances/${app.id}`));
      t.deepEqual(moved.instance.currentElementIds, ['leader-review']);
      t.true(moved.instance.completedElementIds.includes('host-review'));
      const done = moved.tasks.find((x: any) => x.elementId === 'host-review');
      t.is(done.completedBy.name, '王老师');
      t.is(done.opinion, '欢迎来访');
      t.is(done.decision, 'approve');

      const canceled = await ok(admin.post(`/api/admin/instances/${app.id}/cancel`, { reason: '来访活动取消' }));
      t.is(canceled.application.status, 'withdrawn');
      t.is(canceled.instance.status, 'canceled');
      t.deepEqual(canceled.instance.currentElementIds, []);
      t.true(canceled.tasks.every((x: any) => x.status !== 'open'));
      const last = canceled.application.timeline.at(-1);
      t.deepEqual([last.kind, last.title, last.actor, last.opinion], ['withdrawn', '管理员取消申请', '系统管理员', '来访活动取消']);
      t.is((await client.get(`/api/applications/${app.id}`)).body.application.status, 'withdrawn', 'the visitor sees it');
      t.is((await admin.post(`/api/admin/instances/${app.id}/cancel`)).body.error.code, 'APPLICATION_NOT_CANCELABLE');
      const audit = await ok(admin.get(`/api/admin/audit?action=instance.cancel`));
      t.deepEqual(audit.entries[0].before, { status: 'pending', flowNumber: app.flowNumber });
      t.deepEqual(audit.entries[0].after, { status: 'withdrawn', reason: '来访活动取消' });
      t.is((await admin.get('/api/admin/instances/9999')).status, 404);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: an incident shows on the instance page and a retry moves the instance on`, async (t) => {
    const server = await startTestServer(kind);
    try {
      let failing = true;
      server.engine.registerWorker('blacklist-check', async () => {
        if (failing) throw new Error('核验服务不可用');
        return {};
      });
      const admin = await adminClient(server);
      const deployed = await admin.post('/api/admin/processes/deploy', { xml: withFlakyStep() });
      t.is(deployed.status, 201, JSON.stringify(deployed.body));
      const app = await submitApplication(server, (await newVisitor(server)).client);

      const stuck = await ok(admin.get(`/api/admin/instances/${app.id}`));
      t.deepEqual(stuck.instance.currentElementIds, ['check']);
      t.is(stuck.instance.incidents.length, 1);
      const incident = stuck.instance.incidents[0];
      t.is(incident.elementId, 'check');
      t.regex(incident.message, /核验服务不可用/);
      t.is((await ok(admin.get('/api/admin/instances?status=pending'))).instances[0].openIncidents, 1);

      failing = false;
      const retried = await ok(admin.post(`/api/admin/instances/${app.id}/incidents/${incident.key}/retry`, { retries: 2 }));
      t.is(retried.instance.incidents.length, 0);
      await server.settle();
      const after = await ok(admin.get(`/api/admin/instances/${app.id}`));
      t.deepEqual([...after.instance.currentElementIds].sort(), ['host-review', 'host-review-timeout']);
      t.true(after.instance.completedElementIds.includes('check'));
      t.is((await admin.post(`/api/admin/instances/${app.id}/incidents/${incident.key}/retry`)).body.error.code, 'INCIDENT_NOT_FOUND');
      const audit = await ok(admin.get('/api/admin/audit?action=instance.retry'));
      t.is(audit.entries[0].before.incident.elementId, 'check');
    } finally {
      await server.close();
    }
  });
}
