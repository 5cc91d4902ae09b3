import type { UserTask, Variables } from '../contract.ts';

/** The job type Zeebe gives job-based user tasks, and the headers it fills from the model. */
export const USER_TASK_JOB_TYPE = 'io.camunda.zeebe:userTask';
export const USER_TASK_HEADERS = {
  assignee: 'io.camunda.zeebe:assignee',
  candidateGroups: 'io.camunda.zeebe:candidateGroups',
  candidateUsers: 'io.camunda.zeebe:candidateUsers',
  formKey: 'io.camunda.zeebe:formKey',
  dueDate: 'io.camunda.zeebe:dueDate',
  followUpDate: 'io.camunda.zeebe:followUpDate',
} as const;

/** The fields of an activated job the adapter reads (the SDK's Job, without its action methods). */
export interface ActivatedJobLike {
  key: string;
  type: string;
  processInstanceKey: string;
  bpmnProcessId: string;
  processDefinitionVersion: number;
  processDefinitionKey: string;
  elementId: string;
  customHeaders: Record<string, unknown>;
  variables: Record<string, unknown>;
  retries: number;
}

/** Mirrors a user-task job as the contract's UserTask; the header values are JSON arrays for the lists. */
export function toUserTask(job: ActivatedJobLike, elementName: string | undefined): UserTask {
  const headers: Record<string, string> = {};
  const zeebeHeaders: Record<string, string> = {};
  for (const [key, value] of Object.entries(job.customHeaders ?? {})) {
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (key.startsWith('io.camunda.zeebe:')) zeebeHeaders[key] = text;
    else headers[key] = text;
  }
  const task: UserTask = {
    taskKey: job.key,
    instanceKey: job.processInstanceKey,
    processId: job.bpmnProcessId,
    processVersion: Number(job.processDefinitionVersion),
    processDefinitionKey: job.processDefinitionKey,
    elementId: job.elementId,
    name: elementName ?? job.elementId,
    candidateGroups: list(zeebeHeaders[USER_TASK_HEADERS.candidateGroups]),
    candidateUsers: list(zeebeHeaders[USER_TASK_HEADERS.candidateUsers]),
    headers,
    variables: plainVariables(job.variables),
  };
  const assignee = zeebeHeaders[USER_TASK_HEADERS.assignee];
  if (assignee) task.assignee = assignee;
  const formKey = zeebeHeaders[USER_TASK_HEADERS.formKey];
  if (formKey) task.formKey = formKey;
  const due = zeebeHeaders[USER_TASK_HEADERS.dueDate];
  if (due && !Number.isNaN(Date.parse(due))) task.dueDate = new Date(due).toISOString();
  return task;
}

function list(header: string | undefined): string[] {
  if (!header) return [];
  try {
    const parsed = JSON.parse(header);
    if (Array.isArray(parsed)) return parsed.map(String);
  } catch {
    // Older gateways sent a comma-separated list.
  }
  return header
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The SDK parses numbers losslessly (LosslessNumber objects); the contract speaks plain JSON. */
export function plainVariables(variables: Record<string, unknown> | undefined): Variables {
  return JSON.parse(JSON.stringify(variables ?? {}, (_key, value) => (value && typeof value === 'object' && value.isLosslessNumber ? Number(value.value) : value)));
}
