import * as Elements from 'bpmn-elements';
import { Engine } from 'bpmn-engine';
import Serializer, { TypeResolver } from 'moddle-context-serializer';
import type { Variables } from '../../engine-adapter/contract.ts';
import { buildProcessModel } from '../../engine-adapter/embedded/definition/build-model.ts';
import { executableProcess } from '../../engine-adapter/embedded/definition/compile.ts';
import type { ProcessModel, WaitKind } from '../../engine-adapter/embedded/definition/model.ts';
import { type ModdleElement, parseBpmn } from '../../engine-adapter/embedded/definition/moddle.ts';
import { evaluateFeel } from '../../engine-adapter/embedded/feel.ts';

/**
 * bpmn-engine, which ran the embedded engine until the compiled executor replaced it, kept as a differential
 * oracle for tests (same BPMN, same inputs -> same path) and as the in-memory baseline of the engine bench.
 */

/**
 * Job tasks become bpmn-elements signal tasks: they wait like user tasks, so a job survives as plain state
 * and completes by a signal in a later command, instead of as a callback that dies with the engine object.
 */
const typeResolver = TypeResolver(Elements as any, (types: Record<string, unknown>) => {
  types['bpmn:ServiceTask'] = Elements.SignalTask;
  types['bpmn:SendTask'] = Elements.SignalTask;
  types['bpmn:ScriptTask'] = Elements.SignalTask;
  types['bpmn:ManualTask'] = Elements.Task;
});

export interface OracleProcess {
  model: ProcessModel;
  /** The serialised moddle context bpmn-engine runs. */
  sourceContext: unknown;
}

/** Prepares a (valid) document for bpmn-engine. */
export async function compileForOracle(xml: string): Promise<OracleProcess> {
  const context = await parseBpmn(xml);
  const model = buildProcessModel(executableProcess(context.rootElement.rootElements as ModdleElement[]));
  return { model, sourceContext: Serializer(context as any, typeResolver) };
}

interface TimerContent {
  id: string;
  timerType?: 'timeDuration' | 'timeDate' | 'timeCycle';
  timeDuration?: string;
  timeout?: number;
  expireAt?: Date | string;
}

/** bpmn-elements wants a timers object; this one never arms a real timeout: a test fires a timer by hand. */
class VirtualTimers {
  private readonly callbacks = new Map<number, () => void>();
  private next = 0;
  readonly timers: any;

  constructor() {
    this.timers = new (Elements as any).Timers({
      setTimeout: (callback: (...args: unknown[]) => void, _delay: number, ...args: unknown[]) => {
        const id = ++this.next;
        this.callbacks.set(id, () => callback(...args));
        return id;
      },
      clearTimeout: (id: number) => {
        this.callbacks.delete(id);
      },
    });
  }

  /** What the engine armed for an element: the timer definition content (timerType, timeout, expireAt). */
  armed(elementId: string): TimerContent | undefined {
    return this.timers.executing.find((ref: any) => ref.owner?.id === elementId)?.owner;
  }

  /** Fires the element's armed timer now; false when none is armed (already fired or discarded). */
  fire(elementId: string): boolean {
    const ref = this.timers.executing.find((r: any) => r.owner?.id === elementId);
    const callback = ref && this.callbacks.get(ref.timerRef);
    if (!callback) return false;
    this.callbacks.delete(ref.timerRef);
    callback();
    return true;
  }
}

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
 * One bpmn-engine run of one instance: start or recover, act, and read back where it waits. Process variables
 * are kept here, outside bpmn-engine, so its internal fields never reach them and FEEL sees what Zeebe would.
 */
export class BpmnEngineRun {
  failures: RunFailure[] = [];
  completedElements: string[] = [];
  ended = false;
  private readonly engine: any;
  private readonly virtualTimers = new VirtualTimers();

  constructor(
    readonly definition: OracleProcess,
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
