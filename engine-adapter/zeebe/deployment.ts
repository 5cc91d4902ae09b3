// @ts-expect-error bpmn-moddle 10 ships its types under an export path its package.json does not map for NodeNext
import { BpmnModdle } from 'bpmn-moddle';
import zeebeSchema from 'zeebe-bpmn-moddle/resources/zeebe.json' with { type: 'json' };
import { DeploymentError } from '../contract.ts';

/** Job type of the end events the adapter gives a job: completing it ends the instance, and the adapter sees it. */
export const END_JOB_TYPE = 'visitflow.instance-end';

interface ModdleElement {
  $type: string;
  id?: string;
  name?: string;
  [key: string]: any;
}

export interface PreparedProcess {
  processId: string;
  name: string;
  /** element id -> name: a job carries no element name, and the task list shows it. */
  elementNames: Record<string, string>;
}

export interface PreparedDeployment {
  xml: string;
  processes: PreparedProcess[];
  /** Ids of `<zeebe:userTask/>` tasks turned into job-based user tasks. */
  convertedUserTasks: string[];
  /** Ids of none end events given a job so that the adapter sees the instance end. */
  endEvents: string[];
}

/**
 * Rewrites a model for the adapter, deterministically (the same input gives the same output, so Zeebe's
 * "identical resource is not a new version" still holds):
 * - `<zeebe:userTask/>` (Camunda user tasks) produce no job, so over gRPC they would never reach the task list:
 *   they become job-based user tasks, and a linked form (`formId`) becomes a `formKey` (visitflow's forms are
 *   Form.io documents the server renders, not Camunda forms the cluster must know).
 * - Every none end event of the process becomes a message end event with a job of type END_JOB_TYPE: without
 *   Operate nothing tells a gRPC client that an instance ended, and this job carries the final variables.
 */
export async function prepareDeployment(xml: string): Promise<PreparedDeployment> {
  const moddle = new BpmnModdle({ zeebe: zeebeSchema } as any);
  let parsed: { rootElement: ModdleElement };
  try {
    parsed = (await moddle.fromXML(xml)) as { rootElement: ModdleElement };
  } catch (err) {
    throw new DeploymentError([{ elementId: '(document)', message: `not a BPMN document: ${(err as Error).message}` }]);
  }
  const definitions = parsed.rootElement;
  const result: Omit<PreparedDeployment, 'xml'> = { processes: [], convertedUserTasks: [], endEvents: [] };
  for (const root of definitions.rootElements ?? []) {
    if (root.$type !== 'bpmn:Process') continue;
    const elementNames: Record<string, string> = {};
    convertUserTasks(root, elementNames, result.convertedUserTasks);
    for (const element of root.flowElements ?? []) {
      if (element.$type !== 'bpmn:EndEvent' || element.eventDefinitions?.length) continue;
      element.eventDefinitions = [moddle.create('bpmn:MessageEventDefinition', { id: `${element.id}-visitflow-end` })];
      element.extensionElements ??= moddle.create('bpmn:ExtensionElements', { values: [] });
      element.extensionElements.values ??= [];
      element.extensionElements.values.push(moddle.create('zeebe:TaskDefinition', { type: END_JOB_TYPE, retries: '3' }));
      result.endEvents.push(element.id!);
    }
    result.processes.push({ processId: root.id!, name: root.name ?? root.id!, elementNames });
  }
  if (!result.processes.length) throw new DeploymentError([{ elementId: '(document)', message: 'no bpmn:process in the document' }]);
  const { xml: out } = await moddle.toXML(definitions, { format: true });
  return { xml: out, ...result };
}

function convertUserTasks(container: ModdleElement, names: Record<string, string>, converted: string[]) {
  for (const element of container.flowElements ?? []) {
    if (element.id) names[element.id] = element.name ?? element.id;
    if (element.flowElements) convertUserTasks(element, names, converted);
    if (element.$type !== 'bpmn:UserTask') continue;
    const values: ModdleElement[] = element.extensionElements?.values ?? [];
    const index = values.findIndex((v) => v.$type === 'zeebe:UserTask');
    if (index < 0) continue;
    values.splice(index, 1);
    const form = values.find((v) => v.$type === 'zeebe:FormDefinition');
    if (form?.formId) {
      form.formKey = form.formId;
      form.formId = undefined;
    }
    converted.push(element.id!);
  }
}

/**
 * Zeebe rejects a bad model with INVALID_ARGUMENT and a text naming each element, e.g.
 * `'x.bpmn': - Element: flow-1 > conditionExpression\n    - ERROR: failed to parse expression ...`.
 */
export function deploymentErrorFrom(details: string): DeploymentError | undefined {
  const problems: Array<{ elementId: string; message: string }> = [];
  const pattern = /- Element: ([^\s>]+)[^\n]*\n((?:\s+- (?:ERROR|WARNING): [^\n]*\n?)+)/g;
  for (const match of details.matchAll(pattern)) {
    for (const line of match[2].split('\n')) {
      const error = /- ERROR: (.*)$/.exec(line.trim());
      if (error) problems.push({ elementId: match[1], message: error[1] });
    }
  }
  if (!problems.length && /INVALID_ARGUMENT|Expected to deploy new resources/.test(details))
    problems.push({ elementId: '(document)', message: details });
  return problems.length ? new DeploymentError(problems) : undefined;
}
