import type { Variables } from '../contract.ts';
import { type CompiledProcess, compileBpmn } from './definition/compile.ts';
import { InstanceRun } from './instance-run.ts';
import { applyOutputs } from './variables.ts';

export type StepResult = (elementId: string, kind: 'user-task' | 'job', variables: Variables) => Variables;

/**
 * The ceiling the benchmark compares against: the same bpmn-engine run, FEEL hooks and output mappings, held in
 * memory from start to end, with no database, no recovery and no events. Not for production use.
 */
export class InMemoryRunner {
  private constructor(private readonly compiled: CompiledProcess) {}

  static async compile(xml: string): Promise<InMemoryRunner> {
    return new InMemoryRunner(await compileBpmn(xml));
  }

  /** Runs one instance to its end, answering every user task and job with `step`; returns the final variables. */
  async run(variables: Variables, step: StepResult): Promise<Variables> {
    const run = new InstanceRun(this.compiled, structuredClone(variables), 'in-memory');
    await run.start();
    for (let guard = 0; !run.ended; guard++) {
      if (run.failures.length) throw new Error(run.failures[0].message);
      const wait = run.waits().find((w) => w.kind === 'user-task' || w.kind === 'job');
      if (!wait || guard > 1000) throw new Error('the in-memory run is stuck (timer or message wait)');
      const element = this.compiled.model.elements.get(wait.elementId)!;
      applyOutputs(element, run.variables, {}, step(wait.elementId, wait.kind as 'user-task' | 'job', run.variables));
      run.signal(wait.executionId);
    }
    return run.variables;
  }
}
