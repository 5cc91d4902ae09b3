import type { ElementModel, Mapping, ProcessModel, WaitKind } from './model.ts';
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
    name: element.name,
    wait: waitKindOf(element),
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
  const def = eventDefinitionOf(element);
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
  for (const element of flowElements) {
    if (element.$type !== 'bpmn:BoundaryEvent') continue;
    const def = eventDefinitionOf(element);
    if (def?.$type !== 'bpmn:ErrorEventDefinition') continue;
    const attached = elements.get(element.attachedToRef?.id);
    attached?.errorCatches.push(def.errorRef?.errorCode ?? null);
  }
  const start = flowElements.find((e) => e.$type === 'bpmn:StartEvent');
  const startForm = start && extension(start, 'zeebe:FormDefinition');
  return {
    processId: process.id!,
    name: process.name ?? process.id!,
    startFormKey: startForm?.formKey ?? startForm?.formId,
    elements,
  };
}
