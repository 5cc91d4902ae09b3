import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ApiClient, TestServer } from './server.ts';
import { onlyTask, staffClient } from './flow.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function adminClient(server: TestServer): Promise<ApiClient> {
  return (await staffClient(server, 'admin')).client;
}

export function bundledProcessXml(): string {
  return fs.readFileSync(`${ROOT}/processes/visit-pass.bpmn`, 'utf8');
}

export function bundledForm(formKey: string): any {
  return JSON.parse(fs.readFileSync(`${ROOT}/forms/${formKey}.json`, 'utf8'));
}

/** Expects a 2xx answer and returns its body, or fails with what the server said. */
export async function ok<T = any>(res: Promise<{ status: number; body: T }>): Promise<T> {
  const r = await res;
  if (r.status < 200 || r.status >= 300) throw new Error(`expected success, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body;
}

/**
 * The default process with a third review step after the leader's approval: the campus security office,
 * assigned to a candidate group (e.g. `dept-13`), reusing the leader's form.
 */
export function processWithSecurityStep(candidateGroup: string): string {
  const xml = bundledProcessXml();
  const task = `<bpmn:userTask id="office-review" name="校园保卫处意见">
      <bpmn:extensionElements>
        <zeebe:formDefinition formKey="leader-review" />
        <zeebe:assignmentDefinition candidateGroups="=[&#34;${candidateGroup}&#34;]" />
        <zeebe:ioMapping>
          <zeebe:output source="=decision" target="officeDecision" />
          <zeebe:output source="=opinion" target="lastOpinion" />
        </zeebe:ioMapping>
      </bpmn:extensionElements>
      <bpmn:incoming>leader-approved-flow</bpmn:incoming>
      <bpmn:outgoing>f-office-gw</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="office-decision" name="保卫处意见" default="office-refused-flow">
      <bpmn:incoming>f-office-gw</bpmn:incoming>
      <bpmn:outgoing>office-approved-flow</bpmn:outgoing>
      <bpmn:outgoing>office-refused-flow</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f-office-gw" sourceRef="office-review" targetRef="office-decision" />
    <bpmn:sequenceFlow id="office-approved-flow" sourceRef="office-decision" targetRef="issue-pass">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=officeDecision = "approve"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="office-refused-flow" sourceRef="office-decision" targetRef="status-leader-refused" />
`;
  const changed = xml
    .replace('sourceRef="leader-decision" targetRef="issue-pass"', 'sourceRef="leader-decision" targetRef="office-review"')
    .replace('<bpmn:incoming>leader-approved-flow</bpmn:incoming>\n      <bpmn:outgoing>f-issue</bpmn:outgoing>', '<bpmn:incoming>office-approved-flow</bpmn:incoming>\n      <bpmn:outgoing>f-issue</bpmn:outgoing>')
    .replace('<bpmn:incoming>leader-refused-flow</bpmn:incoming>', '<bpmn:incoming>leader-refused-flow</bpmn:incoming>\n      <bpmn:incoming>office-refused-flow</bpmn:incoming>')
    .replace('</bpmn:process>', `${task}\n  </bpmn:process>`);
  if (changed.split('office-').length < 8) throw new Error('the bundled process changed: update processWithSecurityStep');
  return changed;
}

/** A process without diagram layout (as some tools export it): the import lays it out. */
export const PROCESS_WITHOUT_LAYOUT = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="defs-imported" targetNamespace="http://visitflow/test" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.5.0">
  <bpmn:process id="imported" name="导入的流程" isExecutable="true">
    <bpmn:startEvent id="start" name="开始"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="notify" />
    <bpmn:serviceTask id="notify" name="通知">
      <bpmn:extensionElements><zeebe:taskDefinition type="noop" /></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="f2" sourceRef="notify" targetRef="end" />
    <bpmn:endEvent id="end" name="结束"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>`;

/**
 * Each reviewer in turn approves their task of the application (claiming it first when it is a group task, as
 * the task page makes them; a host picks the first leader offered); the engine settles after each step.
 */
export async function approveThrough(server: TestServer, applicationId: number, steps: string[]) {
  for (const username of steps) {
    const { client } = await staffClient(server, username);
    const list = await onlyTask(client, username === 'sec-officer' ? 'unclaimed' : 'mine');
    const task = list.tasks.find((x: any) => x.application.id === applicationId);
    if (!task) throw new Error(`${username} has no task of application ${applicationId}: ${JSON.stringify(list)}`);
    const data: Record<string, unknown> = { decision: 'approve', opinion: '同意' };
    if (username.startsWith('host-')) data.leaderStaffId = String((await client.get(`/api/tasks/${task.id}`)).body.leaders[0].id);
    if (username === 'sec-officer') await ok(client.post(`/api/tasks/${task.id}/claim`));
    await ok(client.post(`/api/tasks/${task.id}/complete`, { data }));
    await server.settle();
  }
}
