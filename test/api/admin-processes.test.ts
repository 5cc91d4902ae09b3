import test from 'ava';
import { adminClient, approveThrough, bundledProcessXml, ok, PROCESS_WITHOUT_LAYOUT, processWithSecurityStep, ROOT } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

const withBadCondition = () =>
  bundledProcessXml().replace('=leaderDecision = &#34;approve&#34;', '=leaderDecision = ');

const withCallActivity = () =>
  bundledProcessXml()
    .replace('sourceRef="leader-decision" targetRef="issue-pass"', 'sourceRef="leader-decision" targetRef="call-archive"')
    .replace(
      '</bpmn:process>',
      `<bpmn:callActivity id="call-archive" name="调用归档流程">
      <bpmn:extensionElements><zeebe:calledElement processId="archive" propagateAllChildVariables="false" /></bpmn:extensionElements>
      <bpmn:incoming>leader-approved-flow</bpmn:incoming><bpmn:outgoing>f-archive</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:sequenceFlow id="f-archive" sourceRef="call-archive" targetRef="issue-pass" />
  </bpmn:process>`,
    )
    .replace('<bpmn:incoming>leader-approved-flow</bpmn:incoming>\n      <bpmn:outgoing>f-issue</bpmn:outgoing>', '<bpmn:incoming>f-archive</bpmn:incoming>\n      <bpmn:outgoing>f-issue</bpmn:outgoing>');

