import { checkFeelSyntax } from '../feel.ts';
import { eventDefinitionOf, timerExpression } from './build-model.ts';
import { extension, extensionsOf, type ModdleContext, type ModdleElement } from './moddle.ts';

export interface Problem {
  elementId: string;
  message: string;
}

/** Element types the embedded engine runs; anything else fails the deployment instead of failing an instance. */
const SUPPORTED = new Set([
  'bpmn:StartEvent',
  'bpmn:EndEvent',
  'bpmn:IntermediateThrowEvent',
  'bpmn:IntermediateCatchEvent',
  'bpmn:BoundaryEvent',
  'bpmn:ExclusiveGateway',
  'bpmn:ParallelGateway',
  'bpmn:InclusiveGateway',
  'bpmn:UserTask',
  'bpmn:ServiceTask',
  'bpmn:SendTask',
  'bpmn:ScriptTask',
  'bpmn:Task',
  'bpmn:ManualTask',
  'bpmn:SequenceFlow',
  'bpmn:DataObject',
  'bpmn:DataObjectReference',
  'bpmn:DataStoreReference',
]);

const UNSUPPORTED_REASON: Record<string, string> = {
  'bpmn:CallActivity': 'call activities are not supported by the embedded engine',
  'bpmn:BusinessRuleTask': 'business rule tasks (DMN) are not supported by the embedded engine',
  'bpmn:SubProcess': 'sub-processes are not supported by the embedded engine',
  'bpmn:AdHocSubProcess': 'ad-hoc sub-processes are not supported by the embedded engine',
  'bpmn:Transaction': 'transactions are not supported by the embedded engine',
  'bpmn:ReceiveTask': 'receive tasks are not supported; use an intermediate message catch event',
  'bpmn:EventBasedGateway': 'event-based gateways are not supported by the embedded engine',
  'bpmn:ComplexGateway': 'complex gateways are not supported',
};

function feel(problems: Problem[], elementId: string, what: string, value: unknown) {
  if (typeof value !== 'string') return;
  const problem = checkFeelSyntax(value);
  if (problem) problems.push({ elementId, message: `${what}: ${problem}` });
}

function validateEvents(element: ModdleElement, problems: Problem[]) {
  const id = element.id!;
  const defs: ModdleElement[] = element.eventDefinitions ?? [];
  if (defs.length > 1) problems.push({ elementId: id, message: 'events with several event definitions are not supported' });
  const def = eventDefinitionOf(element);
  const type = def?.$type;
  switch (element.$type) {
    case 'bpmn:StartEvent':
      if (def) problems.push({ elementId: id, message: `${type} start events are not supported (only none start events)` });
      return;
    case 'bpmn:EndEvent':
      if (def && type !== 'bpmn:TerminateEventDefinition')
        problems.push({ elementId: id, message: `${type} end events are not supported (none or terminate only)` });
      return;
    case 'bpmn:IntermediateThrowEvent':
      if (def) problems.push({ elementId: id, message: `${type} throw events are not supported` });
      return;
    case 'bpmn:IntermediateCatchEvent':
    case 'bpmn:BoundaryEvent': {
      const allowed =
        element.$type === 'bpmn:BoundaryEvent'
          ? ['bpmn:TimerEventDefinition', 'bpmn:MessageEventDefinition', 'bpmn:ErrorEventDefinition']
          : ['bpmn:TimerEventDefinition', 'bpmn:MessageEventDefinition'];
      if (!def || !allowed.includes(type!)) {
        problems.push({ elementId: id, message: `${type ?? 'a none'} ${element.$type.slice(5)} is not supported` });
        return;
      }
      if (type === 'bpmn:TimerEventDefinition') {
        const timer = timerExpression(def);
        if (!timer) problems.push({ elementId: id, message: 'timer has no timeDuration or timeDate' });
        else if (timer.kind === 'timeCycle') problems.push({ elementId: id, message: 'timeCycle timers are not supported' });
        else feel(problems, id, timer.kind, timer.body);
      }
      if (type === 'bpmn:MessageEventDefinition') {
        const message = def.messageRef as ModdleElement | undefined;
        if (!message?.name) problems.push({ elementId: id, message: 'message catch event needs a message with a name' });
        const key = extension(message, 'zeebe:Subscription')?.correlationKey;
        if (!key) problems.push({ elementId: id, message: 'message needs a zeebe:subscription correlationKey' });
        feel(problems, id, 'message name', message?.name);
        feel(problems, id, 'correlationKey', key);
      }
      if (type === 'bpmn:ErrorEventDefinition' && element.cancelActivity === false)
        problems.push({ elementId: id, message: 'error boundary events are always interrupting' });
    }
  }
}

