import test from 'ava';
import { adminClient, ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { applicationData, newVisitor, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

const purposeField = {
  type: 'textfield',
  key: 'visitPurpose',
  label: '来访事由',
  input: true,
  validate: { required: true },
};

function withPurpose(schema: any) {
  const components = [...schema.components];
  const submit = components.findIndex((c: any) => c.type === 'button');
  components.splice(submit, 0, purposeField);
  return { ...schema, components };
}

const keysOf = (components: any[]): string[] =>
  components.flatMap((c) => [c.key, ...keysOf(c.components ?? []), ...(c.columns ?? []).flatMap((col: any) => keysOf(col.components ?? []))]);

for (const kind of await testBackends()) {
  test(`${kind}: a new required form field reaches new applications with a redeploy; a running one keeps its form`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const { client: early } = await newVisitor(server, { name: '早申请' });
      const before = await submitApplication(server, early);

      const current = await ok(admin.get('/api/admin/forms/visit-application'));
      t.is(current.form.version, 1);
      const saved = await admin.request('PUT', '/api/admin/forms/visit-application', { schema: withPurpose(current.form.schema) });
      t.is(saved.status, 201, JSON.stringify(saved.body));
      t.is(saved.body.form.version, 2);
      t.is(saved.body.hint.code, 'FORM_NOT_DEPLOYED');
      t.deepEqual(saved.body.hint.processes, ['visit-pass']);
      t.regex(saved.body.hint.message, /重新部署/);

      // Saved, not deployed: new applications still get version 1.
      const { client: late } = await newVisitor(server, { name: '晚申请' });
      let form = await ok(late.get('/api/applications/form'));
      t.is(form.formVersion, 1);
      t.false(keysOf(form.form.components).includes('visitPurpose'));
      const list = await ok(admin.get('/api/admin/forms'));
      t.true(list.forms.find((f: any) => f.formKey === 'visit-application').pendingDeploy);

      const redeployed = await admin.post('/api/admin/processes/visit-pass/redeploy');
      t.is(redeployed.status, 201, JSON.stringify(redeployed.body));
      t.is(redeployed.body.deployments[0].version, 2);
      t.deepEqual(redeployed.body.deployments[0].forms.find((f: any) => f.formKey === 'visit-application'), { formKey: 'visit-application', version: 2 });
      const again = await admin.post('/api/admin/processes/visit-pass/redeploy');
      t.is(again.status, 200, 'nothing changed since: no new version');
      t.false(again.body.deployments[0].created);

      form = await ok(late.get('/api/applications/form'));
      t.is(form.formVersion, 2);
      t.is(form.processVersion, 2);
      t.true(keysOf(form.form.components).includes('visitPurpose'));
      const refused = await late.post('/api/applications', { data: await applicationData(late) });
      t.is(refused.status, 400);
      t.is(refused.body.error.code, 'FORM_INVALID');
      t.true(refused.body.error.details.some((d: any) => d.field === 'visitPurpose' && /来访事由/.test(d.message)));
      const accepted = await late.post('/api/applications', { data: await applicationData(late, { visitPurpose: '参加学术会议' }) });
      t.is(accepted.status, 201, JSON.stringify(accepted.body));
      await server.settle();

      const rows = await server.db.knex('applications').orderBy('id').select('id', 'form_version', 'process_version', 'data', 'status');
      t.deepEqual(rows.map((r: any) => [r.form_version, r.process_version]), [[1, 1], [2, 2]]);
      t.is(rows[1].data.visitPurpose, '参加学术会议');
      t.is(rows[0].status, 'pending', 'the early application runs on, on version 1');
      const early1 = await ok(early.get(`/api/applications/${before.id}`));
      t.is(early1.application.status, 'pending');

      const audit = await ok(admin.get('/api/admin/audit?action=form.save'));
      t.is(audit.entries.length, 1);
      t.is(audit.entries[0].before.version, 1);
      t.is(audit.entries[0].after.version, 2);
      t.true(audit.entries[0].after.fields.some((f: any) => f.key === 'visitPurpose' && f.required));
      t.false(audit.entries[0].before.fields.some((f: any) => f.key === 'visitPurpose'));
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a form is checked before it is saved; save with redeploy publishes at once`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const current = (await ok(admin.get('/api/admin/forms/host-review'))).form.schema;
      const dup = { ...current, components: [...current.components, { type: 'textfield', key: current.components[0].key, label: '重复' }] };
      const bad = await admin.request('PUT', '/api/admin/forms/host-review', { schema: dup });
      t.is(bad.status, 400);
      t.is(bad.body.error.code, 'FORM_SCHEMA_INVALID');
      t.regex(bad.body.error.details[0].message, /重复/);
      t.is((await admin.request('PUT', '/api/admin/forms/host-review', { schema: { display: 'form' } })).body.error.code, 'FORM_SCHEMA_INVALID');

      const app = (await ok(admin.get('/api/admin/forms/visit-application'))).form.schema;
      const strip = (cs: any[]): any[] => cs.filter((c) => c.key !== 'hostMobile').map((c) => (c.components ? { ...c, components: strip(c.components) } : c));
      const missing = await admin.request('PUT', '/api/admin/forms/visit-application', { schema: { ...app, components: strip(app.components) } });
      t.is(missing.status, 400);
      t.true(missing.body.error.details.some((d: any) => d.field === 'hostMobile'));

      const check = await ok(admin.post('/api/admin/forms/host-review/check', { schema: dup }));
      t.false(check.valid);

      const changed = { ...current, title: `${current.title ?? ''}（新）` };
      const saved = await admin.request('PUT', '/api/admin/forms/host-review', { schema: changed, redeploy: true });
      t.is(saved.status, 201, JSON.stringify(saved.body));
      t.is(saved.body.deployments.length, 1);
      const { processes } = await ok(admin.get('/api/admin/processes'));
      const latest = processes.find((p: any) => p.processId === 'visit-pass').versions[0];
      t.is(latest.version, 2);
      t.deepEqual(latest.forms.find((f: any) => f.formKey === 'host-review'), { formKey: 'host-review', version: 2 });
      const same = await admin.request('PUT', '/api/admin/forms/host-review', { schema: changed });
      t.is(same.status, 200);
      t.false(same.body.form.created);
    } finally {
      await server.close();
    }
  });
}
