import test from 'ava';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { Recorder } from '../engine-contract/harness.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';

/**
 * The hot commands read an instance without a lock and write only if it is unchanged: two commands racing on
 * one instance must both land (the loser reads again), and a join must pass exactly once.
 */
const parallel = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:process id="two-reviews" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="security" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="host" />
    <bpmn:userTask id="security" />
    <bpmn:userTask id="host" />
    <bpmn:sequenceFlow id="f4" sourceRef="security" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="host" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="notify" />
    <bpmn:serviceTask id="notify"><bpmn:extensionElements><zeebe:taskDefinition type="notify" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f7" sourceRef="notify" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>`;

for (const backend of await testBackends()) {
  test.serial(`${backend}: both branches completed at once land, and the join passes once`, async (t) => {
    const db = await createTestDatabase(backend);
    const engine = createEmbeddedEngine({ knex: db.knex, clock: new FakeClock(), autoPoll: false });
    try {
      await engine.deploy('two-reviews.bpmn', parallel);
      const recorder = new Recorder(engine);
      const notified: string[] = [];
      engine.registerWorker('notify', async (job) => {
        notified.push(job.instanceKey);
        return {};
      });
      const instances = await Promise.all(Array.from({ length: 8 }, (_, i) => engine.start('two-reviews', { n: i })));
      await engine.drain();
      await Promise.all(
        instances.flatMap(({ instanceKey }) => [
          engine.completeUserTask(recorder.task(instanceKey, 'security').taskKey, { security: 'cleared' }),
          engine.completeUserTask(recorder.task(instanceKey, 'host').taskKey, { host: 'approved' }),
        ]),
      );
      await engine.drain();
      for (const { instanceKey } of instances) {
        const info = await engine.getInstance(instanceKey);
        t.is(info?.status, 'completed', instanceKey);
        t.is(info?.variables.security, 'cleared', 'the variables of both completions survive');
        t.is(info?.variables.host, 'approved');
        t.is(info?.completedElementIds.filter((id) => id === 'join').length, 1, 'the join passed once');
        t.is(recorder.endedOf(instanceKey).length, 1);
      }
      t.is(notified.length, instances.length, 'one job after each join');
      t.is(new Set(notified).size, instances.length);
      const revs = await db.knex('engine_instances').select('rev');
      t.true(
        revs.every((r: { rev: number }) => r.rev >= 3),
        'every write bumped the revision',
      );
    } finally {
      await engine.close();
      await db.close();
    }
  });
}