function validateZeebeExtensions(element: ModdleElement, problems: Problem[]) {
  const id = element.id!;
  for (const ext of extensionsOf(element)) {
    switch (ext.$type) {
      case 'zeebe:TaskDefinition':
        feel(problems, id, 'task type', ext.type);
        feel(problems, id, 'retries', ext.retries);
        break;
      case 'zeebe:AssignmentDefinition':
        feel(problems, id, 'assignee', ext.assignee);
        feel(problems, id, 'candidateGroups', ext.candidateGroups);
        feel(problems, id, 'candidateUsers', ext.candidateUsers);
        break;
      case 'zeebe:TaskSchedule':
        feel(problems, id, 'dueDate', ext.dueDate);
        break;
      case 'zeebe:IoMapping':
        for (const p of [...(ext.inputParameters ?? []), ...(ext.outputParameters ?? [])]) {
          if (!p.target) problems.push({ elementId: id, message: 'a mapping has no target' });
          feel(problems, id, `mapping to ${p.target}`, p.source);
        }
        break;
      case 'zeebe:ExecutionListeners':
        problems.push({ elementId: id, message: 'execution listeners are not supported by the embedded engine' });
        break;
      case 'zeebe:CalledDecision':
        problems.push({ elementId: id, message: 'DMN decisions are not supported by the embedded engine' });
        break;
      case 'zeebe:Script':
        problems.push({ elementId: id, message: 'zeebe:script is not supported; use a job worker' });
        break;
    }
  }
}

function validateElement(element: ModdleElement, problems: Problem[], flowsById: Map<string, ModdleElement>) {
  const id = element.id ?? '(no id)';
  const type = element.$type;
  if (!SUPPORTED.has(type)) {
    problems.push({ elementId: id, message: UNSUPPORTED_REASON[type] ?? `${type} is not supported by the embedded engine` });
    return;
  }
  if (element.loopCharacteristics) {
    problems.push({ elementId: id, message: 'multi-instance and loop activities are not supported by the embedded engine' });
  }
  validateZeebeExtensions(element, problems);
  if (type.endsWith('Event')) validateEvents(element, problems);
  if (type === 'bpmn:ServiceTask' || type === 'bpmn:SendTask' || type === 'bpmn:ScriptTask') {
    if (!extension(element, 'zeebe:TaskDefinition')?.type)
      problems.push({ elementId: id, message: 'a job task needs a zeebe:taskDefinition type' });
  }
  if (type === 'bpmn:SequenceFlow') {
    const condition = element.conditionExpression;
    if (condition) {
      const body = String(condition.body ?? '').trim();
      if (condition.language && condition.language.toLowerCase() !== 'feel')
        problems.push({ elementId: id, message: `condition language ${condition.language} is not supported (FEEL only)` });
      else if (!body.startsWith('=')) problems.push({ elementId: id, message: 'a condition must be a FEEL expression starting with =' });
      else feel(problems, id, 'condition', body);
    }
  }
  if (type === 'bpmn:ExclusiveGateway' || type === 'bpmn:InclusiveGateway') {
    const outgoing: ModdleElement[] = element.outgoing ?? [];
    if (outgoing.length > 1) {
      for (const flow of outgoing) {
        const full = flowsById.get(flow.id!) ?? flow;
        if (full !== element.default && !full.conditionExpression)
          problems.push({ elementId: flow.id!, message: `flow leaving gateway ${id} needs a condition or must be the default flow` });
      }
    }
  }
}

/** All problems of a document; an empty list means every element will run. */
export function validateDefinitions(context: ModdleContext): Problem[] {
  const problems: Problem[] = [];
  for (const w of context.warnings) {
    problems.push({ elementId: w.element?.id ?? '(document)', message: w.message });
  }
  const processes = (context.rootElement.rootElements ?? []).filter((e: ModdleElement) => e.$type === 'bpmn:Process');
  const executable = processes.filter((p: ModdleElement) => p.isExecutable !== false);
  if (executable.length === 0) problems.push({ elementId: '(document)', message: 'no executable bpmn:process' });
  if (executable.length > 1)
    problems.push({ elementId: executable[1].id, message: 'one executable process per document (deploy them separately)' });
  for (const process of executable) {
    const flowElements: ModdleElement[] = process.flowElements ?? [];
    const flowsById = new Map(flowElements.filter((e) => e.$type === 'bpmn:SequenceFlow').map((e) => [e.id!, e]));
    const starts = flowElements.filter((e) => e.$type === 'bpmn:StartEvent');
    if (!starts.length) problems.push({ elementId: process.id, message: 'the process has no start event' });
    // Zeebe allows one none start event per process; the executor starts every instance at it.
    for (const extra of starts.filter((e) => !e.eventDefinitions?.length).slice(1))
      problems.push({ elementId: extra.id!, message: 'a process has one none start event' });
    for (const flow of flowsById.values()) {
      const target = flow.targetRef as ModdleElement | undefined;
      if (target?.$type === 'bpmn:StartEvent' || target?.$type === 'bpmn:BoundaryEvent')
        problems.push({ elementId: flow.id!, message: `a sequence flow cannot lead into ${target.$type.slice(5)} ${target.id}` });
    }
    for (const element of flowElements) validateElement(element, problems, flowsById);
  }
  return problems;
}
