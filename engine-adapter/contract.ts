/**
 * The WorkflowEngine contract: what the server needs from a BPMN engine, whichever runs the process
 * (the embedded bpmn-engine or a Camunda 8 / Zeebe cluster). Keys are opaque decimal strings, as on Zeebe.
 *
 * Events (user task created/canceled, instance ended, incidents) are delivered at least once after the
 * state change that caused them has been committed: handlers must be idempotent (dedupe by key).
 */

export type Variables = Record<string, unknown>;

export interface DeployedProcess {
  /** The BPMN process id (bpmn:process/@id). */
  processId: string;
  name: string;
  version: number;
  /** Unique key of this process definition version. */
  key: string;
}

export interface UserTask {
  taskKey: string;
  instanceKey: string;
  processId: string;
  processVersion: number;
  processDefinitionKey: string;
  /** The BPMN element id of the user task. */
  elementId: string;
  name: string;
  assignee?: string;
  candidateGroups: string[];
  candidateUsers: string[];
  /** zeebe:formDefinition formKey or formId. */
  formKey?: string;
  /** ISO date-time, when the model sets zeebe:taskSchedule dueDate. */
  dueDate?: string;
  headers: Record<string, string>;
  variables: Variables;
}

export interface Job {
  /** Stable across redeliveries: use it to make handlers idempotent. */
  key: string;
  type: string;
  instanceKey: string;
  processId: string;
  elementId: string;
  headers: Record<string, string>;
  variables: Variables;
  retries: number;
}

export type JobHandler = (job: Job) => Promise<Variables | undefined | void>;

export interface WorkerOptions {
  /** Jobs of this type run at most this many at once in this process. */
  concurrency?: number;
}

/** Thrown by a job handler to raise a BPMN error caught by an error boundary event. */
export class BpmnError extends Error {
  constructor(
    public readonly errorCode: string,
    message?: string,
    public readonly variables: Variables = {},
  ) {
    super(message ?? errorCode);
    this.name = 'BpmnError';
  }
}

export type InstanceEndState = 'completed' | 'canceled' | 'terminated';

export interface InstanceEnded {
  instanceKey: string;
  processId: string;
  processVersion: number;
  state: InstanceEndState;
  variables: Variables;
}

export interface UserTaskCanceled {
  taskKey: string;
  instanceKey: string;
  elementId: string;
  reason: 'interrupted' | 'instance-canceled';
}

export interface Incident {
  key: string;
  instanceKey: string;
  elementId: string;
  jobKey?: string;
  type: string;
  message: string;
  createdAt: string;
}

export type InstanceStatus = 'active' | 'completed' | 'canceled' | 'terminated';

/** An instance as an admin page shows it: where it stands, where it has been, its variables and open incidents. */
export interface InstanceInfo {
  instanceKey: string;
  processId: string;
  processVersion: number;
  processDefinitionKey: string;
  status: InstanceStatus;
  /** Elements waiting now (user tasks, jobs, timers, message catch events), in no particular order. */
  currentElementIds: string[];
  /** Elements completed so far, in the order they completed (an element passed twice appears twice). */
  completedElementIds: string[];
  variables: Variables;
  incidents: Incident[];
  startedAt: string;
  endedAt?: string;
}

export interface StartOptions {
  /** Run a specific deployed version instead of the latest. */
  version?: number;
}

export interface WorkflowEngine {
  /** Validates and deploys a BPMN document; a changed document becomes a new version. */
  deploy(name: string, xml: string): Promise<DeployedProcess[]>;
  start(processId: string, variables: Variables, options?: StartOptions): Promise<{ instanceKey: string; version: number }>;
  onUserTaskCreated(handler: (task: UserTask) => Promise<void> | void): void;
  onUserTaskCanceled(handler: (event: UserTaskCanceled) => Promise<void> | void): void;
  /** Completes a waiting user task; a key that is not (or no longer) waiting throws TaskNotFoundError. */
  completeUserTask(taskKey: string, variables?: Variables): Promise<void>;
  registerWorker(type: string, handler: JobHandler, options?: WorkerOptions): void;
  publishMessage(name: string, correlationKey: string, variables?: Variables): Promise<void>;
  cancel(instanceKey: string): Promise<void>;
  onInstanceEnded(handler: (event: InstanceEnded) => Promise<void> | void): void;
  onIncident(handler: (incident: Incident) => Promise<void> | void): void;
  /** Incidents still open, optionally of one instance. */
  listIncidents(instanceKey?: string): Promise<Incident[]>;
  /**
   * Gives the failed job new retries and runs it again; for an incident raised while the instance moved
   * (e.g. a FEEL expression failed), replays the step that failed. Unknown or resolved keys throw EngineError.
   */
  resolveIncident(incidentKey: string, retries?: number): Promise<void>;
  /** Merges variables into the instance's process scope (Zeebe SetVariables), e.g. to fix an incident's cause. */
  setVariables(instanceKey: string, variables: Variables): Promise<void>;
  /** The instance's state for admin pages; undefined when the key is unknown. */
  getInstance(instanceKey: string): Promise<InstanceInfo | undefined>;
  close(): Promise<void>;
}

export class EngineError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export class TaskNotFoundError extends EngineError {
  constructor(taskKey: string) {
    super('TASK_NOT_FOUND', `user task ${taskKey} is not waiting (unknown or already completed)`);
  }
}

/** Deploy-time validation failure; elementId names the offending BPMN element. */
export class DeploymentError extends EngineError {
  constructor(
    public readonly problems: Array<{ elementId: string; message: string }>,
  ) {
    super('DEPLOYMENT_INVALID', problems.map((p) => `${p.elementId}: ${p.message}`).join('; '));
  }
}
