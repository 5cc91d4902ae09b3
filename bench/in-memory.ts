import type { Variables } from '../engine-adapter/contract.ts';
import { type CompiledProcess, compileBpmn } from '../engine-adapter/embedded/definition/compile.ts';
import { ProcessExecution } from '../engine-adapter/embedded/execution/process-execution.ts';
import { applyOutputs } from '../engine-adapter/embedded/variables.ts';
import { BpmnEngineRun, compileForOracle, type OracleProcess } from '../test/helpers/bpmn-engine-oracle.ts';

export type StepResult = (elementId: string, kind: 'user-task' | 'job', variables: Variables) => Variables;

/**
 * The ceiling the benchmark compares against: a run held in memory from start to end, with the same FEEL and
 * output mappings, no database, no recovery and no events; on the compiled executor or on bpmn-engine.
 */
export class InMemoryRunner {
  private constructor(
    private readonly compiled: CompiledProcess,
    private readonly oracle: OracleProcess,
  ) {}

  static async compile(xml: string): Promise<InMemoryRunner> {
    return new InMemoryRunner(await compileBpmn(xml), await compileForOracle(xml));
  }

  /** Runs one instance to its end, answering every user task and job with `step`; returns the final variables. */
  async run(executor: 'compiled' | 'bpmn-engine', variables: Variables, step: StepResult): Promise<Variables> {
    const run =
      executor === 'compiled'
        ? new ProcessExecution(this.compiled, structuredClone(variables))
        : new BpmnEngineRun(this.oracle, structuredClone(variables), 'in-memory');
    await run.start();
    for (let guard = 0; !run.ended; guard++) {
      if (run instanceof BpmnEngineRun && run.failures.length) throw new Error(run.failures[0].message);
      const wait = run.waits().find((w) => w.kind === 'user-task' || w.kind === 'job');
      if (!wait || guard > 1000) throw new Error('the in-memory run is stuck (timer or message wait)');
      const element = this.compiled.model.elements.get(wait.elementId)!;
      applyOutputs(element, run.variables, {}, step(wait.elementId, wait.kind as 'user-task' | 'job', run.variables));
      run.signal(wait.executionId);
    }
    return run.variables;
  }
}
