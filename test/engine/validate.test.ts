import test from 'ava';
import { DeploymentError } from '../../engine-adapter/contract.ts';
import { compileBpmn } from '../../engine-adapter/embedded/definition/compile.ts';
import { visitPassXml } from '../engine-contract/harness.ts';

const doc = (body: string, extra = '') => `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  ${extra}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    ${body}
  </bpmn:process>
</bpmn:definitions>`;

async function problems(xml: string) {
  const err = await compileBpmn(xml).then(
    () => undefined,
    (e) => e,
  );
  if (!(err instanceof DeploymentError)) throw new Error(`expected a DeploymentError, got ${err}`);
  return err.problems;
}

test('the default flow compiles with its Zeebe metadata', async (t) => {
  const compiled = await compileBpmn(visitPassXml);
  t.is(compiled.processId, 'visit-pass');
  t.is(compiled.name, '校外人员(车辆)临时进入校园通行申请');
  t.is(compiled.model.startFormKey, 'visit-application');
  const host = compiled.model.elements.get('host-review')!;
  t.is(host.wait, 'user-task');
  t.deepEqual(host.assignment, { assignee: '=hostStaffId', candidateGroups: '=[departmentGroup]', candidateUsers: undefined });
  t.deepEqual(
    host.outputs?.map((o) => o.target),
    ['hostDecision', 'hostOpinion', 'leaderStaffId', 'lastOpinion'],
  );
  t.is(compiled.model.elements.get('host-review-timeout')!.wait, 'timer');
  const sms = compiled.model.elements.get('sms-expired')!;
  t.deepEqual([sms.job?.type, sms.headers], ['sms', { template: 'expired' }]);
  t.deepEqual(compiled.model.elements.get('status-host-refused')!.headers, { status: 'refused' });
});

const unsupported: Array<[string, string, RegExp]> = [
  ['a call activity', '<bpmn:callActivity id="call-x"><bpmn:extensionElements><zeebe:calledElement processId="other" /></bpmn:extensionElements></bpmn:callActivity>', /call activit/],
  ['a business rule task', '<bpmn:businessRuleTask id="dmn-x"><bpmn:extensionElements><zeebe:calledDecision decisionId="d" resultVariable="r" /></bpmn:extensionElements></bpmn:businessRuleTask>', /DMN/],
  [
    'a multi-instance task',
    '<bpmn:serviceTask id="mi-x"><bpmn:extensionElements><zeebe:taskDefinition type="t" /></bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics /></bpmn:serviceTask>',
    /multi-instance/,
  ],
  ['a sub-process', '<bpmn:subProcess id="sub-x" />', /sub-process/],
  ['a service task without a type', '<bpmn:serviceTask id="svc-x" />', /taskDefinition type/],
  ['a zeebe:script task', '<bpmn:scriptTask id="script-x"><bpmn:extensionElements><zeebe:script expression="=1" resultVariable="r" /></bpmn:extensionElements></bpmn:scriptTask>', /zeebe:script/],
  [
    'a cycle timer',
    '<bpmn:intermediateCatchEvent id="cycle-x"><bpmn:timerEventDefinition><bpmn:timeCycle>R3/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>',
    /timeCycle/,
  ],
  [
    'a FEEL syntax error in an assignment',
    '<bpmn:userTask id="task-x"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="=a +" /></bpmn:extensionElements></bpmn:userTask>',
    /assignee: FEEL syntax error/,
  ],
  [
    'an input mapping with a FEEL syntax error',
    '<bpmn:userTask id="io-x"><bpmn:extensionElements><zeebe:ioMapping><zeebe:input source="=(" target="t" /></zeebe:ioMapping></bpmn:extensionElements></bpmn:userTask>',
    /mapping to t/,
  ],
];

for (const [what, xml, reason] of unsupported) {
  test(`deploy refuses ${what}, naming the element`, async (t) => {
    const found = await problems(doc(xml));
    const id = /id="([^"]+)"/.exec(xml)![1];
    const problem = found.find((p) => p.elementId === id);
    t.truthy(problem, JSON.stringify(found));
    t.regex(problem!.message, reason);
  });
}

test('a message catch event needs a correlation key; a condition must be FEEL', async (t) => {
  const found = await problems(
    doc(
      `<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
       <bpmn:intermediateCatchEvent id="wait"><bpmn:messageEventDefinition messageRef="m" /></bpmn:intermediateCatchEvent>
       <bpmn:sequenceFlow id="juel" sourceRef="wait" targetRef="end"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">\${ok}</bpmn:conditionExpression></bpmn:sequenceFlow>
       <bpmn:endEvent id="end" />`,
      '<bpmn:message id="m" name="go" />',
    ),
  );
  t.true(found.some((p) => p.elementId === 'wait' && /correlationKey/.test(p.message)));
  t.true(found.some((p) => p.elementId === 'juel' && /FEEL/.test(p.message)));
});

test('two executable processes in one document are refused', async (t) => {
  const xml = doc('<bpmn:endEvent id="e" />').replace(
    '</bpmn:definitions>',
    '<bpmn:process id="second" isExecutable="true"><bpmn:startEvent id="s2" /></bpmn:process></bpmn:definitions>',
  );
  t.true((await problems(xml)).some((p) => p.elementId === 'second'));
});

test('something that is not BPMN is refused', async (t) => {
  t.deepEqual(
    (await problems('<html>')).map((p) => p.elementId),
    ['(document)'],
  );
});

test('a second none start event and a flow into a start or boundary event are refused, each named', async (t) => {
  const found = await problems(
    doc(`<bpmn:startEvent id="start-2" />
    <bpmn:userTask id="review" />
    <bpmn:boundaryEvent id="late" attachedToRef="review"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <bpmn:sequenceFlow id="back" sourceRef="review" targetRef="start" />
    <bpmn:sequenceFlow id="into-boundary" sourceRef="start-2" targetRef="late" />`),
  );
  t.deepEqual(
    found.map((p) => p.elementId),
    ['start-2', 'back', 'into-boundary'],
  );
  t.regex(found[0].message, /one none start event/);
  t.regex(found[1].message, /cannot lead into StartEvent start/);
});
