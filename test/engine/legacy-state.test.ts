import test from 'ava';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { applicationVariables, HOUR, Recorder, visitPassXml } from '../engine-contract/harness.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';

/**
 * An instance left waiting by bpmn-engine (the embedded engine before the compiled executor) has that engine's
 * state text and execution ids. After the upgrade it must go on from its waits: the task completes, and the
 * boundary timer attached to it goes with it (or fires and withdraws the task).
 */
async function asLeftByBpmnEngine(knex: any, instanceKey: string) {
  await knex('engine_instances')
    .where({ key: instanceKey })
    .update({ engine_version: '25.0.1', state: JSON.stringify({ name: 'old', state: 'running', definitions: [{ execution: {} }] }) });
  await knex('engine_waits').where({ instance_key: instanceKey, element_id: 'host-review' }).update({ execution_id: 'host-review_1a2b3c' });
  await knex('engine_waits')
    .where({ instance_key: instanceKey, element_id: 'host-review-timeout' })
    .update({ execution_id: 'host-review-timeout_4d5e6f' });
}

for (const backend of await testBackends()) {
  test.serial(`${backend}: an instance saved by bpmn-engine goes on from its waits after the upgrade`, async (t) => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock('2026-12-01T08:00:00Z');
    const engine = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
    try {
      await engine.deploy('visit-pass.bpmn', visitPassXml);
      const recorder = new Recorder(engine);
      const approved = await engine.start('visit-pass', applicationVariables());
      const expiring = await engine.start('visit-pass', applicationVariables({ applicationId: 'app-2' }));
      await engine.drain();
      await asLeftByBpmnEngine(db.knex, approved.instanceKey);
      await asLeftByBpmnEngine(db.knex, expiring.instanceKey);

      await engine.completeUserTask(recorder.task(approved.instanceKey, 'host-review').taskKey, {
        decision: 'approve',
        opinion: '同意',
        leaderStaffId: 'leader-1',
      });
      await engine.drain();
      const moved = await engine.getInstance(approved.instanceKey);
      t.deepEqual(moved?.currentElementIds, ['leader-review'], 'the host task and its boundary timer are gone');
      t.is(moved?.variables.hostDecision, 'approve');

      clock.advance(72 * HOUR);
      await engine.drain();
      t.deepEqual(
        recorder.canceled.map((c) => [c.instanceKey, c.elementId, c.reason]),
        [[expiring.instanceKey, 'host-review', 'interrupted']],
        'the old instance expired; the moved one had no timer left',
      );
      t.deepEqual((await engine.getInstance(expiring.instanceKey))?.currentElementIds.sort(), ['status-expired']);
      t.is((await db.knex('engine_instances').where({ key: expiring.instanceKey }).first()).engine_version, 'compiled-1');
    } finally {
      await engine.close();
      await db.close();
    }
  });
}
