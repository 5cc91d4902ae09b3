import test from 'ava';
import { FakeClock } from '../../engine-adapter/clock.ts';
import type { UserTask } from '../../engine-adapter/contract.ts';
import { createEmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { applicationVariables, Recorder, visitPassXml } from '../engine-contract/harness.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';

const hostApproves = { decision: 'approve', opinion: '同意', leaderStaffId: 'staff-leader-3' };
const leaderApproves = { decision: 'approve', opinion: '同意' };

for (const backend of await testBackends()) {
  test.serial(`${backend}: jobs and events follow their command at once, with no poll in between`, async (t) => {
    const db = await createTestDatabase(backend);
    // One poll when handlers register, then none for a minute: only immediate dispatch can move the flow.
    const engine = createEmbeddedEngine({ knex: db.knex, pollIntervalMs: 60_000 });
    try {
      await engine.deploy('visit-pass.bpmn', visitPassXml);
      const recorder = new Recorder(engine).visitWorkers(engine);
      await engine.drain();
      const tasks = new Map<string, (task: UserTask) => void>();
      engine.onUserTaskCreated((task) => tasks.get(task.elementId)?.(task));
      const next = (elementId: string) => new Promise<UserTask>((resolve) => tasks.set(elementId, resolve));
      const ended = new Promise<void>((resolve) => engine.onInstanceEnded(() => resolve()));
      const started = Date.now();
      const host = next('host-review');
      const { instanceKey } = await engine.start('visit-pass', applicationVariables());
      const leader = next('leader-review');
      await engine.completeUserTask((await host).taskKey, hostApproves);
      await engine.completeUserTask((await leader).taskKey, leaderApproves);
      await ended;
      t.true(Date.now() - started < 10_000);
      t.deepEqual(recorder.jobTrail(instanceKey), ['issue-pass', 'application-status:approved', 'sms:approved']);
      t.deepEqual(
        recorder.tasksOf(instanceKey).map((x) => x.elementId),
        ['host-review', 'leader-review'],
      );
      await engine.settled();
      t.deepEqual(await db.knex('engine_outbox').count({ n: '*' }).then((r) => Number(r[0].n)), 0, 'delivered events are deleted');
    } finally {
      await engine.close();
      await db.close();
    }
  });

  test.serial(`${backend}: work claimed for immediate dispatch by a process that dies is taken over once the claim runs out`, async (t) => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock();
    const never = new Promise<never>(() => {});
    // The doomed engine claims what its commands create, then hangs in its handlers as if killed mid-way.
    const doomed = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false, immediateDispatch: true, jobTimeoutMs: 60_000 });
    const survivor = createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false, jobTimeoutMs: 60_000 });
    try {
      await doomed.deploy('visit-pass.bpmn', visitPassXml);
      const early = new Recorder(doomed);
      doomed.registerWorker('issue-pass', () => never);
      const { instanceKey } = await doomed.start('visit-pass', applicationVariables());
      await doomed.drain();
      doomed.onUserTaskCreated((task) => (task.elementId === 'leader-review' ? never : undefined));
      await doomed.completeUserTask(early.task(instanceKey, 'host-review').taskKey, hostApproves);

      const recorder = new Recorder(survivor).visitWorkers(survivor);
      await survivor.drain();
      t.deepEqual(recorder.tasksOf(instanceKey), [], 'the leader task event is still claimed by the dead process');
      clock.advance(31_000);
      await survivor.drain();
      const leader = recorder.task(instanceKey, 'leader-review');

      await doomed.completeUserTask(leader.taskKey, leaderApproves);
      await survivor.drain();
      t.deepEqual(recorder.jobTrail(instanceKey), [], 'issue-pass is still locked by the dead process');
      clock.advance(61_000);
      await survivor.drain();
      t.deepEqual(recorder.jobTrail(instanceKey), ['issue-pass', 'application-status:approved', 'sms:approved']);
      t.is(recorder.endedOf(instanceKey).length, 1);
      t.deepEqual(recorder.tasksOf(instanceKey).map((x) => x.elementId), ['leader-review']);
    } finally {
      await survivor.close();
      await db.close();
    }
  });
}
