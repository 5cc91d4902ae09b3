import { isDeepStrictEqual } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { DeploymentError, EngineError, TaskNotFoundError, type Variables, type WorkflowEngine } from '../../engine-adapter/contract.ts';
import {
  applicationVariables,
  type ContractEnv,
  type ContractFactory,
  type EngineLimits,
  fixture,
  HOUR,
  Recorder,
  visitPassXml,
} from './harness.ts';

/**
 * The scenarios every WorkflowEngine must pass. Register them with a name (e.g. 'embedded/pglite') and a factory
 * that gives each scenario a fresh engine on a fresh store; `limits` say what the engine cannot do.
 */
export function engineContractSuite(name: string, factory: ContractFactory, limits: EngineLimits = {}): void {
  /** test.serial, or test.skip with the reason in the title when the engine lacks something the scenario needs. */
  const serial = (title: string, needs: Array<keyof EngineLimits>, body: (t: ExecutionContext) => Promise<void>) => {
    const missing = needs.filter((n) => limits[n]).map((n) => limits[n]);
    if (missing.length) {
      test.skip(`${name}: ${title} — skipped: ${missing.join('; ')}`, () => {});
      return;
    }
    test.serial(`${name}: ${title}`, body);
  };
  // Serial: each scenario owns a database, and a dozen PGlite instances at once would not fit in memory.
  const scenario = (
    title: string,
    body: (env: ContractEnv) => Promise<void>,
    needs: Array<keyof EngineLimits> = [],
  ) => {
    const run = async (t: ExecutionContext) => {
      const env = await factory();
      try {
        await body(env);
      } finally {
        await env.dispose();
      }
      t.pass();
    };
    serial(title, needs, run);
  };

  async function visitFlow(env: ContractEnv, overrides = {}) {
    const engine = env.engine;
    await engine.deploy('visit-pass.bpmn', visitPassXml);
    const recorder = new Recorder(engine).visitWorkers(engine);
    const { instanceKey } = await engine.start('visit-pass', applicationVariables(overrides));
    await env.settle();
    return { engine, recorder, instanceKey };
  }

  serial('default flow, both approvals: host task, leader task, pass, status and SMS', [], async (t) => {
    const env = await factory();
    try {
      const { engine, recorder, instanceKey } = await visitFlow(env);
      const host = recorder.task(instanceKey, 'host-review');
      t.is(host.name, '到访部门接待人意见');
      t.is(host.assignee, 'staff-host-7');
      t.deepEqual(host.candidateGroups, ['dept-12']);
      t.is(host.formKey, 'host-review');
      t.is(host.processId, 'visit-pass');
      t.is(host.variables.applicationId, 'app-1');
      t.deepEqual(recorder.jobs, [], 'no job before the reviews');

      await engine.completeUserTask(host.taskKey, { decision: 'approve', opinion: '同意来访', leaderStaffId: 'staff-leader-3' });
      await env.settle();
      const leader = recorder.task(instanceKey, 'leader-review');
      t.is(leader.assignee, 'staff-leader-3');
      t.is(leader.formKey, 'leader-review');
      t.is(leader.variables.hostOpinion, '同意来访');

      await engine.completeUserTask(leader.taskKey, { decision: 'approve', opinion: '同意' });
      await env.settle();
      t.deepEqual(recorder.jobTrail(instanceKey), ['issue-pass', 'application-status:approved', 'sms:approved']);
      const ended = recorder.endedOf(instanceKey);
      t.is(ended.length, 1);
      t.is(ended[0].state, 'completed');
      const vars = ended[0].variables;
      t.is(vars.hostDecision, 'approve');
      t.is(vars.leaderDecision, 'approve');
      t.is(vars.lastOpinion, '同意');
      t.is(vars.passId, 'pass-app-1', 'a job without output mappings passes its result on');
      t.false('decision' in vars, 'output mappings keep task-local variables out of the process scope');
      t.false('opinion' in vars);
      for (const internal of ['fields', 'content', 'properties', 'environment'])
        t.false(internal in vars, `no engine internals (${internal}) in variables`);
      t.deepEqual(recorder.canceled, []);
    } finally {
      await env.dispose();
    }
  });

  serial('host refuses: refused status and SMS, no leader task', [], async (t) => {
    const env = await factory();
    try {
      const { engine, recorder, instanceKey } = await visitFlow(env);
      await engine.completeUserTask(recorder.task(instanceKey, 'host-review').taskKey, { decision: 'refuse', opinion: '不符合要求' });
      await env.settle();
      t.deepEqual(recorder.jobTrail(instanceKey), ['application-status:refused', 'sms:refused']);
      t.deepEqual(
        recorder.tasksOf(instanceKey).map((x) => x.elementId),
        ['host-review'],
      );
      const [ended] = recorder.endedOf(instanceKey);
      t.is(ended.state, 'completed');
      t.is(ended.variables.hostDecision, 'refuse');
      t.is(ended.variables.leaderStaffId, null);
    } finally {
      await env.dispose();
    }
  });

  serial('leader refuses after host approval: refused status and SMS, no pass', [], async (t) => {
    const env = await factory();
    try {
      const { engine, recorder, instanceKey } = await visitFlow(env);
      await engine.completeUserTask(recorder.task(instanceKey, 'host-review').taskKey, {
        decision: 'approve',
        opinion: '同意',
        leaderStaffId: 'staff-leader-3',
      });
      await env.settle();
      await engine.completeUserTask(recorder.task(instanceKey, 'leader-review').taskKey, { decision: 'refuse', opinion: '暂缓' });
      await env.settle();
      t.deepEqual(recorder.jobTrail(instanceKey), ['application-status:refused', 'sms:refused']);
      const [ended] = recorder.endedOf(instanceKey);
      t.is(ended.variables.leaderDecision, 'refuse');
      t.is(ended.variables.lastOpinion, '暂缓');
    } finally {
      await env.dispose();
    }
  });

  serial('an unreviewed application expires after 72 h, across a restart, exactly once', ['clock'], async (t) => {
    const env = await factory();
    try {
      const { recorder, instanceKey } = await visitFlow(env);
      const host = recorder.task(instanceKey, 'host-review');

      const engine = await env.restart();
      recorder.attach(engine).visitWorkers(engine);
      await env.advance(71 * HOUR);
      await env.settle();
      t.deepEqual(recorder.jobTrail(instanceKey), [], 'not due yet at 71 h');

      await env.advance(1 * HOUR + 60_000);
      await env.settle();
      t.deepEqual(recorder.jobTrail(instanceKey), ['application-status:expired', 'sms:expired']);
      t.deepEqual(recorder.canceled, [{ taskKey: host.taskKey, instanceKey, elementId: 'host-review', reason: 'interrupted' }]);
      t.is(recorder.endedOf(instanceKey).length, 1);
      await t.throwsAsync(engine.completeUserTask(host.taskKey, { decision: 'approve', opinion: 'late' }), {
        instanceOf: TaskNotFoundError,
      });

      await env.advance(100 * HOUR);
      await env.settle();
      t.is(recorder.jobs.length, 2, 'the timer fired once');
    } finally {
      await env.dispose();
    }
  });

  serial('a failing worker is retried, then raises an incident; resolving it continues the instance', ['clock'], async (t) => {
    const env = await factory();
    try {
      let broken = true;
      const engine = env.engine;
      await engine.deploy('visit-pass.bpmn', visitPassXml);
      const recorder = new Recorder(engine).visitWorkers(engine, { fail: () => broken });
      const { instanceKey } = await engine.start('visit-pass', applicationVariables());
      await env.settle();
      await engine.completeUserTask(recorder.task(instanceKey, 'host-review').taskKey, {
        decision: 'approve',
        opinion: '同意',
        leaderStaffId: 'staff-leader-3',
      });
      await env.settle();
      await engine.completeUserTask(recorder.task(instanceKey, 'leader-review').taskKey, { decision: 'approve', opinion: '同意' });
      for (let i = 0; i < 6; i++) {
        await env.settle();
        await env.advance(60_000);
      }
      await env.settle();
      const attempts = recorder.jobs.filter((j) => j.type === 'issue-pass');
      t.is(attempts.length, 3, 'the task retries (3) are spent');
      t.is(new Set(attempts.map((j) => j.key)).size, 1, 'every attempt carries the same job key');
      t.deepEqual(
        attempts.map((j) => j.retries),
        [3, 2, 1],
      );
      const incidents = await engine.listIncidents(instanceKey);
      t.is(incidents.length, 1);
      t.is(incidents[0].elementId, 'issue-pass');
      t.is(incidents[0].jobKey, attempts[0].key);
      t.regex(incidents[0].message, /pass service unavailable/);
      t.deepEqual(
        recorder.incidents.map((i) => i.key),
        [incidents[0].key],
      );
      t.deepEqual(recorder.endedOf(instanceKey), [], 'the instance is not dead');

      broken = false;
      await engine.resolveIncident(incidents[0].key);
      await env.settle();
      t.deepEqual(recorder.jobTrail(instanceKey), [
        'issue-pass',
        'issue-pass',
        'issue-pass',
        'issue-pass',
        'application-status:approved',
        'sms:approved',
      ]);
      t.is(recorder.endedOf(instanceKey).length, 1);
      t.deepEqual(await engine.listIncidents(instanceKey), []);
      await t.throwsAsync(engine.resolveIncident(incidents[0].key), { instanceOf: EngineError });
    } finally {
      await env.dispose();
    }
  });

  scenario('a task cannot be completed twice, and unknown keys are refused', async (env) => {
    const { engine, recorder, instanceKey } = await visitFlow(env);
    const host = recorder.task(instanceKey, 'host-review');
    await engine.completeUserTask(host.taskKey, { decision: 'refuse', opinion: '否' });
    await expectTaskNotFound(engine.completeUserTask(host.taskKey, { decision: 'approve', opinion: '是' }));
    await expectTaskNotFound(engine.completeUserTask('999999999', {}));
    await env.settle();
    assertEqual(recorder.jobTrail(instanceKey), ['application-status:refused', 'sms:refused']);
  });

  scenario('two concurrent completions of one task: exactly one wins', async (env) => {
    const { engine, recorder, instanceKey } = await visitFlow(env);
    const host = recorder.task(instanceKey, 'host-review');
    const results = await Promise.allSettled([
      engine.completeUserTask(host.taskKey, { decision: 'approve', opinion: 'A', leaderStaffId: 'leader-a' }),
      engine.completeUserTask(host.taskKey, { decision: 'approve', opinion: 'B', leaderStaffId: 'leader-b' }),
      engine.completeUserTask(host.taskKey, { decision: 'refuse', opinion: 'C' }),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    assertEqual(won.length, 1);
    for (const r of results) if (r.status === 'rejected') assertTrue(r.reason instanceof TaskNotFoundError, String(r.reason));
    await env.settle();
    const leaders = recorder.tasksOf(instanceKey).filter((x) => x.elementId === 'leader-review');
    const refused = recorder.jobTrail(instanceKey).includes('sms:refused');
    assertTrue(leaders.length + (refused ? 1 : 0) === 1, 'one outcome only');
  });

  scenario('a completion racing a cancel is serialised', async (env) => {
    const { engine, recorder, instanceKey } = await visitFlow(env);
    const host = recorder.task(instanceKey, 'host-review');
    const [complete, cancel] = await Promise.allSettled([
      engine.completeUserTask(host.taskKey, { decision: 'approve', opinion: 'A', leaderStaffId: 'leader-a' }),
      engine.cancel(instanceKey),
    ]);
    assertEqual(cancel.status, 'fulfilled');
    await env.settle();
    const ended = recorder.endedOf(instanceKey);
    assertEqual(
      ended.map((e) => e.state),
      ['canceled'],
    );
    if (complete.status === 'fulfilled') {
      // completion first: the leader task it created was canceled with the instance
      const leaders = recorder.tasksOf(instanceKey).filter((x) => x.elementId === 'leader-review');
      // limits.unseenTasks: the cancel may withdraw the leader task before the adapter ever saw it
      if (leaders.length || !limits.unseenTasks) {
        const leader = recorder.task(instanceKey, 'leader-review');
        assertTrue(recorder.canceled.some((c) => c.taskKey === leader.taskKey && c.reason === 'instance-canceled'));
      }
    } else {
      assertTrue(complete.reason instanceof TaskNotFoundError, String(complete.reason));
      assertTrue(recorder.canceled.some((c) => c.taskKey === host.taskKey && c.reason === 'instance-canceled'));
    }
  });

  scenario('messages correlate by name and correlation key; a BPMN error reaches the error boundary', async (env) => {
    const engine = env.engine;
    await engine.deploy('message-and-error.bpmn', fixture('message-and-error.bpmn'));
    const recorder = new Recorder(engine);
    engine.registerWorker('check', async (job) => {
      recorder.jobs.push(job);
      if (job.variables.amount === 0) throw new (await import('../../engine-adapter/contract.ts')).BpmnError('REJECTED', 'nothing paid');
      return { checked: true };
    });
    const a = await engine.start('message-and-error', { orderId: 'A-1' });
    const b = await engine.start('message-and-error', { orderId: 'B-2' });
    await env.settle();
    await engine.publishMessage('payment-received', 'unknown-key', { amount: 1 });
    await engine.publishMessage('other-message', 'A-1', { amount: 1 });
    await env.settle();
    assertEqual(recorder.jobs.length, 0);

    await engine.publishMessage('payment-received', 'A-1', { amount: 10 });
    await env.settle();
    assertEqual(
      recorder.jobs.map((j) => [j.instanceKey, j.variables.amount]),
      [[a.instanceKey, 10]],
    );
    assertEqual(recorder.endedOf(a.instanceKey).length, 1);
    assertEqual(recorder.endedOf(a.instanceKey)[0].variables.checked, true);
    assertEqual(recorder.endedOf(b.instanceKey).length, 0, 'B still waits for its own message');

    await engine.publishMessage('payment-received', 'B-2', { amount: 0 });
    await env.settle();
    const info = await engine.getInstance(b.instanceKey);
    assertEqual(info?.status, 'completed');
    assertTrue(info!.completedElementIds.includes('end-rejected'), 'the error boundary path ran');
    assertTrue(!info!.completedElementIds.includes('end-ok'));
  });

  scenario('a new version does not disturb running instances; identical XML is not a new version', async (env) => {
    const engine = env.engine;
    const recorder = new Recorder(engine);
    const [v1] = await engine.deploy('single-task.bpmn', fixture('single-task-v1.bpmn'));
    assertEqual(v1.version, 1);
    const old = await engine.start('single-task', { n: 1 });
    const [again] = await engine.deploy('single-task.bpmn', fixture('single-task-v1.bpmn'));
    assertEqual(again, v1);
    const [v2] = await engine.deploy('single-task.bpmn', fixture('single-task-v2.bpmn'));
    assertEqual(v2.version, 2);
    assertTrue(v2.key !== v1.key);
    const fresh = await engine.start('single-task', { n: 2 });
    const pinned = await engine.start('single-task', { n: 3 }, { version: 1 });
    assertEqual([old.version, fresh.version, pinned.version], [1, 2, 1]);
    await env.settle();
    assertEqual(recorder.task(old.instanceKey, 'task-a').processVersion, 1);
    assertEqual(recorder.task(fresh.instanceKey, 'task-b').processVersion, 2);
    await engine.completeUserTask(recorder.task(old.instanceKey, 'task-a').taskKey, {});
    await engine.completeUserTask(recorder.task(pinned.instanceKey, 'task-a').taskKey, {});
    await env.settle();
    assertEqual(
      recorder.ended.map((e) => [e.instanceKey, e.processVersion]),
      [
        [old.instanceKey, 1],
        [pinned.instanceKey, 1],
      ],
    );
  });

  scenario('a process killed between steps loses nothing and duplicates nothing', async (env) => {
    let engine = env.engine;
    await engine.deploy('visit-pass.bpmn', visitPassXml);
    const recorder = new Recorder(engine);
    const { instanceKey } = await engine.start('visit-pass', applicationVariables());
    await env.settle();

    engine = await env.crash();
    recorder.attach(engine);
    await env.settle();
    await engine.completeUserTask(recorder.task(instanceKey, 'host-review').taskKey, {
      decision: 'approve',
      opinion: '同意',
      leaderStaffId: 'staff-leader-3',
    });

    engine = await env.crash(); // before the leader task event was delivered
    recorder.attach(engine);
    await env.settle();
    await engine.completeUserTask(recorder.task(instanceKey, 'leader-review').taskKey, { decision: 'approve', opinion: '同意' });

    engine = await env.crash(); // jobs are due but no worker ran them yet
    recorder.attach(engine).visitWorkers(engine);
    await env.settle();
    assertEqual(recorder.jobTrail(instanceKey), ['issue-pass', 'application-status:approved', 'sms:approved']);
    assertEqual(
      recorder.tasksOf(instanceKey).map((x) => x.elementId),
      ['host-review', 'leader-review'],
      'recovery re-emits waits but creates no second task',
    );
    assertEqual(recorder.endedOf(instanceKey).length, 1);
  });

  scenario('deploy validation names the offending element', async (env) => {
    const error = await env.engine.deploy('bad-feel.bpmn', fixture('bad-feel.bpmn')).then(
      () => undefined,
      (err) => err,
    );
    assertTrue(error instanceof DeploymentError, `expected a DeploymentError, got ${error}`);
    assertTrue(
      (error as DeploymentError).problems.some((p) => p.elementId === 'broken-condition'),
      JSON.stringify((error as DeploymentError).problems),
    );
    assertTrue(String(error.message).includes('broken-condition'));
    await assertRejects(env.engine.start('bad-feel', {}), EngineError);
  });

  scenario('an unknown FEEL variable raises an incident instead of a silent null, and can be fixed', async (env) => {
    const engine = env.engine;
    await engine.deploy('strict-feel.bpmn', fixture('strict-feel.bpmn'));
    const recorder = new Recorder(engine);
    const { instanceKey } = await engine.start('strict-feel', { other: 1 });
    await env.settle();
    const incidents = await engine.listIncidents(instanceKey);
    assertEqual(incidents.length, 1);
    assertTrue(/amount/.test(incidents[0].message), incidents[0].message);
    assertEqual(recorder.ended, [], 'the default (small) branch was not taken');
    assertEqual(recorder.incidents.length, 1);

    await engine.setVariables(instanceKey, { amount: 500 });
    await engine.resolveIncident(incidents[0].key);
    await env.settle();
    const info = await engine.getInstance(instanceKey);
    assertEqual(info?.status, 'completed');
    assertTrue(info!.completedElementIds.includes('end-big'), JSON.stringify(info!.completedElementIds));
    assertEqual(await engine.listIncidents(instanceKey), []);
  }, ['engineIncidents']);

  scenario('a <zeebe:userTask/> (Camunda user task) is a user task like any other; camunda:* is ignored', async (env) => {
    const engine = env.engine;
    await engine.deploy('camunda-user-task.bpmn', fixture('camunda-user-task.bpmn'));
    const recorder = new Recorder(engine);
    const { instanceKey } = await engine.start('camunda-user-task', { reviewer: 'alice' });
    await env.settle();
    const task = recorder.task(instanceKey, 'review');
    assertEqual(task.assignee, 'alice');
    assertEqual(task.candidateGroups, ['reviewers', 'admins']);
    assertEqual(task.candidateUsers, ['u1', 'u2']);
    assertEqual(task.formKey, 'review-form');
    assertEqual(task.dueDate, '2026-12-05T10:00:00.000Z');
    await engine.completeUserTask(task.taskKey, { ok: true });
    await env.settle();
    assertEqual(recorder.endedOf(instanceKey)[0]?.variables.ok, true);
  });

  scenario('a job whose type has no worker waits visibly, and runs once a worker registers', async (env) => {
    const engine = env.engine;
    await engine.deploy('no-worker.bpmn', fixture('no-worker.bpmn'));
    const recorder = new Recorder(engine);
    const { instanceKey } = await engine.start('no-worker', { amount: 21 });
    await env.settle();
    const waiting = await engine.getInstance(instanceKey);
    assertEqual(waiting?.status, 'active');
    // limits.unseenWaits: a job nobody has activated is known to the engine only
    if (!limits.unseenWaits) assertEqual(waiting?.currentElementIds, ['unserved']);
    assertEqual(await engine.listIncidents(instanceKey), []);

    engine.registerWorker('unserved-type', async (job) => {
      recorder.jobs.push(job);
      return { result: 'done', noise: 'dropped by the output mapping' };
    });
    await env.settle();
    assertEqual(recorder.jobs[0]?.variables.doubled, 42, 'input mappings reach the job');
    const [ended] = recorder.endedOf(instanceKey);
    assertEqual(ended?.variables.outcome, 'done');
    assertTrue(!('noise' in ended.variables) && !('doubled' in ended.variables));
  });

  scenario('cancel ends the instance and withdraws its open tasks', async (env) => {
    const { engine, recorder, instanceKey } = await visitFlow(env);
    const host = recorder.task(instanceKey, 'host-review');
    await engine.cancel(instanceKey);
    await env.settle();
    assertEqual(recorder.canceled, [{ taskKey: host.taskKey, instanceKey, elementId: 'host-review', reason: 'instance-canceled' }]);
    assertEqual(
      recorder.endedOf(instanceKey).map((e) => e.state),
      ['canceled'],
    );
    await expectTaskNotFound(engine.completeUserTask(host.taskKey, {}));
    await env.advance(100 * HOUR);
    await env.settle();
    assertEqual(recorder.jobs, [], 'the boundary timer went with the instance');
    await assertRejects(engine.cancel(instanceKey), EngineError);
  }, ['clock']);

  // ---- element coverage: what any model an administrator draws may use --------------------------------------

  scenario('parallel split and join: the join waits for every branch and passes once, with the variables of all', async (env) => {
    const engine = env.engine;
    await engine.deploy('parallel.bpmn', fixture('parallel.bpmn'));
    const recorder = new Recorder(engine);
    engine.registerWorker('parallel-check', async (job) => {
      recorder.jobs.push(job);
      return { checked: true };
    });
    engine.registerWorker('parallel-summarize', async (job) => {
      recorder.jobs.push(job);
      return { summary: `${job.variables.noteA}/${job.variables.verdictB}/${job.variables.checked}` };
    });
    const { instanceKey } = await engine.start('parallel', { team: 'reviewers' });
    await env.settle();
    assertEqual(recorder.tasksOf(instanceKey).map((x) => x.elementId).sort(), ['review-a', 'review-b'], 'the split opens both tasks');
    const a = recorder.task(instanceKey, 'review-a');
    const b = recorder.task(instanceKey, 'review-b');
    assertEqual(a.assignee, 'alice');
    assertEqual(b.candidateGroups, ['reviewers']);
    assertEqual(recorder.jobElements(instanceKey), ['check'], 'the job branch ran at once; the join holds its token');

    await engine.completeUserTask(a.taskKey, { noteA: 'ok' });
    await env.settle();
    assertEqual(recorder.jobElements(instanceKey), ['check'], 'two branches of three: the join does not pass');
    assertEqual(recorder.endedOf(instanceKey), []);
    const halfway = await engine.getInstance(instanceKey);
    assertEqual(halfway?.status, 'active');
    assertEqual(halfway?.currentElementIds, ['review-b']);

    await engine.completeUserTask(b.taskKey, { verdict: 'approve' });
    await env.settle();
    assertEqual(recorder.jobElements(instanceKey), ['check', 'summarize'], 'the element after the join ran once');
    const summarize = recorder.jobs.find((j) => j.elementId === 'summarize')!;
    assertEqual([summarize.variables.noteA, summarize.variables.verdictB, summarize.variables.checked], ['ok', 'approve', true]);
    const ended = recorder.endedOf(instanceKey);
    assertEqual(
      ended.map((e) => e.state),
      ['completed'],
    );
    const vars = ended[0].variables;
    assertEqual([vars.noteA, vars.verdictB, vars.checked, vars.summary], ['ok', 'approve', true, 'ok/approve/true']);
    assertTrue(!('verdict' in vars), 'review-b output mapping keeps its local variable out');
    assertEqual(await visited(engine, instanceKey, ['check', 'review-a', 'review-b', 'summarize', 'end']), [
      'check',
      'review-a',
      'review-b',
      'summarize',
      'end',
    ]);
    assertEqual(recorder.canceled, []);

    // Both branches completed at the same moment: one of the two commands sees the other's token at the join.
    const twin = await engine.start('parallel', { team: 'reviewers' });
    await env.settle();
    await Promise.all([
      engine.completeUserTask(recorder.task(twin.instanceKey, 'review-a').taskKey, { noteA: 'fast' }),
      engine.completeUserTask(recorder.task(twin.instanceKey, 'review-b').taskKey, { verdict: 'refuse' }),
    ]);
    await env.settle();
    assertEqual(recorder.jobElements(twin.instanceKey), ['check', 'summarize'], 'concurrent arrivals pass the join exactly once');
    assertEqual(
      recorder.endedOf(twin.instanceKey).map((e) => [e.state, e.variables.summary]),
      [['completed', 'fast/refuse/true']],
    );
  });

  scenario(
    'a non-interrupting timer runs its own path and leaves the task open; it fires once, and never after the task is done',
    async (env) => {
      let engine = env.engine;
      await engine.deploy('non-interrupting-timer.bpmn', fixture('non-interrupting-timer.bpmn'));
      const recorder = new Recorder(engine);
      const remindWorker = (e: WorkflowEngine) =>
        e.registerWorker('remind', async (job) => {
          recorder.jobs.push(job);
          return { reminded: true };
        });
      remindWorker(engine);
      const slow = await engine.start('reminder', { reviewer: 'bob' });
      const quick = await engine.start('reminder', { reviewer: 'carol' });
      await env.settle();
      const slowTask = recorder.task(slow.instanceKey, 'review');
      await engine.completeUserTask(recorder.task(quick.instanceKey, 'review').taskKey, { decision: 'quick' });
      await env.settle();
      assertEqual(recorder.endedOf(quick.instanceKey).length, 1);

      engine = await env.restart();
      recorder.attach(engine);
      remindWorker(engine);
      await env.advance(23 * HOUR);
      await env.settle();
      assertEqual(recorder.jobs, [], 'not due at 23 h');

      await env.advance(HOUR + 60_000);
      await env.settle();
      assertEqual(recorder.jobElements(slow.instanceKey), ['remind'], 'the reminder ran at 24 h');
      assertEqual(recorder.jobElements(quick.instanceKey), [], 'the timer went with the task completed before it');
      assertEqual(recorder.canceled, [], 'a non-interrupting timer withdraws no task');
      assertEqual(recorder.endedOf(slow.instanceKey), [], 'the end of the reminder path does not end the instance');
      const reminded = await engine.getInstance(slow.instanceKey);
      assertEqual(reminded?.status, 'active');
      assertEqual(reminded?.currentElementIds, ['review']);

      await env.advance(48 * HOUR);
      await env.settle();
      assertEqual(recorder.jobElements(slow.instanceKey), ['remind'], 'a duration timer fires once');
      await engine.completeUserTask(slowTask.taskKey, { decision: 'late' });
      await env.settle();
      const ended = recorder.endedOf(slow.instanceKey);
      assertEqual(
        ended.map((e) => [e.state, e.variables.decision, e.variables.reminded]),
        [['completed', 'late', true]],
      );
      assertEqual(await visited(engine, slow.instanceKey, ['review', 'remind', 'end-reminded', 'end-done']), [
        'remind',
        'end-reminded',
        'review',
        'end-done',
      ]);
      await env.advance(100 * HOUR);
      await env.settle();
      assertEqual(recorder.jobs.length, 1, 'nothing fires after the instance ended');
    },
    ['clock'],
  );

  scenario('an exclusive gateway takes the first flow whose condition holds, and its default flow when none does', async (env) => {
    const engine = env.engine;
    await engine.deploy('exclusive-default.bpmn', fixture('exclusive-default.bpmn'));
    const recorder = new Recorder(engine);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ vip: false, size: 3 }, 'end-standard'],
      [{ vip: false, size: 20 }, 'end-large'],
      [{ vip: true, size: 1 }, 'end-vip'],
      [{ vip: true, size: 20 }, 'end-vip'], // both hold: the first in document order wins, and only it
    ];
    const started = [];
    for (const [variables] of cases) started.push(await engine.start('exclusive-default', variables));
    await env.settle();
    for (const [i, [variables, end]] of cases.entries()) {
      const { instanceKey } = started[i];
      const label = JSON.stringify(variables);
      assertEqual(
        recorder.endedOf(instanceKey).map((e) => e.state),
        ['completed'],
        label,
      );
      assertEqual(await visited(engine, instanceKey, ['end-standard', 'end-vip', 'end-large']), [end], label);
    }
    assertEqual(await engine.listIncidents(), []);
  });

  /** exclusive-no-default up to its incident: kind 'c' matches no flow of gateway by-kind, which has no default. */
  async function stuckAtGateway(env: ContractEnv, startVariables: Variables, completion: Variables) {
    const engine = env.engine;
    await engine.deploy('exclusive-no-default.bpmn', fixture('exclusive-no-default.bpmn'));
    const recorder = new Recorder(engine);
    const { instanceKey } = await engine.start('exclusive-no-default', startVariables);
    await env.settle();
    const classify = recorder.task(instanceKey, 'classify');
    await engine.completeUserTask(classify.taskKey, completion);
    await env.settle();
    assertEqual(recorder.endedOf(instanceKey), [], 'no end was reached');
    assertEqual((await engine.getInstance(instanceKey))?.status, 'active');
    assertEqual(await visited(engine, instanceKey, ['end-a', 'end-b']), [], 'no flow was taken');
    await expectTaskNotFound(engine.completeUserTask(classify.taskKey, { kind: 'a' }));
    return { engine, recorder, instanceKey };
  }

  /** Fixes the cause with setVariables (kind 'b'), resolves the gateway's incident, and checks the flow taken. */
  async function fixGateway(env: ContractEnv, engine: WorkflowEngine, recorder: Recorder, instanceKey: string) {
    const incidents = await engine.listIncidents(instanceKey);
    assertEqual(
      incidents.map((i) => i.elementId),
      ['by-kind'],
    );
    assertEqual(
      recorder.incidents.map((i) => i.key),
      [incidents[0].key],
    );
    assertEqual((await engine.getInstance(instanceKey))?.incidents.map((i) => i.key), [incidents[0].key]);
    await engine.setVariables(instanceKey, { kind: 'b' });
    await engine.resolveIncident(incidents[0].key);
    await env.settle();
    assertEqual(await engine.listIncidents(instanceKey), [], 'the fix holds: no second incident');
    assertEqual(
      recorder.endedOf(instanceKey).map((e) => [e.state, e.variables.kind, e.variables.classifiedBy]),
      [['completed', 'b', 'dana']],
    );
    assertEqual(await visited(engine, instanceKey, ['classify', 'end-a', 'end-b']), ['classify', 'end-b']);
    assertEqual(recorder.tasksOf(instanceKey).length, 1, 'resolving does not reopen the task');
  }

  scenario('an exclusive gateway with no flow to take and no default stops at an incident; fixed, it goes on from there', async (env) => {
    const { engine, recorder, instanceKey } = await stuckAtGateway(env, { kind: 'c' }, { classifiedBy: 'dana' });
    // limits.engineIncidents: the incident is the broker's own (Operate shows and resolves it)
    if (!limits.engineIncidents) await fixGateway(env, engine, recorder, instanceKey);
  });

  scenario(
    "a task completion whose own variable leaves a gateway no way out stands; setVariables then decides the gateway",
    async (env) => {
      // On Zeebe the completion is committed (its variables written) before the gateway raises its incident, so the
      // variable an administrator sets afterwards is the one the gateway sees when the incident is resolved.
      const { engine, recorder, instanceKey } = await stuckAtGateway(env, {}, { kind: 'c', classifiedBy: 'dana' });
      await fixGateway(env, engine, recorder, instanceKey);
    },
    ['engineIncidents'],
  );

  scenario('version migration: a running instance finishes on its own version while new ones run the new version', async (env) => {
    let engine = env.engine;
    const recorder = new Recorder(engine);
    const notifyWorker = (e: WorkflowEngine) =>
      e.registerWorker('migration-notify', async (job) => {
        recorder.jobs.push(job);
        return { notified: true };
      });
    notifyWorker(engine);
    const [v1] = await engine.deploy('migration.bpmn', fixture('migration-v1.bpmn'));
    const old = await engine.start('migration', { n: 'old' });
    await env.settle();
    const oldReview = recorder.task(old.instanceKey, 'review');
    assertEqual([oldReview.formKey, oldReview.processVersion, oldReview.processDefinitionKey], ['review-v1', 1, v1.key]);

    const [v2] = await engine.deploy('migration.bpmn', fixture('migration-v2.bpmn'));
    assertEqual(v2.version, 2);
    const fresh = await engine.start('migration', { n: 'new' });
    assertEqual(fresh.version, 2);
    // A new engine knows the versions from the store only.
    engine = await env.restart();
    recorder.attach(engine);
    notifyWorker(engine);
    await env.settle();
    const freshReview = recorder.task(fresh.instanceKey, 'review');
    assertEqual([freshReview.formKey, freshReview.processVersion, freshReview.processDefinitionKey], ['review-v2', 2, v2.key]);
    const before = [await engine.getInstance(old.instanceKey), await engine.getInstance(fresh.instanceKey)];
    assertEqual(
      before.map((i) => [i?.processVersion, i?.processDefinitionKey, i?.currentElementIds]),
      [
        [1, v1.key, ['review']],
        [2, v2.key, ['review']],
      ],
    );

    // The same task id in both versions: what follows it is the instance's version's.
    await engine.completeUserTask(oldReview.taskKey, {});
    await engine.completeUserTask(freshReview.taskKey, {});
    await env.settle();
    const confirm = recorder.task(old.instanceKey, 'confirm');
    assertEqual([confirm.processVersion, confirm.processDefinitionKey], [1, v1.key]);
    assertEqual(recorder.jobElements(old.instanceKey), [], 'the step added in version 2 does not run on version 1');
    assertEqual(recorder.endedOf(old.instanceKey), []);
    assertEqual(recorder.jobElements(fresh.instanceKey), ['notify']);
    assertEqual(
      recorder.tasksOf(fresh.instanceKey).map((x) => x.elementId),
      ['review'],
      'the step removed in version 2 does not run on version 2',
    );

    await engine.completeUserTask(confirm.taskKey, { confirmed: true });
    await env.settle();
    assertEqual(
      recorder.ended.map((e) => [e.instanceKey, e.processVersion, e.variables.n, e.variables.confirmed ?? null, e.variables.notified ?? null]),
      [
        [fresh.instanceKey, 2, 'new', null, true],
        [old.instanceKey, 1, 'old', true, null],
      ],
    );
    const steps = ['review', 'confirm', 'notify', 'end'];
    assertEqual(await visited(engine, old.instanceKey, steps), ['review', 'confirm', 'end']);
    assertEqual(await visited(engine, fresh.instanceKey, steps), ['review', 'notify', 'end']);
    assertEqual((await engine.getInstance(old.instanceKey))?.processVersion, 1);
  });

  scenario(
    'an intermediate timer waits the duration its FEEL expression gives each instance, across a restart',
    async (env) => {
      let engine = env.engine;
      await engine.deploy('timer-catch.bpmn', fixture('timer-catch.bpmn'));
      const recorder = new Recorder(engine);
      const worker = (e: WorkflowEngine) =>
        e.registerWorker('after-wait', async (job) => {
          recorder.jobs.push(job);
        });
      worker(engine);
      const one = await engine.start('timer-catch', { waitFor: 'PT1H' });
      const three = await engine.start('timer-catch', { waitFor: 'PT3H' });
      await env.settle();
      assertEqual(recorder.jobs, []);
      // limits.unseenWaits: a waiting timer is known to the engine only
      if (!limits.unseenWaits) assertEqual((await engine.getInstance(one.instanceKey))?.currentElementIds, ['wait']);

      engine = await env.restart();
      recorder.attach(engine);
      worker(engine);
      await env.advance(59 * 60_000);
      await env.settle();
      assertEqual(recorder.jobs, [], 'not due at 59 min');
      await env.advance(2 * 60_000);
      await env.settle();
      assertEqual(
        [recorder.jobElements(one.instanceKey), recorder.jobElements(three.instanceKey)],
        [['after-wait'], []],
      );
      assertEqual(recorder.endedOf(one.instanceKey).length, 1);
      await env.advance(2 * HOUR);
      await env.settle();
      assertEqual(recorder.jobElements(three.instanceKey), ['after-wait']);
      assertEqual(recorder.endedOf(three.instanceKey).length, 1);
      await env.advance(10 * HOUR);
      await env.settle();
      assertEqual(recorder.jobs.length, 2, 'each timer fired once');
    },
    ['clock'],
  );

  scenario('an inclusive gateway takes every flow whose condition holds (its default when none); the join waits for them all', async (env) => {
    const engine = env.engine;
    await engine.deploy('inclusive.bpmn', fixture('inclusive.bpmn'));
    const recorder = new Recorder(engine);
    engine.registerWorker('inclusive-step', async (job) => {
      recorder.jobs.push(job);
      return { [`${job.elementId}Done`]: true };
    });
    engine.registerWorker('inclusive-summarize', async (job) => {
      recorder.jobs.push(job);
    });
    const some = await engine.start('inclusive', { needsBadge: true, needsParking: true, needsEscort: false });
    const none = await engine.start('inclusive', { needsBadge: false, needsParking: false, needsEscort: false });
    await env.settle();
    assertEqual(recorder.jobElements(some.instanceKey), ['badge'], 'the join waits for the parking task');
    const parking = recorder.task(some.instanceKey, 'parking');
    assertEqual(recorder.endedOf(some.instanceKey), []);
    assertEqual(recorder.jobElements(none.instanceKey), ['standard', 'summarize'], 'no condition holds: the default flow');
    assertEqual(recorder.endedOf(none.instanceKey).length, 1);

    await engine.completeUserTask(parking.taskKey, { parkingSpot: 'P3' });
    await env.settle();
    assertEqual(recorder.jobElements(some.instanceKey), ['badge', 'summarize'], 'the join passed once');
    const ended = recorder.endedOf(some.instanceKey);
    assertEqual(
      ended.map((e) => [e.state, e.variables.badgeDone, e.variables.parkingSpot]),
      [['completed', true, 'P3']],
    );
    assertTrue(!('escortDone' in ended[0].variables) && !('standardDone' in ended[0].variables), 'no other branch ran');
    assertEqual(await visited(engine, some.instanceKey, ['standard', 'badge', 'parking', 'escort', 'summarize', 'end']), [
      'badge',
      'parking',
      'summarize',
      'end',
    ]);
  });
}

