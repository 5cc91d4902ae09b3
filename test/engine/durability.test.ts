import test from 'ava';
import { FakeClock } from '../../engine-adapter/clock.ts';
import type { Job } from '../../engine-adapter/contract.ts';
import { createEmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { EXECUTOR_VERSION } from '../../engine-adapter/embedded/execution/process-execution.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import { applicationVariables, HOUR, Recorder, visitPassXml } from '../engine-contract/harness.ts';

const timers = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="timers" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait-feel" />
    <bpmn:intermediateCatchEvent id="wait-feel">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">=duration("PT" + string(hours) + "H")</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait-feel" targetRef="wait-date" />
    <bpmn:intermediateCatchEvent id="wait-date">
      <bpmn:timerEventDefinition><bpmn:timeDate xsi:type="bpmn:tFormalExpression">=until</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="wait-date" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>`;

for (const backend of await testBackends()) {
  test.serial(`${backend}: intermediate timers with a FEEL duration and a date fire by the injected clock`, async (t) => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock('2026-12-01T00:00:00Z');
    const engine = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
    try {
      await engine.deploy('timers.bpmn', timers);
      const { instanceKey } = await engine.start('timers', { hours: 5, until: '2026-12-02T12:00:00Z' });
      await engine.drain();
      clock.advance(5 * HOUR - 1000);
      await engine.drain();
      t.deepEqual((await engine.getInstance(instanceKey))?.currentElementIds, ['wait-feel']);
      clock.advance(1000);
      await engine.drain();
      t.deepEqual((await engine.getInstance(instanceKey))?.currentElementIds, ['wait-date']);
      clock.set('2026-12-02T11:59:59Z');
      await engine.drain();
      t.deepEqual((await engine.getInstance(instanceKey))?.currentElementIds, ['wait-date'], 'a date timer is absolute');
      clock.set('2026-12-02T12:00:00Z');
      await engine.drain();
      const info = await engine.getInstance(instanceKey);
      t.is(info?.status, 'completed');
      t.deepEqual(info?.completedElementIds, ['start', 'wait-feel', 'wait-date', 'end']);
    } finally {
      await engine.close();
      await db.close();
    }
  });

  test.serial(`${backend}: two engines polling one database fire a due timer once`, async (t) => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock();
    const a = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
    const b = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
    try {
      await a.deploy('visit-pass.bpmn', visitPassXml);
      const recorder = new Recorder(a).visitWorkers(a);
      const other = new Recorder(b).visitWorkers(b);
      const { instanceKey } = await a.start('visit-pass', applicationVariables());
      clock.advance(73 * HOUR);
      await Promise.all([a.drain(), b.drain(), a.drain(), b.drain()]);
      const jobs = [...recorder.jobTrail(instanceKey), ...other.jobTrail(instanceKey)].sort();
      t.deepEqual(jobs, ['application-status:expired', 'sms:expired']);
      t.is(recorder.endedOf(instanceKey).length + other.endedOf(instanceKey).length, 1);
    } finally {
      await a.close();
      await b.close();
      await db.close();
    }
  });

  test.serial(`${backend}: an event handler that throws gets the event again`, async (t) => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock();
    const engine = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
    try {
      await engine.deploy('visit-pass.bpmn', visitPassXml);
      const seen: string[] = [];
      engine.onUserTaskCreated((task) => {
        seen.push(task.taskKey);
        if (seen.length === 1) throw new Error('database hiccup');
      });
      await engine.start('visit-pass', applicationVariables());
      await engine.drain();
      t.is(seen.length, 1);
      clock.advance(5000);
      await engine.drain();
      t.is(seen.length, 2);
      t.is(seen[0], seen[1], 'same task key: the handler can deduplicate');
      clock.advance(HOUR);
      await engine.drain();
      t.is(seen.length, 2, 'delivered once it succeeded');
    } finally {
      await engine.close();
      await db.close();
    }
  });

  test.serial(`${backend}: a job whose worker died runs again with the same key after the lock expires`, async (t) => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock();
    const lost = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false, jobTimeoutMs: 60_000 });
    try {
      await lost.deploy('no-worker.bpmn', (await import('../engine-contract/harness.ts')).fixture('no-worker.bpmn'));
      const { instanceKey } = await lost.start('no-worker', { amount: 1 });
      const first: Job[] = [];
      lost.registerWorker('unserved-type', (job) => {
        first.push(job);
        return new Promise(() => {}); // the process dies while the handler runs
      });
      void lost.poll();
      await new Promise((r) => setTimeout(r, 200));
      t.is(first.length, 1);

      const survivor = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false, jobTimeoutMs: 60_000 });
      const second: Job[] = [];
      survivor.registerWorker('unserved-type', async (job) => {
        second.push(job);
        return { result: 'ok' };
      });
      await survivor.drain();
      t.is(second.length, 0, 'still locked by the first worker');
      clock.advance(61_000);
      await survivor.drain();
      t.is(second.length, 1);
      t.is(second[0].key, first[0].key);
      t.is((await survivor.getInstance(instanceKey))?.status, 'completed');
      await survivor.close();
    } finally {
      await db.close();
    }
  });

  test.serial(`${backend}: the instance row holds only the executor's join state and its version; the waits are rows`, async (t) => {
    const db = await createTestDatabase(backend);
    const engine = createEmbeddedEngine({ knex: db.knex, clock: new FakeClock(), autoPoll: false });
    try {
      await engine.deploy('visit-pass.bpmn', visitPassXml);
      const { instanceKey } = await engine.start('visit-pass', applicationVariables());
      const row = await db.knex('engine_instances').where({ key: instanceKey }).first();
      t.is(row.engine_version, EXECUTOR_VERSION);
      t.deepEqual(JSON.parse(row.state).joins, {});
      t.true(row.state.length < 100, `state is ${row.state.length} bytes`);
      const waits = await db.knex('engine_waits').where({ instance_key: instanceKey }).orderBy('element_id');
      t.deepEqual(
        waits.map((w: any) => w.element_id),
        ['host-review', 'host-review-timeout'],
        'the host task and its 72 h boundary timer',
      );
      t.deepEqual(Object.keys(row.variables).sort(), Object.keys(applicationVariables()).sort());
    } finally {
      await engine.close();
      await db.close();
    }
  });
}
