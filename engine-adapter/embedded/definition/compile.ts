import crypto from 'node:crypto';
import * as Elements from 'bpmn-elements';
import Serializer, { TypeResolver } from 'moddle-context-serializer';
import { DeploymentError } from '../../contract.ts';
import { buildProcessModel } from './build-model.ts';
import type { ProcessModel } from './model.ts';
import { type ModdleElement, parseBpmn } from './moddle.ts';
import { validateDefinitions } from './validate.ts';

/**
 * Job tasks become bpmn-elements signal tasks: they wait like user tasks, so a job survives as plain state
 * and completes by a signal in a later command, instead of as a callback that dies with the engine object.
 */
export const typeResolver = TypeResolver(Elements as any, (types: Record<string, unknown>) => {
  types['bpmn:ServiceTask'] = Elements.SignalTask;
  types['bpmn:SendTask'] = Elements.SignalTask;
  types['bpmn:ScriptTask'] = Elements.SignalTask;
  types['bpmn:ManualTask'] = Elements.Task;
});

export interface CompiledProcess {
  processId: string;
  name: string;
  model: ProcessModel;
  /** The serialised moddle context bpmn-engine runs; built once and shared by every instance of a version. */
  sourceContext: unknown;
  checksum: string;
}

export function checksumOf(xml: string): string {
  return crypto.createHash('sha256').update(xml).digest('hex');
}

/** Parses, validates and prepares a document; throws DeploymentError naming the offending elements. */
export async function compileBpmn(xml: string): Promise<CompiledProcess> {
  const context = await parseBpmn(xml);
  const problems = validateDefinitions(context);
  if (problems.length) throw new DeploymentError(problems);
  const process = (context.rootElement.rootElements as ModdleElement[]).find(
    (e) => e.$type === 'bpmn:Process' && e.isExecutable !== false,
  )!;
  const model = buildProcessModel(process);
  let sourceContext: unknown;
  try {
    sourceContext = Serializer(context as any, typeResolver);
  } catch (err) {
    throw new DeploymentError([{ elementId: '(document)', message: (err as Error).message }]);
  }
  return { processId: model.processId, name: model.name, model, sourceContext, checksum: checksumOf(xml) };
}
