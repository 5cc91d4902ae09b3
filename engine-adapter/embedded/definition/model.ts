/**
 * What the executor needs to know about a process, read once per deployed version from the moddle tree: a
 * plain transition table (element id -> kind, outgoing flows, conditions, mappings, timers, job types, forms).
 * Everything Zeebe-specific (zeebe:* extensions, FEEL, message names) is resolved here, not at run time.
 */

/** How an element waits for the outside world; elements without one run straight through. */
export type WaitKind = 'user-task' | 'job' | 'timer' | 'message';

/** The BPMN concept an element executes as (several BPMN types share one behaviour). */
export type ElementKind =
  | 'startEvent'
  | 'endEvent'
  | 'terminateEndEvent'
  /** Tasks without behaviour, none throw events: enter, apply mappings, leave. */
  | 'passThrough'
  | 'userTask'
  | 'jobTask'
  | 'intermediateCatchEvent'
  | 'boundaryEvent'
  | 'exclusiveGateway'
  | 'parallelGateway'
  | 'inclusiveGateway';

export interface Mapping {
  source: string;
  target: string;
}

export interface SequenceFlowModel {
  id: string;
  targetId: string;
  /** A FEEL condition (`=...`); undefined for an unconditional flow. */
  condition?: string;
}

export interface TimerDefinition {
  kind: 'timeDuration' | 'timeDate';
  /** ISO 8601 text or a FEEL expression giving one. */
  body: string;
}

export interface ElementModel {
  id: string;
  type: string;
  kind: ElementKind;
  name?: string;
  wait?: WaitKind;
  /** Sequence flow ids coming in. */
  incoming: string[];
  /** Sequence flows going out, in document order (the order Zeebe evaluates conditions in). */
  outgoing: SequenceFlowModel[];
  /** Gateways: the flow taken when no condition holds. */
  defaultFlow?: string;
  /** Activities: the boundary events attached to them. */
  boundaryEvents: string[];
  /** Boundary events: the activity they are attached to, and whether firing interrupts it. */
  attachedTo?: string;
  cancelActivity?: boolean;
  /** Error boundary events: the caught code (null catches every code). */
  errorCode?: string | null;
  timer?: TimerDefinition;
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
  /** Inclusive joins: the elements a token can stand on and still reach this gateway. */
  reachableFrom?: Set<string>;
}

export interface ProcessModel {
  processId: string;
  name: string;
  startFormKey?: string;
  /** The none start event every instance starts at. */
  startEventId: string;
  elements: Map<string, ElementModel>;
}
