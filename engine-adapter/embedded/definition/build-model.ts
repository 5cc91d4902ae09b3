import type { ElementKind, ElementModel, Mapping, ProcessModel, SequenceFlowModel, WaitKind } from './model.ts';
import { extension, type ModdleElement } from './moddle.ts';

const JOB_TASKS = new Set(['bpmn:ServiceTask', 'bpmn:SendTask', 'bpmn:ScriptTask']);

function mappings(list: ModdleElement[] | undefined): Mapping[] {
  return (list ?? []).map((p) => ({ source: p.source ?? '', target: p.target ?? '' }));
}

export function eventDefinitionOf(element: ModdleElement): ModdleElement | undefined {
  return element.eventDefinitions?.[0];
}

export function timerExpression(definition: ModdleElement): { kind: 'timeDuration' | 'timeDate' | 'timeCycle'; body: string } | undefined {
  for (const kind of ['timeDuration', 'timeDate', 'timeCycle'] as const) {
    const body = definition[kind]?.body;
    if (typeof body === 'string') return { kind, body: body.trim() };
  }
  return undefined;
}

function waitKindOf(element: ModdleElement): WaitKind | undefined {
  if (element.$type === 'bpmn:UserTask') return 'user-task';
  if (JOB_TASKS.has(element.$type)) return 'job';
  if (element.$type === 'bpmn:IntermediateCatchEvent' || element.$type === 'bpmn:BoundaryEvent') {
    const def = eventDefinitionOf(element);
    if (def?.$type === 'bpmn:TimerEventDefinition') return 'timer';
    if (def?.$type === 'bpmn:MessageEventDefinition') return 'message';
  }
  return undefined;
}

const PASS_THROUGH = new Set(['bpmn:Task', 'bpmn:ManualTask', 'bpmn:IntermediateThrowEvent']);

function kindOf(element: ModdleElement): ElementKind {
  const type = element.$type;
  if (type === 'bpmn:UserTask') return 'userTask';
  if (JOB_TASKS.has(type)) return 'jobTask';
  if (PASS_THROUGH.has(type)) return 'passThrough';
  if (type === 'bpmn:EndEvent')
    return eventDefinitionOf(element)?.$type === 'bpmn:TerminateEventDefinition' ? 'terminateEndEvent' : 'endEvent';
  const kinds: Record<string, ElementKind> = {
    'bpmn:StartEvent': 'startEvent',
    'bpmn:IntermediateCatchEvent': 'intermediateCatchEvent',
    'bpmn:BoundaryEvent': 'boundaryEvent',
    'bpmn:ExclusiveGateway': 'exclusiveGateway',
    'bpmn:ParallelGateway': 'parallelGateway',
    'bpmn:InclusiveGateway': 'inclusiveGateway',
  };
  // The validator refuses every other type before a model is built.
  return kinds[type] ?? 'passThrough';
}

function flowModel(flow: ModdleElement): SequenceFlowModel {
  const model: SequenceFlowModel = { id: flow.id!, targetId: flow.targetRef?.id };
  const body = flow.conditionExpression?.body;
  if (typeof body === 'string' && body.trim()) model.condition = body.trim();
  return model;
}

