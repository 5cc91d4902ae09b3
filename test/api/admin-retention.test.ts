import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { adminClient, ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { applicationData, newVisitor, onlyTask, staffClient, tinyPng } from '../helpers/flow.ts';
import { type ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

const DAY = 86_400_000;

async function decide(server: TestServer, applicationId: number, steps: Array<[string, 'approve' | 'refuse']>) {
  for (const [username, decision] of steps) {
    const { client } = await staffClient(server, username);
    const task = (await onlyTask(client)).tasks.find((x: any) => x.application.id === applicationId);
    const data: Record<string, unknown> = { decision, opinion: decision === 'approve' ? '同意' : '不同意' };
    if (username.startsWith('host-') && decision === 'approve') data.leaderStaffId = String((await client.get(`/api/tasks/${task.id}`)).body.leaders[0].id);
    await ok(client.post(`/api/tasks/${task.id}/complete`, { data }));
    await server.settle();
  }
}

async function apply(server: TestServer, client: ApiClient, overrides: Record<string, unknown> = {}) {
  const res = await client.post('/api/applications', { data: await applicationData(client, overrides) });
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  await server.settle();
  return res.body.application;
}

for (const kind of await testBackends()) {
  test(`${kind}: the daily purge deletes old finished applications with everything attached, keeps counts and recent ones`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { knex } = server.db;
      // Day 0: one refused application with an upload, one approved with a pass; a visitor who never applies.
      const refusedVisitor = await newVisitor(server, { name: '甲' });
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(tinyPng())], { type: 'image/png' }), 'a.png');
      const upload = (await refusedVisitor.client.request('POST', '/api/uploads', form)).body;
      const refused = await apply(server, refusedVisitor.client, { attachments: [{ storage: 'url', name: upload.name, url: upload.url, data: upload }] });
      await decide(server, refused.id, [['host-cs', 'refuse']]);
      const approvedVisitor = await newVisitor(server, { name: '乙' });
      const approved = await apply(server, approvedVisitor.client);
      await decide(server, approved.id, [
        ['host-cs', 'approve'],
        ['leader-cs', 'approve'],
      ]);
      await newVisitor(server, { name: '丙' });
      const old = await knex('applications').whereIn('id', [refused.id, approved.id]).select('id', 'status', 'instance_key');
      t.deepEqual(old.map((r: any) => r.status).sort(), ['approved', 'refused']);
      const storage = (await knex('uploads').where({ id: upload.id }).first()).storage_name;
      const file = path.join(server.services.uploads.dir, storage);
      t.true(fs.existsSync(file));
      t.truthy(await knex('passes').where({ application_id: approved.id }).first());

      // Day 100: a new visitor applies and is refused (finished, but recent).
      server.clock.advance(100 * DAY);
      const recentVisitor = await newVisitor(server, { name: '丁' });
      const recent = await apply(server, recentVisitor.client, { visitDate: '2027-03-12' });
      await decide(server, recent.id, [['host-cs', 'refuse']]);
      // Day 150: a visitor without applications logs in: the account is in use.
      server.clock.advance(50 * DAY);
      const active = await newVisitor(server, { name: '戊' });
      await active.client.post('/api/visitors/login', { mobile: active.identity.mobile, password: active.identity.idNumber.slice(-8) });

      // Day 183: the day-0 applications ended (visit window of day 2) more than the 180-day default ago.
      server.clock.advance(33 * DAY);
      const result = await server.services.admin.retention.purge(server.clock.now());
      t.is(result.applications, 2);
      t.is(result.uploads, 1);
      t.is(result.visitors, 3, '甲 and 乙 (no application left) and 丙 (never used)');

      t.deepEqual((await knex('applications').select('id')).map((r: any) => r.id), [recent.id]);
      t.false(fs.existsSync(file), 'the uploaded file is gone');
      t.is((await knex('uploads').whereIn('id', [upload.id])).length, 0);
      for (const table of ['application_events', 'tasks', 'sms_outbox', 'passes']) {
        const left = await knex(table).whereIn('application_id', [refused.id, approved.id]);
        t.is(left.length, 0, `${table} rows of purged applications`);
      }
      t.is((await knex('pass_events')).length, 0);
      const keys = old.map((r: any) => r.instance_key);
      t.is((await knex('engine_instances').whereIn('key', keys)).length, 0);
      t.is((await knex('engine_outbox').whereIn('instance_key', keys)).length, 0);
      t.is((await knex('engine_waits').whereIn('instance_key', keys)).length, 0);
      t.truthy(await knex('engine_instances').where({ key: (await knex('applications').where({ id: recent.id }).first()).instance_key }).first());
      t.deepEqual((await knex('visitors').orderBy('id').select('name')).map((r: any) => r.name), ['丁', '戊']);

      const counts = await knex('report_counts').orderBy('status').select('status', 'count', 'day');
      t.deepEqual(counts.map((c: any) => [c.status, c.count]), [['approved', 1], ['refused', 1]]);
      t.deepEqual(Object.keys(await knex('report_counts').first()).sort(), ['campus_id', 'count', 'day', 'department_id', 'status'], 'anonymous');

      const again = await server.services.admin.retention.purge(server.clock.now());
      t.deepEqual([again.applications, again.visitors, again.uploads], [0, 0, 0]);
      t.is(Number((await knex('report_counts').sum({ n: 'count' }))[0].n), 2, 'nothing counted twice');

      const admin = await adminClient(server);
      const report = await ok(admin.get('/api/admin/reports/counts?from=2026-12-01&to=2027-12-31'));
      t.deepEqual(
        report.counts.map((c: any) => [c.day, c.status, c.count]),
        [
          ['2026-12-03', 'approved', 1],
          ['2026-12-03', 'refused', 1],
          ['2027-03-12', 'refused', 1],
        ],
      );
      const audit = await ok(admin.get('/api/admin/audit?action=retention.purge'));
      t.is(audit.entries.length, 1);
      t.is(audit.entries[0].actor, null);
      t.is(audit.entries[0].after.applications, 2);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the retention period is the administrator's setting`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const app = await apply(server, client);
      await decide(server, app.id, [['host-cs', 'refuse']]);
      const admin = await adminClient(server);
      await ok(admin.request('PUT', '/api/admin/settings', { retentionDays: 30 }));
      server.clock.advance(20 * DAY);
      t.is((await server.services.admin.retention.purge(server.clock.now())).applications, 0);
      server.clock.advance(15 * DAY);
      t.is((await server.services.admin.retention.purge(server.clock.now())).applications, 1);
    } finally {
      await server.close();
    }
  });
}
