import test from 'ava';
import { DeploymentError } from '../../engine-adapter/contract.ts';
import { deploymentErrorFrom, END_JOB_TYPE, prepareDeployment } from '../../engine-adapter/zeebe/deployment.ts';
import { toUserTask } from '../../engine-adapter/zeebe/user-task-worker.ts';
import { fixture, visitPassXml } from '../engine-contract/harness.ts';

test('a <zeebe:userTask/> becomes a job-based user task, and its linked form a formKey', async (t) => {
  const prepared = await prepareDeployment(fixture('camunda-user-task.bpmn'));
  t.deepEqual(prepared.convertedUserTasks, ['review']);
  t.false(prepared.xml.includes('<zeebe:userTask'));
  t.regex(prepared.xml, /<zeebe:formDefinition formKey="review-form"/);
  t.false(prepared.xml.includes('formId='));
  t.regex(prepared.xml, /<zeebe:assignmentDefinition assignee="=reviewer"/, 'assignment stays for the job headers');
});

test('every none end event of the default flow gets the end job; the document is otherwise unchanged', async (t) => {
  const prepared = await prepareDeployment(visitPassXml);
  t.deepEqual(prepared.endEvents.sort(), ['end-approved', 'end-expired', 'end-host-refused', 'end-leader-refused', 'end-security-refused']);
  t.is(prepared.xml.split(`type="${END_JOB_TYPE}"`).length - 1, 5);
  t.is(prepared.processes[0].elementNames['host-review'], '到访部门接待人意见');
  t.regex(prepared.xml, /<bpmn:boundaryEvent id="host-review-timeout"/);
  const again = await prepareDeployment(visitPassXml);
  t.is(again.xml, prepared.xml, 'deterministic: Zeebe sees an identical resource, not a new version');
});

test("Zeebe's deployment rejection becomes a DeploymentError naming each element", (t) => {
  const details =
    "Command 'CREATE' rejected with code 'INVALID_ARGUMENT': Expected to deploy new resources, but encountered the following errors:\n" +
    "'bad.bpmn': - Element: broken-condition > conditionExpression\n    - ERROR: failed to parse expression 'amount >'\n" +
    '- Element: task-1\n    - ERROR: Must have exactly one zeebe:taskDefinition extension element\n';
  const error = deploymentErrorFrom(details);
  t.true(error instanceof DeploymentError);
  t.deepEqual(
    error!.problems.map((p) => p.elementId),
    ['broken-condition', 'task-1'],
  );
});

test('a user-task job becomes a UserTask: candidate groups from the JSON array header, due date normalised', (t) => {
  const task = toUserTask(
    {
      key: '2251799813685300',
      type: 'io.camunda.zeebe:userTask',
      processInstanceKey: '2251799813685290',
      bpmnProcessId: 'visit-pass',
      processDefinitionVersion: 3,
      processDefinitionKey: '2251799813685001',
      elementId: 'host-review',
      customHeaders: {
        'io.camunda.zeebe:assignee': 'staff-host-7',
        'io.camunda.zeebe:candidateGroups': '["dept-12","guards"]',
        'io.camunda.zeebe:formKey': 'host-review',
        'io.camunda.zeebe:dueDate': '2026-12-05T10:00:00Z',
        priority: 'high',
      },
      variables: { applicationId: 'app-1' },
      retries: 1,
    },
    '到访部门接待人意见',
  );
  t.deepEqual(task.candidateGroups, ['dept-12', 'guards']);
  t.deepEqual(task.candidateUsers, []);
  t.is(task.assignee, 'staff-host-7');
  t.is(task.formKey, 'host-review');
  t.is(task.dueDate, '2026-12-05T10:00:00.000Z');
  t.deepEqual(task.headers, { priority: 'high' });
  t.is(task.processVersion, 3);
  t.is(task.name, '到访部门接待人意见');
});

test('connection settings follow the SDK names, from the environment or the parsed server config', async (t) => {
  const { connectionFromEnv, sdkConfig } = await import('../../engine-adapter/zeebe/config.ts');
  t.is(connectionFromEnv({}), undefined);
  t.deepEqual(connectionFromEnv({ ZEEBE_ADDRESS: 'zeebe:26500', ZEEBE_INSECURE_CONNECTION: true }), { address: 'zeebe:26500', plaintext: true });
  const saas = connectionFromEnv({
    ZEEBE_ADDRESS: 'abc.bru-2.zeebe.camunda.io:443',
    ZEEBE_CLIENT_ID: 'id',
    ZEEBE_CLIENT_SECRET: 'secret',
    CAMUNDA_OAUTH_URL: 'https://login.cloud.camunda.io/oauth/token',
    CAMUNDA_ZEEBE_OAUTH_AUDIENCE: 'zeebe.camunda.io',
  })!;
  const config = sdkConfig(saas, 10_000);
  t.is(config.ZEEBE_GRPC_ADDRESS, 'grpcs://abc.bru-2.zeebe.camunda.io:443', 'OAuth implies TLS');
  t.is(config.CAMUNDA_AUTH_STRATEGY, 'OAUTH');
  t.is(config.ZEEBE_CLIENT_SECRET, 'secret');
  t.is(sdkConfig({ address: 'localhost:26500' }, 10_000).ZEEBE_GRPC_ADDRESS, 'grpc://localhost:26500');
  t.is(sdkConfig({ address: 'localhost:26500' }, 10_000).CAMUNDA_AUTH_STRATEGY, 'NONE');
});
