import test from 'ava';
import { approveThrough } from '../helpers/admin.ts';
import { acceptDialogs, adminLogin, noCspViolation } from '../helpers/admin-browser.ts';
import { ensureWebBuild, launchBrowser, openPage, PC, shot } from '../helpers/browser.ts';
import { applicationData, newVisitor, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

test.before(async () => {
  await ensureWebBuild();
});

test('an administrator adds a security review step and a required field in the browser; new applications follow, a running one keeps its flow', async (t) => {
  t.timeout(300_000);
  const server = await startTestServer('pglite');
  const { browser, close } = await launchBrowser();
  try {
    // Started before the change: it must finish on version 1 (host, leader, approved).
    const { client: before } = await newVisitor(server, { name: '旧流程' });
    const old = await submitApplication(server, before);

    const admin = await openPage(browser, server.url, PC);
    const p = admin.page;
    acceptDialogs(p);
    await adminLogin(p, server.url);
    await shot(p, 'admin-01-processes');

    // The security office and its reviewer, through the directory screens.
    await p.goto(`${server.url}/admin/#/directory?tab=departments`);
    await p.click('#dir-new');
    await p.selectOption('#d-campusId', { label: '主校区' });
    await p.fill('#d-code', 'SEC');
    await p.fill('#d-name', '保卫处');
    await p.click('#dir-form button[type=submit]');
    const secRow = p.locator('tr[data-department="SEC"]');
    await secRow.waitFor();
    const group = (await secRow.locator('.vf-group').textContent())!.trim();
    t.regex(group, /^dept-\d+$/);
    await shot(p, 'admin-02-departments');
    await p.goto(`${server.url}/admin/#/directory?tab=staff`);
    await p.click('#dir-new');
    await p.fill('#d-username', 'sec-officer');
    await p.fill('#d-name', '赵科长');
    await p.fill('#d-mobile', '13700001234');
    await p.selectOption('#d-departmentId', { label: '保卫处（SEC）' });
    await p.check('#d-roles input[value=host]');
    await p.fill('#d-password', 'Demo@2026');
    await p.click('#dir-form button[type=submit]');
    await p.locator('tr[data-username="sec-officer"]').waitFor();

    // The modeler: the default process, latest version.
    await p.goto(`${server.url}/admin/#/processes`);
    await p.click('tr[data-process="visit-pass"][data-version="1"] a.btn-outline-primary');
    await p.waitForSelector('#bpmn-canvas [data-element-id="leader-review"]');
    // Dragging from the palette is impractical to script: the modeler's own API places the step and its
    // gateway on the "approved" flow (bpmn-js splits the flow as a drop would), like an administrator would.
    await p.evaluate((candidateGroup) => {
      const m = (window as any).vfModeler;
      const registry = m.get('elementRegistry');
      const modeling = m.get('modeling');
      const factory = m.get('elementFactory');
      const moddle = m.get('moddle');
      const right = ['issue-pass', 'status-approved', 'sms-approved', 'end-approved', 'status-leader-refused', 'sms-leader-refused', 'end-leader-refused'].map((id) => registry.get(id));
      modeling.moveElements(right, { x: 300, y: 0 });
      const task = modeling.createShape(factory.createShape({ type: 'bpmn:UserTask' }), { x: 1090, y: 340 }, registry.get('leader-approved-flow'));
      const gateway = modeling.createShape(factory.createShape({ type: 'bpmn:ExclusiveGateway' }), { x: 1250, y: 340 }, task.outgoing[0]);
      const values = [
        moddle.create('zeebe:FormDefinition', { formKey: 'leader-review' }),
        moddle.create('zeebe:AssignmentDefinition', { candidateGroups: `=["${candidateGroup}"]` }),
        moddle.create('zeebe:IoMapping', {
          outputParameters: [
            moddle.create('zeebe:Output', { source: '=decision', target: 'officeDecision' }),
            moddle.create('zeebe:Output', { source: '=opinion', target: 'lastOpinion' }),
          ],
        }),
      ];
      modeling.updateProperties(task, { id: 'office-review', extensionElements: moddle.create('bpmn:ExtensionElements', { values }) });
      modeling.updateProperties(gateway, { id: 'office-decision', name: '保卫处意见' });
      const approved = gateway.outgoing[0];
      modeling.updateProperties(approved, {
        name: '同意',
        conditionExpression: moddle.create('bpmn:FormalExpression', { body: '=officeDecision = "approve"' }),
      });
      const refused = modeling.connect(gateway, registry.get('status-leader-refused'));
      modeling.updateProperties(refused, { name: '否决' });
      modeling.updateProperties(gateway, { default: refused.businessObject });
      m.get('selection').select(task);
    }, group);
    // The name through the properties panel, as an administrator types it.
    const nameInput = p.locator('#bio-properties-panel-name');
    if (!(await nameInput.isVisible())) await p.click('#bpmn-properties [data-group-id="group-general"] .bio-properties-panel-group-header');
    await nameInput.fill('保卫处审核');
    await p.waitForFunction(() => (window as any).vfModeler.get('elementRegistry').get('office-review').businessObject.name === '保卫处审核');
    t.true(await p.isVisible('#proc-dirty'), 'unsaved changes are flagged');
    await p.click('#proc-validate');
    await p.waitForSelector('#proc-messages .alert');
    t.regex((await p.textContent('#proc-messages'))!, /校验通过|问题/);
    t.is(await p.locator('#proc-problems .list-group-item-danger').count(), 0, `no errors: ${await p.textContent('#proc-problems')}`);
    await shot(p, 'admin-03-modeler-security-step');
    await p.click('#proc-deploy');
    // The validation's own success alert is still shown until the deploy answers: wait for the deploy's.
    await p.locator('#proc-messages .alert-success', { hasText: '版本' }).waitFor();
    t.regex((await p.textContent('#proc-messages'))!, /版本 2/);
    await shot(p, 'admin-04-deployed');

    // The application form: a required field, added through the builder's own API (drag-and-drop is
    // impractical to script), saved with the page's button, which publishes it to new applications.
    await p.goto(`${server.url}/admin/#/forms`);
    await p.click('tr[data-form="visit-application"] a.btn');
    await p.waitForSelector('#form-builder .builder-component');
    await p.evaluate(async () => {
      const b = (window as any).vfBuilder;
      const form = structuredClone(b.schema);
      const at = form.components.findIndex((c: any) => c.key === 'attachments');
      form.components.splice(at, 0, { type: 'textfield', key: 'visitPurpose', label: '来访事由', input: true, validate: { required: true, maxLength: 100 } });
      await b.setForm(form);
    });
    await p.waitForSelector('#form-builder .formio-component-visitPurpose');
    await shot(p, 'admin-05-builder-new-field');
    await p.click('#form-preview-toggle');
    await p.waitForSelector('#form-preview .formio-component-visitPurpose input');
    await shot(p, 'admin-06-form-preview');
    await p.click('#form-preview-toggle');
    await p.click('#form-save');
    await p.waitForSelector('#form-messages .alert-success');
    const saved = (await p.textContent('#form-messages'))!;
    t.regex(saved, /版本 2/, saved);
    t.regex(saved, /重新部署/, saved);
    await shot(p, 'admin-07-form-saved');

    // A new application must fill the new field and passes through the new step.
    const { client: after } = await newVisitor(server, { name: '新流程' });
    const form = await after.get('/api/applications/form');
    t.is(form.body.formVersion, 2);
    const refused = await after.post('/api/applications', { data: await applicationData(after) });
    t.is(refused.status, 400, 'refused without the new field');
    t.is(refused.body.error.code, 'FORM_INVALID');
    t.true(refused.body.error.details.some((d: any) => d.field === 'visitPurpose'), JSON.stringify(refused.body.error.details));
    const fresh = await submitApplication(server, after, { visitPurpose: '学术交流' });

    await approveThrough(server, old.id, ['host-cs', 'leader-cs']);
    t.is((await before.get(`/api/applications/${old.id}`)).body.application.status, 'approved', 'the running application finished on the old flow');
    await approveThrough(server, fresh.id, ['host-cs', 'leader-cs']);
    const waiting = (await after.get(`/api/applications/${fresh.id}`)).body.application;
    t.is(waiting.status, 'pending');
    t.regex(waiting.currentStep, /保卫处审核/);

    // The instance page marks the finished steps and the current one (the new step).
    await p.goto(`${server.url}/admin/#/instances`);
    await p.click(`tr[data-flow="${fresh.flowNumber}"] a.btn`);
    await p.waitForSelector('#instance-diagram .djs-element.vf-current');
    t.deepEqual(await p.$$eval('#instance-diagram .djs-element.vf-current', (els) => els.map((e) => e.getAttribute('data-element-id'))), ['office-review']);
    const done = await p.$$eval('#instance-diagram .djs-element.vf-done', (els) => els.map((e) => e.getAttribute('data-element-id')));
    t.true(done.includes('leader-review') && done.includes('host-review'), JSON.stringify(done));
    await shot(p, 'admin-08-instance-current-step');

    await approveThrough(server, fresh.id, ['sec-officer']);
    t.is((await after.get(`/api/applications/${fresh.id}`)).body.application.status, 'approved');
    const rows = await server.db.knex('applications').orderBy('id').select('process_version');
    t.deepEqual(
      rows.map((r: any) => r.process_version),
      [1, 3],
      'v2 = the new step, v3 = the same model pinning the new form',
    );
    noCspViolation(t, admin);
  } finally {
    await close();
    await server.close();
  }
});
