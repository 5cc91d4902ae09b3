import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, staffClient, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

for (const kind of await testBackends()) {
  test(`${kind}: the task list filters by visit date and campus, pages, and counts each list`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const dates = ['2026-12-03', '2026-12-03', '2026-12-05'];
      const apps = [];
      for (const visitDate of dates) apps.push(await submitApplication(server, client, { visitDate }));
      const { client: host } = await staffClient(server, 'host-cs');

      const all = await host.get('/api/tasks?list=mine');
      t.is(all.body.total, 3);
      t.deepEqual(all.body.counts, { mine: 3, unclaimed: 0, done: 0 });
      t.deepEqual(
        all.body.tasks.map((x: any) => x.application.flowNumber),
        apps.map((a) => a.flowNumber),
        'oldest first, so the queue is worked in order',
      );

      const page2 = await host.get('/api/tasks?list=mine&pageSize=2&page=2');
      t.is(page2.body.tasks.length, 1);
      t.is(page2.body.total, 3);

      const onThe5th = await host.get('/api/tasks?list=mine&from=2026-12-05&to=2026-12-05');
      t.is(onThe5th.body.total, 1);
      t.is(onThe5th.body.tasks[0].application.visitDate, '2026-12-05');

      const campus = all.body.tasks[0];
      const cs = await server.db.knex('departments').where({ code: 'CS' }).first();
      const byDept = await host.get(`/api/tasks?list=mine&departmentId=${cs.id}&campusId=${cs.campus_id}`);
      t.is(byDept.body.total, 3);
      const otherCampus = await host.get(`/api/tasks?list=mine&campusId=${cs.campus_id + 1}`);
      t.is(otherCampus.body.total, 0);
      t.truthy(campus.application.campus);

      const byNumber = await host.get(`/api/tasks?list=mine&q=${apps[1].flowNumber.slice(-6)}`);
      t.is(byNumber.body.total, 1);

      const done = await host.post(`/api/tasks/${all.body.tasks[0].id}/complete`, { data: { decision: 'refuse', opinion: '不同意' } });
      t.is(done.status, 200);
      const after = await host.get('/api/tasks?list=done');
      t.deepEqual(after.body.counts, { mine: 2, unclaimed: 0, done: 1 });
      t.is(after.body.tasks[0].status, 'completed');
      t.deepEqual(after.body.tasks[0].result, { decision: 'refuse', opinion: '不同意' });

      const bad = await host.get('/api/tasks?list=everything');
      t.is(bad.status, 400);
      t.is(bad.body.error.code, 'VALIDATION_FAILED');
      const badDate = await host.get('/api/tasks?from=12/03/2026');
      t.is(badDate.status, 400);
    } finally {
      await server.close();
    }
  });
}
