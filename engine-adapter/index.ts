import type { WorkflowEngine } from './contract.ts';
import { createEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions } from './embedded/embedded-engine.ts';
import type { EngineLogger } from './embedded/logger.ts';

export * from './contract.ts';
export type { EmbeddedEngine, EmbeddedEngineOptions, EngineLogger };
export { createEmbeddedEngine };

export type EngineConfig =
  | ({ kind: 'embedded' } & EmbeddedEngineOptions)
  /** Camunda 8 / Zeebe over gRPC: implemented in engine-adapter/zeebe/ (a later issue). */
  | { kind: 'zeebe'; address: string; [option: string]: unknown };

/**
 * The one place the server picks an engine (ENGINE=embedded|zeebe). Nothing outside engine-adapter/ imports
 * bpmn-engine or a Zeebe client; the server only sees WorkflowEngine.
 */
export async function createEngine(config: EngineConfig): Promise<WorkflowEngine> {
  switch (config.kind) {
    case 'embedded':
      return createEmbeddedEngine(config);
    case 'zeebe':
      // The Zeebe adapter plugs in here: `return (await import('./zeebe/zeebe-engine.ts')).createZeebeEngine(config)`.
      throw new Error('the Zeebe engine adapter is not implemented yet (engine-adapter/zeebe/)');
  }
}
