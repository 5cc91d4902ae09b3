import test from 'ava';
import type { DatabaseKind } from '../../server/db/database.ts';
import { testBackends } from '../helpers/database.ts';
import { applicationData, newVisitor } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * An accepted application is claimed by one server process, which then starts its flow. A process that dies (or
 * a start that fails) between the claim and recording the instance used to leave the application 'submitted'
 * for ever: nobody reviewed it, nobody told the visitor (found by the chaos bench, issue 13).
 */
for (const kind of await testBackends()) {
  test(`${kind}: a start claim left by a failed start is recovered: the application is started once and reaches the host`, async (t) => {
    const server = await startTestServer(kind as DatabaseKind);
    try {
      const { client } = await newVisitor(server);
      const start = server.engine.start.bind(server.engine);
      server.engine.start = async () => {
        throw new Error('the process died here');
      };
      const res = await client.post('/api/applications', { data: await applicationData(client) });
      t.is(res.status, 201);
      const id = res.body.application.id;
      await server.services.applications.drainStarter();
      server.engine.start = start;
      await server.settle();
      const row = () => server.db.knex('applications').where({ id }).first();
      t.is((await row()).status, 'submitted', 'the claim holds it: the starter does not take it again');
      t.is(await server.services.applications.recoverStaleStarts(), 0, 'a fresh claim may still be working');

      server.clock.advance(121_000);
      t.is(await server.services.applications.recoverStaleStarts(), 1);
      await server.settle();
      const app = await row();
      t.is(app.status, 'pending');
      t.notRegex(String(app.instance_key), /^starting:/);
      const tasks = await server.db.knex('tasks').where({ application_id: id });
      t.is(tasks.length, 1, 'the host has its task');
      const view = await client.get(`/api/applications/${id}`);
      t.is(view.body.application.status, 'pending');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a claim whose instance did start (its key was not recorded) takes that instance, no second one`, async (t) => {
    const server = await startTestServer(kind as DatabaseKind);
    try {
      const { client } = await newVisitor(server);
      const res = await client.post('/api/applications', { data: await applicationData(client) });
      const id = res.body.application.id;
      await server.settle();
      const started = await server.db.knex('applications').where({ id }).first();
      t.is(started.status, 'pending');
      // As if the process died right after engine.start committed.
      await server.db
        .knex('applications')
        .where({ id })
        .update({ instance_key: `starting:${id}`, status: 'submitted', updated_at: server.clock.now() });
      server.clock.advance(121_000);
      t.is(await server.services.applications.recoverStaleStarts(), 1);
      await server.settle();
      const app = await server.db.knex('applications').where({ id }).first();
      t.deepEqual([app.status, app.instance_key], ['pending', started.instance_key]);
      t.is((await server.db.knex('tasks').where({ application_id: id })).length, 1, 'no second instance, no second task');
      t.is(Number((await server.db.knex('engine_instances').count({ n: '*' }))[0].n), 1);
    } finally {
      await server.close();
    }
  });
}
