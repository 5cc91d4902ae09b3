// @ts-expect-error bpmn-moddle 10 ships its types under an export path its package.json does not map for NodeNext
import { BpmnModdle } from 'bpmn-moddle';
import zeebeSchema from 'zeebe-bpmn-moddle/resources/zeebe.json' with { type: 'json' };
import { badRequest } from '../errors.ts';

export interface ProcessForms {
  processId: string;
  name?: string;
  /** The start event's zeebe:formDefinition formKey/formId, if any. */
  startFormKey?: string;
  /** Every form key referenced by the process (start event and user tasks). */
  formKeys: string[];
}

/** Reads which Form.io forms each process of a BPMN document uses, so a deployment can pin their versions. */
export async function inspectBpmn(xml: string): Promise<ProcessForms[]> {
  const moddle = new BpmnModdle({ zeebe: zeebeSchema });
  let definitions: any;
  try {
    ({ rootElement: definitions } = await moddle.fromXML(xml, 'bpmn:Definitions'));
  } catch (err: any) {
    throw badRequest('BPMN_UNREADABLE', `BPMN 文件无法解析：${err.message}`);
  }
  const formKeyOf = (el: any): string | undefined => {
    const def = el.extensionElements?.values?.find((v: any) => v.$type === 'zeebe:FormDefinition');
    return def?.formKey ?? def?.formId ?? undefined;
  };
  const walk = (el: any, acc: ProcessForms) => {
    for (const child of el.flowElements ?? []) {
      const key = formKeyOf(child);
      if (key && !acc.formKeys.includes(key)) acc.formKeys.push(key);
      if (child.$type === 'bpmn:StartEvent' && key && el.$type === 'bpmn:Process') acc.startFormKey ??= key;
      if (child.flowElements) walk(child, acc);
    }
  };
  return (definitions.rootElements ?? [])
    .filter((e: any) => e.$type === 'bpmn:Process')
    .map((p: any) => {
      const acc: ProcessForms = { processId: p.id, name: p.name, formKeys: [] };
      walk(p, acc);
      return acc;
    });
}