// Plain assertions for scenarios that do not hold ava's t (keeps the scenario bodies short and engine-neutral).
function assertEqual(actual: unknown, expected: unknown, message = '') {
  if (!isDeepStrictEqual(actual, expected))
    throw new Error(`${message ? `${message}: ` : ''}expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
function assertTrue(value: boolean, message = 'expected true') {
  if (!value) throw new Error(message);
}
async function assertRejects(promise: Promise<unknown>, type: new (...args: any[]) => Error) {
  const error = await promise.then(
    () => undefined,
    (err) => err,
  );
  if (!(error instanceof type)) throw new Error(`expected ${type.name}, got ${error}`);
}
async function expectTaskNotFound(promise: Promise<unknown>) {
  await assertRejects(promise, TaskNotFoundError);
}
/**
 * The given elements among those the instance completed, in order. Pass elements every engine reports (user tasks,
 * jobs, end events: the Zeebe adapter sees nothing else) so that one expectation holds on all of them.
 */
async function visited(engine: WorkflowEngine, instanceKey: string, elementIds: string[]): Promise<string[]> {
  const info = await engine.getInstance(instanceKey);
  if (!info) throw new Error(`instance ${instanceKey} is unknown`);
  return info.completedElementIds.filter((id) => elementIds.includes(id));
}

export type { WorkflowEngine };
