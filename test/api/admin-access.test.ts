import test from 'ava';
import { adminClient, ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { staffClient } from '../helpers/flow.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

/** Every admin route (with placeholder ids): none may answer anyone but an administrator. */
const ROUTES: Array<[string, string]> = [
  ['GET', '/api/admin/processes'],
  ['POST', '/api/admin/processes/validate'],
  ['POST', '/api/admin/processes/import'],
  ['POST', '/api/admin/processes/deploy'],
  ['POST', '/api/admin/processes/visit-pass/redeploy'],
  ['GET', '/api/admin/processes/visit-pass/versions/1'],
  ['GET', '/api/admin/processes/visit-pass/versions/1/export'],
  ['GET', '/api/admin/forms'],
  ['GET', '/api/admin/forms/visit-application'],
  ['GET', '/api/admin/forms/visit-application/versions/1'],
  ['POST', '/api/admin/forms/visit-application/check'],
  ['PUT', '/api/admin/forms/visit-application'],
  ['GET', '/api/admin/campuses'],
  ['POST', '/api/admin/campuses'],
  ['PUT', '/api/admin/campuses/1'],
  ['POST', '/api/admin/campuses/1/deactivate'],
  ['POST', '/api/admin/campuses/1/activate'],
  ['GET', '/api/admin/campuses/1/poster.png'],
  ['GET', '/api/admin/departments'],
  ['POST', '/api/admin/departments'],
  ['POST', '/api/admin/departments/import'],
  ['PUT', '/api/admin/departments/1'],
  ['POST', '/api/admin/departments/1/deactivate'],
  ['POST', '/api/admin/departments/1/activate'],
  ['GET', '/api/admin/staff'],
  ['POST', '/api/admin/staff'],
  ['POST', '/api/admin/staff/import'],
  ['PUT', '/api/admin/staff/1'],
  ['POST', '/api/admin/staff/1/deactivate'],
  ['POST', '/api/admin/staff/1/activate'],
  ['POST', '/api/admin/staff/1/password'],
  ['GET', '/api/admin/settings'],
  ['PUT', '/api/admin/settings'],
  ['POST', '/api/admin/settings/sms-preview'],
  ['GET', '/api/admin/instances'],
  ['GET', '/api/admin/instances/1'],
  ['POST', '/api/admin/instances/1/incidents/1/retry'],
  ['POST', '/api/admin/instances/1/cancel'],
  ['GET', '/api/admin/audit'],
  ['GET', '/api/admin/reports/counts?from=2026-01-01&to=2026-12-31'],
];

for (const kind of await testBackends()) {
  test(`${kind}: every admin route refuses anonymous callers (401) and staff without the admin role (403)`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const anonymous = new ApiClient(server.url);
      const clients = [await staffClient(server, 'host-cs'), await staffClient(server, 'leader-cs'), await staffClient(server, 'guard')];
      for (const [method, path] of ROUTES) {
        const body = method === 'GET' ? undefined : {};
        const anon = await anonymous.request(method, path, body);
        t.is(anon.status, 401, `${method} ${path} anonymous`);
        t.is(anon.body.error.code, 'STAFF_LOGIN_REQUIRED');
        for (const { client, staff } of clients) {
          const res = await client.request(method, path, body);
          t.is(res.status, 403, `${method} ${path} as ${staff.username}`);
          t.is(res.body.error.code, 'ROLE_REQUIRED');
        }
      }
      t.is(Number((await server.db.knex('audit_log').count({ n: '*' }))[0].n), 0, 'refused calls change nothing');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: settings are validated, audited with before/after, previewed with sample data; gate posters carry the registration URL`, async (t) => {
    const server = await startTestServer(kind, { env: { PUBLIC_URL: 'https://visit.example.edu.cn', COOKIE_SECURE: 'false' } });
    try {
      const admin = await adminClient(server);
      const { settings } = await ok(admin.get('/api/admin/settings'));
      t.is(settings.retentionDays, 180);
      t.true(settings.stockOpinions.length > 0);

      const unknown = await admin.request('PUT', '/api/admin/settings', { smsTemplates: { ...settings.smsTemplates, approved: '{name}您好，{passcode}' } });
      t.is(unknown.status, 400);
      t.is(unknown.body.error.code, 'SMS_TEMPLATE_PLACEHOLDER_UNKNOWN');
      t.is(unknown.body.error.details[0].field, 'smsTemplates.approved');
      t.regex(unknown.body.error.message, /\{passcode\}/);
      t.is((await admin.request('PUT', '/api/admin/settings', { retentionDays: 1 })).body.error.code, 'VALIDATION_FAILED');
      t.is((await admin.request('PUT', '/api/admin/settings', { stockOpinions: [] })).body.error.code, 'VALIDATION_FAILED');
      t.is((await admin.request('PUT', '/api/admin/settings', { colour: 'red' })).status, 400);

      const updated = await ok(admin.request('PUT', '/api/admin/settings', { retentionDays: 90, stockOpinions: ['同意', '不同意'] }));
      t.is(updated.settings.retentionDays, 90);
      t.deepEqual(await server.services.settings.get('stockOpinions'), ['同意', '不同意'], 'the task list reads the new value');
      const audit = await ok(admin.get('/api/admin/audit?targetType=settings'));
      const retention = audit.entries.find((e: any) => e.action === 'settings.retentionDays');
      t.is(retention.before, 180);
      t.is(retention.after, 90);
      t.is(audit.total, 2);

      const preview = await ok(admin.post('/api/admin/settings/sms-preview', { key: 'approved' }));
      t.regex(preview.preview.text, /张三/);
      t.regex(preview.preview.text, /VF20261201000123/);
      t.deepEqual(preview.preview.missing, []);
      const draft = await ok(admin.post('/api/admin/settings/sms-preview', { key: 'taskAssigned', template: '{staffName}：{link} {name}' }));
      t.deepEqual(draft.preview.missing, ['name']);
      t.regex(draft.preview.text, /https:\/\/visit\.example\.edu\.cn\/staff\//);

      const { campuses } = await ok(admin.get('/api/admin/campuses'));
      const poster = await fetch(`${server.url}/api/admin/campuses/${campuses[0].id}/poster.png`, {
        headers: { cookie: `vf_staff=${admin.cookie('vf_staff')}` },
      });
      t.is(poster.status, 200);
      t.is(poster.headers.get('content-type'), 'image/png');
      t.is(poster.headers.get('x-registration-url'), `https://visit.example.edu.cn/?campus=${campuses[0].code}`);
      const png = Buffer.from(await poster.arrayBuffer());
      t.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
      t.is((await admin.get('/api/admin/campuses/9999/poster.png')).status, 404);
    } finally {
      await server.close();
    }
  });
}
