import type { WorkflowEngine } from './contract.ts';
import { createEmbeddedEngine, type EmbeddedEngine, type EmbeddedEngineOptions } from './embedded/embedded-engine.ts';
import type { EngineLogger } from './embedded/logger.ts';
import type { ZeebeEngine, ZeebeEngineOptions } from './zeebe/zeebe-engine.ts';

export * from './contract.ts';
export type { EmbeddedEngine, EmbeddedEngineOptions, EngineLogger, ZeebeEngine, ZeebeEngineOptions };
export { createEmbeddedEngine };

export type EngineConfig =
  | ({ kind: 'embedded' } & EmbeddedEngineOptions)
  /** Camunda 8 / Zeebe over gRPC (engine-adapter/zeebe/); `knex` is required: the adapter keeps its task mirror there. */
  | ({ kind: 'zeebe'; address: string } & Partial<Omit<ZeebeEngineOptions, 'address'>>);

/**
 * The one place the server picks an engine (ENGINE=embedded|zeebe). Nothing outside engine-adapter/ imports
 * bpmn-engine or a Zeebe client; the server only sees WorkflowEngine.
 */
export async function createEngine(config: EngineConfig): Promise<WorkflowEngine> {
  switch (config.kind) {
    case 'embedded':
      return createEmbeddedEngine(config);
    case 'zeebe': {
      // Loaded on demand: an embedded deployment never loads the gRPC stack.
      const { createZeebeEngine } = await import('./zeebe/zeebe-engine.ts');
      const { kind: _kind, ...options } = config;
      return createZeebeEngine(options as ZeebeEngineOptions);
    }
  }
}