for (const kind of await testBackends()) {
  test(`${kind}: the bundled process lints clean and lists as version 1 with its pinned forms`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const report = await ok(admin.post('/api/admin/processes/validate', { xml: bundledProcessXml() }));
      t.true(report.valid, JSON.stringify(report.problems));
      const { processes } = await ok(admin.get('/api/admin/processes'));
      const visit = processes.find((p: any) => p.processId === 'visit-pass');
      t.is(visit.latestVersion, 1);
      t.deepEqual(
        visit.versions[0].forms.map((f: any) => `${f.formKey}@${f.version}`),
        ['host-review@1', 'leader-review@1', 'security-review@1', 'visit-application@1'],
      );
      const version = await ok(admin.get('/api/admin/processes/visit-pass/versions/1'));
      t.false(version.process.xml.includes('visitflow:forms'), 'the form stamp is internal');
      t.true(version.process.xml.includes('id="host-review"'));
      const exported = await admin.get('/api/admin/processes/visit-pass/versions/latest/export');
      t.is(exported.status, 200);
      t.regex(exported.headers.get('content-disposition') ?? '', /visit-pass-v1\.bpmn/);
      t.regex(exported.body, /<bpmn:definitions/);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a deploy is refused with the offending element named: bad FEEL condition, call activity`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const feel = await admin.post('/api/admin/processes/deploy', { xml: withBadCondition() });
      t.is(feel.status, 400);
      t.is(feel.body.error.code, 'DEPLOYMENT_INVALID');
      t.regex(feel.body.error.message, /leader-approved-flow/);
      const feelProblems = feel.body.error.details.filter((p: any) => p.elementId === 'leader-approved-flow');
      t.true(feelProblems.some((p: any) => p.source === 'lint'), 'bpmnlint (camunda-compat feel rule) names it');
      t.true(feelProblems.some((p: any) => p.source === 'engine'), 'the engine validation names it too');

      const call = await admin.post('/api/admin/processes/validate', { xml: withCallActivity() });
      t.false(call.body.valid);
      const problem = call.body.problems.find((p: any) => p.elementId === 'call-archive');
      t.is(problem.source, 'engine');
      t.is(problem.elementName, '调用归档流程');
      t.regex(problem.message, /call activities/);
      const deploy = await admin.post('/api/admin/processes/deploy', { xml: withCallActivity() });
      t.is(deploy.status, 400);
      t.regex(deploy.body.error.message, /调用归档流程（call-archive）/);

      const unreadable = await admin.post('/api/admin/processes/deploy', { xml: '<not-bpmn' });
      t.is(unreadable.status, 400);
      t.is(unreadable.body.error.code, 'BPMN_UNREADABLE');
      const { processes } = await ok(admin.get('/api/admin/processes'));
      t.is(processes.find((p: any) => p.processId === 'visit-pass').latestVersion, 1, 'nothing was deployed');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: an imported document without layout is laid out and keeps its Zeebe properties`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const imported = await ok(admin.post('/api/admin/processes/import', { xml: PROCESS_WITHOUT_LAYOUT }));
      t.true(imported.laidOut);
      t.regex(imported.xml, /bpmndi:BPMNShape[^>]*bpmnElement="notify"/);
      t.regex(imported.xml, /bpmndi:BPMNEdge[^>]*bpmnElement="f2"/);
      t.regex(imported.xml, /zeebe:taskDefinition type="noop"/);
      t.true(imported.valid, JSON.stringify(imported.problems));
      const again = await ok(admin.post('/api/admin/processes/import', { xml: imported.xml }));
      t.false(again.laidOut, 'a document with layout is left as it is');
      t.is(again.xml, imported.xml);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a third review step: new applications pass through it, one started before finishes on the old flow`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const { client: before } = await newVisitor(server, { name: '旧流程' });
      const old = await submitApplication(server, before);

      // The security office: a department with one reviewer, made through the directory API.
      const main = (await ok(admin.get('/api/admin/campuses'))).campuses.find((c: any) => c.code === 'MAIN');
      const { department } = await ok(admin.post('/api/admin/departments', { campusId: main.id, code: 'SEC', name: '保卫处' }));
      await ok(
        admin.post('/api/admin/staff', {
          username: 'sec-officer',
          name: '赵科长',
          mobile: '13700001234',
          departmentId: department.id,
          roles: ['host'],
          password: 'Demo@2026',
        }),
      );
      const xml = processWithSecurityStep(`dept-${department.id}`);
      const deployed = await admin.post('/api/admin/processes/deploy', { xml, name: 'visit-pass.bpmn' });
      t.is(deployed.status, 201, JSON.stringify(deployed.body));
      t.is(deployed.body.deployments[0].version, 2);
      t.true(deployed.body.deployments[0].created);
      const same = await admin.post('/api/admin/processes/deploy', { xml });
      t.is(same.status, 200, 'an identical deploy is not a new version');
      t.false(same.body.deployments[0].created);
      t.is(same.body.deployments[0].version, 2);

      const { client: after } = await newVisitor(server, { name: '新流程' });
      const fresh = await submitApplication(server, after);
      const rows = await server.db.knex('applications').orderBy('id').select('id', 'process_version');
      t.deepEqual(rows.map((r: any) => r.process_version), [1, 2]);

      // The old application: host and leader approve, and it is approved without the new step.
      await approveThrough(server, old.id, ['host-cs', 'leader-cs']);
      t.is((await before.get(`/api/applications/${old.id}`)).body.application.status, 'approved');
      // The new one: after the leader, the security office (its department's candidate group) must approve.
      await approveThrough(server, fresh.id, ['host-cs', 'leader-cs']);
      const waiting = (await after.get(`/api/applications/${fresh.id}`)).body.application;
      t.is(waiting.status, 'pending');
      t.regex(waiting.currentStep, /校园保卫处意见/);
      const detail = await ok(admin.get(`/api/admin/instances/${fresh.id}`));
      t.deepEqual(detail.instance.currentElementIds, ['office-review']);
      t.true(detail.instance.completedElementIds.includes('leader-review'));
      t.is(detail.process.version, 2);
      await approveThrough(server, fresh.id, ['sec-officer']);
      t.is((await after.get(`/api/applications/${fresh.id}`)).body.application.status, 'approved');

      // A restart deploys the shipped files again: an administrator's deployment is never replaced.
      await server.services.deployments.deployBundled(ROOT);
      const { processes } = await ok(admin.get('/api/admin/processes'));
      t.is(processes.find((p: any) => p.processId === 'visit-pass').latestVersion, 2);

      const audit = await ok(admin.get('/api/admin/audit?action=process.deploy'));
      t.is(audit.entries.length, 1);
      t.deepEqual(audit.entries[0].before, { version: 1, key: processes[0].versions[1].key });
      t.is(audit.entries[0].after.version, 2);
      t.is(audit.entries[0].actor.name, '系统管理员');
    } finally {
      await server.close();
    }
  });
}
