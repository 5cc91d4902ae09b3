import type { Clock } from '../clock.ts';
import type { UserTask, Variables } from '../contract.ts';
import type { DeployedDefinition } from './definition/deploy.ts';
import type { ElementModel } from './definition/model.ts';
import { evaluateFeel, evaluateList, evaluateOptionalString, FeelError } from './feel.ts';
import type { PendingWait } from './execution/process-execution.ts';
import { dueAt } from './timer.ts';
import { applyInputs, atElement } from './variables.ts';

export interface WaitRow {
  key: string;
  instance_key: string;
  element_id: string;
  execution_id: string;
  kind: 'user-task' | 'job' | 'timer' | 'message';
  state: 'open' | 'activated' | 'failed' | 'consumed';
  job_type: string | null;
  retries: number | null;
  due_at: Date | null;
  claimed_until: Date | null;
  message_name: string | null;
  correlation_key: string | null;
  payload: WaitPayload;
  created_at: Date;
}

export interface WaitPayload {
  /** Local variables from input mappings, kept for the output mappings at completion. */
  locals: Variables;
  task?: UserTask;
  job?: { processId: string; headers: Record<string, string>; variables: Variables; retries: number };
}

export interface WaitContext {
  key: string;
  instanceKey: string;
  definition: DeployedDefinition;
  variables: Variables;
  clock: Clock;
}

/** The row (and, for a user task, the task event) for an element that just started waiting. */
export function buildWait(pending: PendingWait, element: ElementModel, ctx: WaitContext): WaitRow {
  const now = ctx.clock.now();
  const locals = applyInputs(element, ctx.variables);
  const scope = { ...ctx.variables, ...locals };
  const row: WaitRow = {
    key: ctx.key,
    instance_key: ctx.instanceKey,
    element_id: element.id,
    execution_id: pending.executionId,
    kind: pending.kind,
    state: 'open',
    job_type: null,
    retries: null,
    due_at: null,
    claimed_until: null,
    message_name: null,
    correlation_key: null,
    payload: { locals },
    created_at: now,
  };
  atElement(element.id, () => {
    switch (pending.kind) {
      case 'user-task':
        row.payload.task = buildUserTask(element, scope, ctx);
        break;
      case 'job': {
        const type = evaluateOptionalString(element.job!.type, scope);
        if (!type) throw new FeelError(element.job!.type, 'the job type evaluated to nothing');
        const retries = Number(evaluateFeel(element.job!.retries, scope));
        row.job_type = type;
        row.retries = Number.isInteger(retries) && retries > 0 ? retries : 3;
        row.due_at = now;
        row.payload.job = {
          processId: ctx.definition.processId,
          headers: element.headers,
          variables: scope,
          retries: row.retries,
        };
        break;
      }
      case 'timer':
        row.due_at = dueAt(pending.timer, now);
        break;
      case 'message': {
        row.message_name = evaluateOptionalString(element.message!.name, scope) ?? null;
        const key = evaluateFeel(element.message!.correlationKey, scope);
        if (key === null || key === undefined || typeof key === 'object')
          throw new FeelError(element.message!.correlationKey, `the correlation key must be a string or number, got ${JSON.stringify(key)}`);
        row.correlation_key = String(key);
        break;
      }
    }
  });
  return row;
}

function buildUserTask(element: ElementModel, scope: Variables, ctx: WaitContext): UserTask {
  const due = evaluateOptionalString(element.dueDate, scope);
  const task: UserTask = {
    taskKey: ctx.key,
    instanceKey: ctx.instanceKey,
    processId: ctx.definition.processId,
    processVersion: ctx.definition.version,
    processDefinitionKey: ctx.definition.key,
    elementId: element.id,
    name: element.name ?? element.id,
    candidateGroups: evaluateList(element.assignment?.candidateGroups, scope),
    candidateUsers: evaluateList(element.assignment?.candidateUsers, scope),
    headers: element.headers,
    variables: scope,
  };
  const assignee = evaluateOptionalString(element.assignment?.assignee, scope);
  if (assignee) task.assignee = assignee;
  if (element.formKey) task.formKey = element.formKey;
  if (due) {
    const date = new Date(due);
    if (Number.isNaN(date.getTime())) throw new FeelError(element.dueDate!, `dueDate ${JSON.stringify(due)} is not a date-time`);
    task.dueDate = date.toISOString();
  }
  return task;
}