function elementModel(element: ModdleElement): ElementModel {
  const io = extension(element, 'zeebe:IoMapping');
  const taskDefinition = extension(element, 'zeebe:TaskDefinition');
  const headers: Record<string, string> = {};
  for (const h of extension(element, 'zeebe:TaskHeaders')?.values ?? []) headers[h.key] = h.value ?? '';
  const assignment = extension(element, 'zeebe:AssignmentDefinition');
  const form = extension(element, 'zeebe:FormDefinition');
  const model: ElementModel = {
    id: element.id!,
    type: element.$type,
    kind: kindOf(element),
    name: element.name,
    wait: waitKindOf(element),
    incoming: [],
    outgoing: [],
    boundaryEvents: [],
    headers,
    inputs: mappings(io?.inputParameters),
    outputs: io?.outputParameters?.length ? mappings(io.outputParameters) : undefined,
    errorCatches: [],
  };
  if (taskDefinition) model.job = { type: taskDefinition.type ?? '', retries: taskDefinition.retries ?? '3' };
  if (assignment)
    model.assignment = {
      assignee: assignment.assignee,
      candidateGroups: assignment.candidateGroups,
      candidateUsers: assignment.candidateUsers,
    };
  if (form) model.formKey = form.formKey ?? form.formId;
  const schedule = extension(element, 'zeebe:TaskSchedule');
  if (schedule?.dueDate) model.dueDate = schedule.dueDate;
  if (element.default) model.defaultFlow = element.default.id;
  const def = eventDefinitionOf(element);
  if (element.$type === 'bpmn:BoundaryEvent') {
    model.attachedTo = element.attachedToRef?.id;
    model.cancelActivity = element.cancelActivity !== false;
    if (def?.$type === 'bpmn:ErrorEventDefinition') model.errorCode = def.errorRef?.errorCode ?? null;
  }
  if (def?.$type === 'bpmn:TimerEventDefinition') {
    const timer = timerExpression(def);
    if (timer && timer.kind !== 'timeCycle') model.timer = { kind: timer.kind, body: timer.body };
  }
  if (model.wait === 'message' && def?.messageRef) {
    const message = def.messageRef as ModdleElement;
    model.message = {
      name: message.name ?? message.id ?? '',
      correlationKey: extension(message, 'zeebe:Subscription')?.correlationKey ?? '',
    };
  }
  return model;
}

/** Builds the adapter's view of one bpmn:process (assumed valid). */
export function buildProcessModel(process: ModdleElement): ProcessModel {
  const elements = new Map<string, ElementModel>();
  const flowElements: ModdleElement[] = process.flowElements ?? [];
  for (const element of flowElements) {
    if (element.$type === 'bpmn:SequenceFlow') continue;
    elements.set(element.id!, elementModel(element));
  }
  // Flows by their sourceRef/targetRef: a document need not list <bpmn:incoming>/<bpmn:outgoing> on its elements.
  // An element's listed outgoing order comes first (the order Zeebe evaluates conditions in), then document order.
  const flows = flowElements.filter((e) => e.$type === 'bpmn:SequenceFlow');
  for (const source of flowElements) {
    const element = elements.get(source.id!);
    if (!element) continue;
    const listed: string[] = (source.outgoing ?? []).map((f: ModdleElement) => f.id!);
    const leaving = flows.filter((f) => f.sourceRef?.id === source.id);
    leaving.sort((a, b) => rank(listed, a.id!) - rank(listed, b.id!));
    element.outgoing = leaving.map(flowModel);
    element.incoming = flows.filter((f) => f.targetRef?.id === source.id).map((f) => f.id!);
  }
  for (const boundary of elements.values()) {
    if (boundary.kind !== 'boundaryEvent') continue;
    const attached = elements.get(boundary.attachedTo!);
    if (!attached) continue;
    attached.boundaryEvents.push(boundary.id);
    if (boundary.errorCode !== undefined) attached.errorCatches.push(boundary.errorCode);
  }
  for (const element of elements.values())
    if (element.kind === 'inclusiveGateway' && element.incoming.length > 1) element.reachableFrom = reachingElements(elements, element.id);
  const start = flowElements.find((e) => e.$type === 'bpmn:StartEvent' && !eventDefinitionOf(e));
  const startForm = start && extension(start, 'zeebe:FormDefinition');
  return {
    processId: process.id!,
    name: process.name ?? process.id!,
    startFormKey: startForm?.formKey ?? startForm?.formId,
    startEventId: start?.id ?? '',
    elements,
  };
}

function rank(listed: string[], id: string): number {
  const at = listed.indexOf(id);
  return at < 0 ? listed.length : at;
}

/**
 * The elements from which a token can still arrive at `targetId` (walking the flows backwards; a boundary event
 * is reachable from the activity it is attached to). An inclusive join fires once no other token stands on one.
 */
function reachingElements(elements: Map<string, ElementModel>, targetId: string): Set<string> {
  const sources = new Map<string, string[]>();
  for (const element of elements.values()) {
    for (const flow of element.outgoing) sources.set(flow.targetId, [...(sources.get(flow.targetId) ?? []), element.id]);
    if (element.attachedTo) sources.set(element.id, [...(sources.get(element.id) ?? []), element.attachedTo]);
  }
  const seen = new Set<string>();
  const stack = [...(sources.get(targetId) ?? [])];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(sources.get(id) ?? []));
  }
  return seen;
}
