import test from 'ava';
import type { UserTask } from '../../engine-adapter/contract.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, staffClient, submitApplication } from '../helpers/flow.ts';
import { startTestServer } from '../helpers/server.ts';

/**
 * The engine delivers task events at least once, and the server stores a task and then, in a second
 * statement, its timeline entry and notices: a redelivery (also one after a crash between the two) must end
 * with exactly one task, one entry and one text message to the host.
 */
for (const kind of await testBackends()) {
  test(`${kind}: a task event delivered again, even after a crash between the task and its notice, leaves one task, one entry, one SMS`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client } = await newVisitor(server);
      const app = await submitApplication(server, client);
      const { knex } = server.db;
      const wait = await knex('engine_waits').where({ kind: 'user-task' }).first();
      const event: UserTask = wait.payload.task;
      const counts = async () => ({
        tasks: Number((await knex('tasks').where({ task_key: event.taskKey }).count({ n: '*' }))[0].n),
        entries: Number((await knex('application_events').where({ application_id: app.id, kind: 'task-created' }).count({ n: '*' }))[0].n),
        notices: Number((await knex('sms_outbox').where({ application_id: app.id, template: 'taskAssigned' }).count({ n: '*' }))[0].n),
      });
      t.deepEqual(await counts(), { tasks: 1, entries: 1, notices: 1 }, 'the first delivery');

      await server.services.tasks.onUserTaskCreated(event);
      t.deepEqual(await counts(), { tasks: 1, entries: 1, notices: 1 }, 'a plain redelivery changes nothing');

      // As if the process had died after storing the task, before its entry and notice were written.
      await knex('application_events').where({ application_id: app.id, kind: 'task-created' }).delete();
      await knex('sms_outbox').where({ application_id: app.id, template: 'taskAssigned' }).delete();
      await server.services.tasks.onUserTaskCreated(event);
      await server.services.tasks.onUserTaskCreated(event);
      t.deepEqual(await counts(), { tasks: 1, entries: 1, notices: 1 }, 'the redelivery after the crash writes what was missing, once');

      const task = await knex('tasks').where({ task_key: event.taskKey }).first();
      const notice = await knex('sms_outbox').where({ application_id: app.id, template: 'taskAssigned' }).first();
      t.true(notice.body.includes(`/staff/#/tasks/${task.id}`), 'the notice links the stored task');
      const { client: host } = await staffClient(server, 'host-cs');
      const list = await host.get('/api/tasks?list=mine');
      t.is(list.body.total, 1, 'the host sees the task once');
      const view = await client.get(`/api/applications/${app.id}`);
      t.is(view.body.application.timeline.filter((e: any) => e.kind === 'task-created').length, 1);
    } finally {
      await server.close();
    }
  });
}
