import crypto from 'node:crypto';
import { DeploymentError } from '../../contract.ts';
import { buildProcessModel } from './build-model.ts';
import type { ProcessModel } from './model.ts';
import { type ModdleElement, parseBpmn } from './moddle.ts';
import { validateDefinitions } from './validate.ts';

export interface CompiledProcess {
  processId: string;
  name: string;
  /** The transition table every instance of this version runs on; built once per deployed version. */
  model: ProcessModel;
  checksum: string;
}

export function checksumOf(xml: string): string {
  return crypto.createHash('sha256').update(xml).digest('hex');
}

/** The executable bpmn:process of a parsed document (validation guarantees there is exactly one). */
export function executableProcess(rootElements: ModdleElement[]): ModdleElement {
  return rootElements.find((e) => e.$type === 'bpmn:Process' && e.isExecutable !== false)!;
}

/** Parses, validates and compiles a document; throws DeploymentError naming the offending elements. */
export async function compileBpmn(xml: string): Promise<CompiledProcess> {
  const context = await parseBpmn(xml);
  const problems = validateDefinitions(context);
  if (problems.length) throw new DeploymentError(problems);
  const model = buildProcessModel(executableProcess(context.rootElement.rootElements as ModdleElement[]));
  return { processId: model.processId, name: model.name, model, checksum: checksumOf(xml) };
}
