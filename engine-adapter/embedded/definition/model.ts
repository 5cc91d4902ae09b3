/**
 * What the adapter needs to know about a process, read once per deployed version from the moddle tree.
 * bpmn-engine runs the flow; everything Zeebe-specific (zeebe:* extensions, FEEL, message names) lives here.
 */

/** How an element waits for the outside world; elements without one run straight through. */
export type WaitKind = 'user-task' | 'job' | 'timer' | 'message';

export interface Mapping {
  source: string;
  target: string;
}

export interface ElementModel {
  id: string;
  type: string;
  name?: string;
  wait?: WaitKind;
  job?: { type: string; retries: string };
  headers: Record<string, string>;
  assignment?: { assignee?: string; candidateGroups?: string; candidateUsers?: string };
  formKey?: string;
  dueDate?: string;
  inputs: Mapping[];
  /** undefined: no output mappings, all result variables reach the process scope (Zeebe semantics). */
  outputs?: Mapping[];
  message?: { name: string; correlationKey: string };
  /** Error codes caught by error boundary events attached to this activity; null catches every code. */
  errorCatches: Array<string | null>;
}

export interface ProcessModel {
  processId: string;
  name: string;
  startFormKey?: string;
  elements: Map<string, ElementModel>;
}
