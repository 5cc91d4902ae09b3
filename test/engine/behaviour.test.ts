import test from 'ava';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { BpmnError } from '../../engine-adapter/contract.ts';
import { parseBpmn } from '../../engine-adapter/embedded/definition/moddle.ts';
import { createEmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import { fixture, Recorder, visitPassXml } from '../engine-contract/harness.ts';

const withdrawable = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="t">
  <bpmn:message id="m" name="withdrawn"><bpmn:extensionElements><zeebe:subscription correlationKey="=applicationId" /></bpmn:extensionElements></bpmn:message>
  <bpmn:process id="withdrawable" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:userTask id="review" />
    <bpmn:boundaryEvent id="on-withdrawn" attachedToRef="review"><bpmn:messageEventDefinition messageRef="m" /></bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="done" />
    <bpmn:endEvent id="done" />
    <bpmn:sequenceFlow id="f3" sourceRef="on-withdrawn" targetRef="withdrawn-end" />
    <bpmn:endEvent id="withdrawn-end" />
  </bpmn:process>
</bpmn:definitions>`;

const backends = await testBackends();

test('every element of the default flow has a diagram shape or edge (bpmn-js can draw it)', async (t) => {
  const context = await parseBpmn(visitPassXml);
  const process = context.rootElement.rootElements.find((e: any) => e.$type === 'bpmn:Process');
  const drawn = new Set(context.rootElement.diagrams[0].plane.planeElement.map((d: any) => d.bpmnElement?.id));
  const missing = process.flowElements.map((e: any) => e.id).filter((id: string) => !drawn.has(id));
  t.deepEqual(missing, []);
});

for (const backend of backends) {
  test.serial(`${backend}: an interrupting message boundary event withdraws the task it is attached to`, async (t) => {
    const db = await createTestDatabase(backend);
    const engine = createEmbeddedEngine({ knex: db.knex, clock: new FakeClock(), autoPoll: false });
    try {
      await engine.deploy('withdrawable.bpmn', withdrawable);
      const recorder = new Recorder(engine);
      const { instanceKey } = await engine.start('withdrawable', { applicationId: 'app-9' });
      await engine.drain();
      const task = recorder.task(instanceKey, 'review');
      await engine.publishMessage('withdrawn', 'app-9', { reason: 'plans changed' });
      await engine.drain();
      t.deepEqual(recorder.canceled, [{ taskKey: task.taskKey, instanceKey, elementId: 'review', reason: 'interrupted' }]);
      const [ended] = recorder.endedOf(instanceKey);
      t.is(ended.variables.reason, 'plans changed');
      t.true((await engine.getInstance(instanceKey))!.completedElementIds.includes('withdrawn-end'));
    } finally {
      await engine.close();
      await db.close();
    }
  });

  test.serial(`${backend}: a BPMN error nobody catches is an incident on the job, and resolving runs the job again`, async (t) => {
    const db = await createTestDatabase(backend);
    const engine = createEmbeddedEngine({ knex: db.knex, clock: new FakeClock(), autoPoll: false });
    try {
      await engine.deploy('no-worker.bpmn', fixture('no-worker.bpmn'));
      let calls = 0;
      engine.registerWorker('unserved-type', async () => {
        calls++;
        if (calls === 1) throw new BpmnError('NOT_MODELLED', 'no boundary for this');
        return { result: 'second time lucky' };
      });
      const { instanceKey } = await engine.start('no-worker', { amount: 1 });
      await engine.drain();
      const [incident] = await engine.listIncidents(instanceKey);
      t.is(incident?.type, 'UNHANDLED_ERROR_EVENT');
      t.is(incident?.elementId, 'unserved');
      t.is((await engine.getInstance(instanceKey))?.status, 'active');
      await engine.resolveIncident(incident.key);
      await engine.drain();
      t.is(calls, 2);
      t.is((await engine.getInstance(instanceKey))?.variables.outcome, 'second time lucky');
    } finally {
      await engine.close();
      await db.close();
    }
  });

  test.serial(`${backend}: with background polling, events and jobs flow without poll() calls`, async (t) => {
    const db = await createTestDatabase(backend);
    const engine = createEmbeddedEngine({ knex: db.knex, pollIntervalMs: 50 });
    try {
      await engine.deploy('visit-pass.bpmn', visitPassXml);
      const recorder = new Recorder(engine).visitWorkers(engine);
      const ended = new Promise<void>((resolve) => engine.onInstanceEnded(() => resolve()));
      const { instanceKey } = await engine.start('visit-pass', { applicationId: 'a', hostStaffId: 'h', departmentGroup: 'g', watchHit: false, invitedByHost: false });
      const until = async (check: () => boolean) => {
        for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
      };
      await until(() => recorder.tasksOf(instanceKey).length === 1);
      await engine.completeUserTask(recorder.task(instanceKey, 'host-review').taskKey, { decision: 'refuse', opinion: '否' });
      await ended;
      t.deepEqual(recorder.jobTrail(instanceKey), ['application-status:refused', 'sms:refused']);
    } finally {
      await engine.close();
      await db.close();
    }
  });
}
