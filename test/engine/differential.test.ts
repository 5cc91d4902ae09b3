import test from 'ava';
import type { Variables } from '../../engine-adapter/contract.ts';
import { compileBpmn } from '../../engine-adapter/embedded/definition/compile.ts';
import { ProcessExecution } from '../../engine-adapter/embedded/execution/process-execution.ts';
import { applyOutputs } from '../../engine-adapter/embedded/variables.ts';
import { BpmnEngineRun, compileForOracle } from '../helpers/bpmn-engine-oracle.ts';
import { applicationVariables, fixture, visitPassXml } from '../engine-contract/harness.ts';

/**
 * Differential check against bpmn-engine, which ran the embedded engine before the compiled executor: the same
 * BPMN and the same inputs must take the same path (the elements completed, the waits after every step, the
 * final variables). Runs in memory: what the database adds is covered by the contract suite.
 */

type Step = { complete: string; variables?: Variables } | { fire: string } | { error: string; code: string };

interface Observed {
  /** Element ids waiting after each step, sorted. */
  waits: string[][];
  /** Elements completed, sorted (parallel branches may finish in another order on the two executors). */
  completed: string[];
  variables: Variables;
  ended: boolean;
}

const ns = `xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t"`;

const parallelXml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${ns}>
  <bpmn:process id="parallel" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />
    <bpmn:parallelGateway id="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="security" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="notify" />
    <bpmn:userTask id="security" />
    <bpmn:serviceTask id="notify"><bpmn:extensionElements><zeebe:taskDefinition type="sms" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f4" sourceRef="security" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="notify" targetRef="join" />
    <bpmn:parallelGateway id="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="after" />
    <bpmn:task id="after" />
    <bpmn:sequenceFlow id="f7" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>`;

const reminderXml = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions ${ns}>
  <bpmn:process id="reminder" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:userTask id="review" />
    <bpmn:boundaryEvent id="remind-timer" attachedToRef="review" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT24H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="remind-timer" targetRef="remind" />
    <bpmn:serviceTask id="remind"><bpmn:extensionElements><zeebe:taskDefinition type="sms" /></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="reminded" />
    <bpmn:endEvent id="reminded" />
    <bpmn:sequenceFlow id="f4" sourceRef="review" targetRef="decide" />
    <bpmn:exclusiveGateway id="decide" default="f6" />
    <bpmn:sequenceFlow id="f5" sourceRef="decide" targetRef="big"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt; 100</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f6" sourceRef="decide" targetRef="small" />
    <bpmn:endEvent id="big" />
    <bpmn:endEvent id="small" />
  </bpmn:process>
</bpmn:definitions>`;

async function observe(executor: 'compiled' | 'bpmn-engine', xml: string, start: Variables, steps: Step[]): Promise<Observed> {
  const compiled = await compileBpmn(xml);
  const run =
    executor === 'compiled'
      ? new ProcessExecution(compiled, structuredClone(start))
      : new BpmnEngineRun(await compileForOracle(xml), structuredClone(start), 'oracle');
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  await run.start();
  await settle();
  const waits = [run.waits().map((w) => w.elementId).sort()];
  for (const step of steps) {
    const elementId = 'complete' in step ? step.complete : 'fire' in step ? step.fire : step.error;
    const wait = run.waits().find((w) => w.elementId === elementId);
    if (!wait) throw new Error(`${executor}: ${elementId} is not waiting (waits: ${waits.at(-1)})`);
    if ('complete' in step) {
      applyOutputs(compiled.model.elements.get(elementId)!, run.variables, {}, step.variables ?? {});
      run.signal(wait.executionId);
    } else if ('fire' in step) {
      if (run instanceof ProcessExecution) run.fireTimer(wait.executionId);
      else run.fireTimer(elementId);
    } else if (run instanceof ProcessExecution) run.throwError(wait.executionId, step.code);
    else run.throwError(wait.executionId, step.code, step.code);
    await settle();
    waits.push(run.waits().map((w) => w.elementId).sort());
  }
  return { waits, completed: [...run.completedElements].sort(), variables: run.variables, ended: run.ended };
}

const cases: Array<{ title: string; xml: string; start: Variables; steps: Step[]; ends: boolean }> = [
  {
    title: 'default flow, both approve',
    xml: visitPassXml,
    start: applicationVariables(),
    steps: [
      { complete: 'host-review', variables: { decision: 'approve', opinion: '同意', leaderStaffId: 'leader-1' } },
      { complete: 'leader-review', variables: { decision: 'approve', opinion: '同意' } },
      { complete: 'issue-pass', variables: { passId: 'p-1' } },
      { complete: 'status-approved' },
      { complete: 'sms-approved' },
    ],
    ends: true,
  },
  {
    title: 'default flow, host refuses',
    xml: visitPassXml,
    start: applicationVariables(),
    steps: [
      { complete: 'host-review', variables: { decision: 'refuse', opinion: '不同意' } },
      { complete: 'status-host-refused' },
      { complete: 'sms-host-refused' },
    ],
    ends: true,
  },
  {
    title: 'default flow, a watch-list hit refused by the security office',
    xml: visitPassXml,
    start: applicationVariables({ watchHit: true }),
    steps: [
      { complete: 'security-review', variables: { decision: 'refuse', opinion: '不符合' } },
      { complete: 'status-security-refused' },
      { complete: 'sms-security-refused' },
    ],
    ends: true,
  },
  {
    title: 'default flow, a watch-list hit cleared, then an invited visitor goes straight to the leader',
    xml: visitPassXml,
    start: applicationVariables({ watchHit: true, invitedByHost: true, leaderStaffId: 'leader-1' }),
    steps: [
      { complete: 'security-review', variables: { decision: 'approve', opinion: '已核实' } },
      { complete: 'leader-review', variables: { decision: 'refuse', opinion: '不同意' } },
      { complete: 'status-leader-refused' },
      { complete: 'sms-leader-refused' },
    ],
    ends: true,
  },
  {
    title: 'default flow, the 72 h timer interrupts the host review',
    xml: visitPassXml,
    start: applicationVariables(),
    steps: [{ fire: 'host-review-timeout' }],
    ends: false,
  },
  {
    title: 'parallel split and join',
    xml: parallelXml,
    start: {},
    steps: [{ complete: 'notify', variables: { sent: true } }, { complete: 'security', variables: { cleared: true } }],
    ends: true,
  },
  {
    title: 'non-interrupting timer, then the task and the default flow',
    xml: reminderXml,
    start: { amount: 5 },
    steps: [{ fire: 'remind-timer' }, { complete: 'remind' }, { complete: 'review' }],
    ends: true,
  },
  {
    title: 'exclusive gateway condition',
    xml: reminderXml,
    start: { amount: 500 },
    steps: [{ complete: 'review' }],
    ends: true,
  },
  {
    title: 'error boundary event',
    xml: fixture('message-and-error.bpmn'),
    start: { orderId: 'o-1' },
    steps: [{ complete: 'wait-payment', variables: { paid: 10 } }, { error: 'check', code: 'REJECTED' }],
    ends: true,
  },
];

for (const c of cases) {
  test(`same path on both executors: ${c.title}`, async (t) => {
    const oracle = await observe('bpmn-engine', c.xml, c.start, c.steps);
    const compiled = await observe('compiled', c.xml, c.start, c.steps);
    t.deepEqual(compiled, oracle);
    t.is(compiled.ended, c.ends);
  });
}
