import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Engine } from 'bpmn-engine';
import type { Variables } from '../contract.ts';
import type { CompiledProcess } from './definition/compile.ts';
import type { WaitKind } from './definition/model.ts';
import { evaluateFeel } from './feel.ts';
import { type TimerContent, VirtualTimers } from './timer.ts';

/** Stored with each state: a state written by one bpmn-engine major may not recover on another. */
export const BPMN_ENGINE_VERSION: string = (() => {
  // bpmn-engine's exports map hides its package.json, so read it next to the resolved entry point.
  let dir = path.dirname(createRequire(import.meta.url).resolve('bpmn-engine'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
})();

const noop = () => {};
const silentBpmnLogger = () => ({ debug: noop, error: noop, warn: noop, info: noop });

export interface PendingWait {
  elementId: string;
  executionId: string;
  kind: WaitKind;
  timer?: TimerContent;
}

export interface RunFailure {
  elementId: string;
  message: string;
}

/**
 * One bpmn-engine run of one instance for one command: start or recover, act, and read back where it waits.
 * Lives only for the command. Process variables are kept here, outside bpmn-engine, so its internal fields
 * never reach them and FEEL sees exactly what Zeebe would.
 */
export class InstanceRun {
  failures: RunFailure[] = [];
  completedElements: string[] = [];
  ended = false;
  private readonly engine: any;
  private readonly virtualTimers = new VirtualTimers();

  constructor(
    readonly definition: CompiledProcess,
    public variables: Variables,
    name: string,
  ) {
    this.engine = new Engine({
      name,
      sourceContext: definition.sourceContext,
      timers: this.virtualTimers.timers,
      // bpmn-engine's default logger creates a `debug` instance (and probes the tty) per element: costly per command.
      Logger: silentBpmnLogger,
      // Idle elements leave no state behind: smaller rows, faster save and recover.
      settings: { disableTrackState: true },
      expressions: {
        resolveExpression: (expression: unknown, context: any) => this.resolve(expression, context),
        isExpression: (s: unknown) => typeof s === 'string' && s.startsWith('='),
        hasExpression: (s: unknown) => typeof s === 'string' && s.startsWith('='),
      },
    } as any);
    // Without a listener an 'error' event would crash the process; it becomes an incident instead.
    this.engine.on('error', (err: any) => this.fail(err?.source?.content?.id ?? err?.inner?.id ?? '(process)', err));
    this.engine.on('end', () => {
      this.ended = true;
    });
    this.engine.broker.subscribeTmp(
      'event',
      'activity.end',
      (_key: string, message: any) => {
        this.completedElements.push(message.content.id);
      },
      { noAck: true },
    );
  }

  private fail(elementId: string, err: unknown) {
    const message = err instanceof Error ? err.message : String(err);
    if (!this.failures.some((f) => f.message === message)) this.failures.push({ elementId, message });
  }

  private resolve(expression: unknown, context: any): unknown {
    if (typeof expression !== 'string' || !expression.startsWith('=')) return expression;
    try {
      return evaluateFeel(expression, this.variables);
    } catch (err) {
      this.fail(context?.content?.id ?? context?.id ?? '(process)', err);
      throw err;
    }
  }

  /**
   * Makes a run that is still alive after its command ready for the next command on the same state, as if it
   * had just been recovered: fresh variables (as stored) and nothing recorded yet.
   */
  continueWith(variables: Variables): void {
    this.variables = variables;
    this.failures = [];
    this.completedElements = [];
  }

  async start(): Promise<void> {
    await this.engine.execute();
  }

  async recover(state: string): Promise<void> {
    this.engine.recover(JSON.parse(state));
    await this.engine.resume();
  }

  private postponedApi(executionId: string): any {
    return this.engine.execution.getPostponed().find((api: any) => api.executionId === executionId);
  }

  isWaiting(executionId: string): boolean {
    return Boolean(this.postponedApi(executionId));
  }

  /** Completes a waiting task or catch event; false when it is not waiting. */
  signal(executionId: string): boolean {
    const api = this.postponedApi(executionId);
    if (!api) return false;
    this.guard(api.id, () => api.signal({}));
    return true;
  }

  throwError(executionId: string, errorCode: string, message: string): boolean {
    const api = this.postponedApi(executionId);
    if (!api) return false;
    this.guard(api.id, () => api.sendApiMessage('error', { code: errorCode, message }));
    return true;
  }

  fireTimer(elementId: string): boolean {
    let fired = false;
    this.guard(elementId, () => {
      fired = this.virtualTimers.fire(elementId);
    });
    return fired;
  }

  private guard(elementId: string, action: () => void) {
    try {
      action();
    } catch (err) {
      this.fail(elementId, err);
    }
  }

  waits(): PendingWait[] {
    if (this.ended || !this.engine.execution) return [];
    const result: PendingWait[] = [];
    for (const api of this.engine.execution.getPostponed()) {
      const element = this.definition.model.elements.get(api.id);
      if (!element?.wait) continue;
      const wait: PendingWait = { elementId: api.id, executionId: api.executionId, kind: element.wait };
      if (element.wait === 'timer') wait.timer = this.virtualTimers.armed(api.id);
      result.push(wait);
    }
    return result;
  }

  /** bpmn-engine state without the model copy (the model is cached per deployed version). */
  async state(): Promise<string> {
    const state = await this.engine.getState();
    for (const definition of state.definitions ?? []) delete definition.source;
    return JSON.stringify(state);
  }
}
