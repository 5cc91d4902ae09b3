import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * The application-status job sets a final status and its timeline entry in one statement. A job is delivered at
 * least once: a second delivery must leave one entry; a withdrawn application keeps its status and gets none.
 */
for (const kind of await testBackends()) {
  test(`${kind}: a final status set twice by the same job leaves one timeline entry; a withdrawn application is left alone`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { knex } = server.db;
      const { applications } = server.services;
      const { client } = await newVisitor(server);
      const app = await submitApplication(server, client);
      const entries = async (id: number, kind: string) =>
        knex('application_events').where({ application_id: id, kind }).select('title', 'opinion', 'at');

      await applications.setStatus(knex, app.id, 'approved', '同意来访', 'job:test-1');
      await applications.setStatus(knex, app.id, 'approved', '同意来访', 'job:test-1');
      const view = (await client.get(`/api/applications/${app.id}`)).body.application;
      t.is(view.status, 'approved');
      t.is(view.lastOpinion, '同意来访');
      const approved = await entries(app.id, 'approved');
      t.is(approved.length, 1, 'one entry for one job, however often it ran');
      t.like(approved[0], { title: '已通过', opinion: '同意来访' });
      t.is(new Date(approved[0].at).getTime(), server.clock.now().getTime(), 'the entry is dated by the server clock');
      t.true(view.timeline.some((e: any) => e.kind === 'approved' && e.opinion === '同意来访'), 'the visitor sees it on the timeline');

      const other = await submitApplication(server, (await newVisitor(server)).client);
      await knex('applications').where({ id: other.id }).update({ status: 'withdrawn' });
      await applications.setStatus(knex, other.id, 'refused', '不同意', 'job:test-2');
      t.is((await knex('applications').where({ id: other.id }).first()).status, 'withdrawn');
      t.deepEqual(await entries(other.id, 'refused'), []);
    } finally {
      await server.close();
    }
  });
}
