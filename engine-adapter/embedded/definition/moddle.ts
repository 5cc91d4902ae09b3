// @ts-expect-error bpmn-moddle 10 ships its types under an export path its package.json does not map for NodeNext
import { BpmnModdle } from 'bpmn-moddle';
import zeebeSchema from 'zeebe-bpmn-moddle/resources/zeebe.json' with { type: 'json' };
import { DeploymentError } from '../../contract.ts';

/** The parts of a bpmn-moddle element the adapter reads; moddle itself is untyped. */
export interface ModdleElement {
  $type: string;
  id?: string;
  name?: string;
  [key: string]: any;
}

export interface ModdleContext {
  rootElement: ModdleElement;
  elementsById: Record<string, ModdleElement>;
  warnings: Array<{ message: string; element?: ModdleElement }>;
  references: unknown[];
}

/** Camunda 7 (camunda:*) attributes are not in the schema, so moddle keeps them aside in $attrs and nothing reads them. */
export async function parseBpmn(xml: string): Promise<ModdleContext> {
  const moddle = new BpmnModdle({ zeebe: zeebeSchema } as any);
  try {
    return (await moddle.fromXML(xml)) as unknown as ModdleContext;
  } catch (err) {
    throw new DeploymentError([{ elementId: '(document)', message: `not a BPMN document: ${(err as Error).message}` }]);
  }
}

export function extensionsOf(element: ModdleElement | undefined): ModdleElement[] {
  return element?.extensionElements?.values ?? [];
}

export function extension(element: ModdleElement | undefined, type: string): ModdleElement | undefined {
  return extensionsOf(element).find((e) => e.$type === type);
}
