import type { Variables } from '../../contract.ts';
import type { CompiledProcess } from '../definition/compile.ts';
import type { ElementModel, SequenceFlowModel, WaitKind } from '../definition/model.ts';
import { evaluateFeel } from '../feel.ts';
import { armTimer, type TimerContent } from '../timer.ts';
import { applyInputs, applyOutputs, atElement } from '../variables.ts';

/** Written with every state this executor saves; a row with another value was written by bpmn-engine. */
export const EXECUTOR_VERSION = 'compiled-1';

/** An element a run must not pass more often in one command: past it the model loops without waiting. */
const MAX_STEPS = 10_000;

/** A token standing on an element that waits for the outside world (one engine_waits row each). */
export interface PendingWait {
  elementId: string;
  executionId: string;
  kind: WaitKind;
  /** Timers: what was armed when the token arrived. */
  timer?: TimerContent;
}

/** The waits a run is recovered from: the instance's engine_waits rows. */
export interface StoredWait {
  element_id: string;
  execution_id: string;
  kind: WaitKind;
}

interface Token extends PendingWait {
  /** Boundary events: the execution of the activity they are attached to. */
  hostExecutionId?: string;
}

/** What survives between commands besides the waits: the tokens a join holds, and the execution id counter. */
interface SavedState {
  v: 1;
  seq: number;
  /** gateway id -> incoming flow id -> tokens arrived and not yet consumed */
  joins: Record<string, Record<string, number>>;
}

/** A step cannot go on (no flow to take, a condition that is not a boolean, a token that is gone). */
export class ExecutionFailure extends Error {
  constructor(
    readonly elementId: string,
    readonly type: 'EXECUTION_ERROR' | 'EXPRESSION_ERROR',
    message: string,
  ) {
    super(message);
    this.name = 'ExecutionFailure';
  }
}

/**
 * One command's run of one instance on the compiled model: start or recover from the waits, act, and move
 * every token to its next wait. Tokens that wait are exactly the engine_waits rows, so the saved state is only
 * what a join holds. Lives for one command; a failure throws, and the caller keeps the instance as it was.
 */
export class ProcessExecution {
  readonly completedElements: string[] = [];
  ended = false;
  private readonly tokens = new Map<string, Token>();
  private joins: SavedState['joins'] = {};
  private seq = 0;
  private readonly queue: Array<{ elementId: string; flowId?: string }> = [];
  private steps = 0;
  private terminated = false;

  constructor(
    readonly definition: CompiledProcess,
    public variables: Variables,
  ) {}

  start(): void {
    this.queue.push({ elementId: this.definition.model.startEventId });
    this.run();
  }

  /**
   * Rebuilds the tokens from the instance's waits. `state` is the saved join state when this executor wrote it;
   * a row left by bpmn-engine holds no join this executor can read, and its boundary events are tied to their
   * activity by element instead of by execution id.
   */
  recover(state: string | null, waits: StoredWait[], ownState: boolean): void {
    if (state && ownState) {
      const saved = JSON.parse(state) as SavedState;
      this.seq = saved.seq;
      this.joins = saved.joins;
    }
    for (const wait of waits) {
      const token: Token = { elementId: wait.element_id, executionId: wait.execution_id, kind: wait.kind };
      const element = this.definition.model.elements.get(wait.element_id);
      if (element?.kind === 'boundaryEvent') token.hostExecutionId = hostOf(wait, element, waits);
      this.tokens.set(token.executionId, token);
    }
  }

  /** Completes a waiting task or catch event (a boundary message event fires); false when it is not waiting. */
  signal(executionId: string): boolean {
    const token = this.tokens.get(executionId);
    if (!token) return false;
    if (token.hostExecutionId !== undefined) this.fireBoundary(token);
    else this.complete(token);
    this.run();
    return true;
  }

  fireTimer(executionId: string): boolean {
    const token = this.tokens.get(executionId);
    if (token?.kind !== 'timer') return false;
    return this.signal(executionId);
  }

  /** A job's BPMN error: the matching error boundary event interrupts the activity; false when none catches it. */
  throwError(executionId: string, errorCode: string): boolean {
    const token = this.tokens.get(executionId);
    if (!token) return false;
    const boundaries = this.element(token.elementId).boundaryEvents.map((id) => this.element(id));
    const boundary =
      boundaries.find((b) => b.errorCode === errorCode) ?? boundaries.find((b) => b.errorCode === null);
    if (!boundary) return false;
    this.withdraw(token);
    this.leave(boundary);
    this.run();
    return true;
  }

  waits(): PendingWait[] {
    const waits: PendingWait[] = [];
    for (const token of this.tokens.values()) {
      const wait: PendingWait = { elementId: token.elementId, executionId: token.executionId, kind: token.kind };
      if (token.timer) wait.timer = token.timer;
      waits.push(wait);
    }
    return waits;
  }

  state(): string {
    const saved: SavedState = { v: 1, seq: this.seq, joins: this.joins };
    return JSON.stringify(saved);
  }

  // ---- moving tokens ----------------------------------------------------------------------------------------

  /** Moves every token until each waits, ends, or stands at a join that cannot fire yet. */
  private run(): void {
    do {
      while (this.queue.length && !this.terminated) {
        const { elementId, flowId } = this.queue.shift()!;
        if (++this.steps > MAX_STEPS)
          throw new ExecutionFailure(elementId, 'EXECUTION_ERROR', `${MAX_STEPS} elements passed without waiting: the process loops`);
        this.enter(this.element(elementId), flowId);
      }
    } while (!this.terminated && this.fireInclusiveJoins());
    if (this.tokens.size === 0 && Object.keys(this.joins).length === 0) this.ended = true;
  }

  private enter(element: ElementModel, flowId: string | undefined): void {
    switch (element.kind) {
      case 'userTask':
      case 'jobTask':
      case 'intermediateCatchEvent':
        this.wait(element);
        return;
      case 'exclusiveGateway':
      case 'inclusiveGateway':
        if (element.kind === 'inclusiveGateway' && element.incoming.length > 1) this.arrive(element, flowId);
        else this.leave(element);
        return;
      case 'parallelGateway':
        if (element.incoming.length > 1) {
          this.arrive(element, flowId);
          const arrived = this.joins[element.id];
          if (element.incoming.every((f) => (arrived[f] ?? 0) > 0)) {
            this.consumeArrivals(element);
            this.leave(element);
          }
        } else this.leave(element);
        return;
      case 'endEvent':
        this.mapThrough(element);
        this.completedElements.push(element.id);
        return;
      case 'terminateEndEvent':
        this.mapThrough(element);
        this.completedElements.push(element.id);
        this.tokens.clear();
        this.joins = {};
        this.queue.length = 0;
        this.terminated = true;
        return;
      default:
        // start events, tasks without behaviour, none throw events
        this.mapThrough(element);
        this.leave(element);
    }
  }

  /** A token stops at the element, with a token on each of its timer and message boundary events. */
  private wait(element: ElementModel): void {
    const token: Token = { elementId: element.id, executionId: `${element.id}#${++this.seq}`, kind: element.wait! };
    if (element.timer) token.timer = atElement(element.id, () => armTimer(element.timer!, this.variables));
    this.tokens.set(token.executionId, token);
    for (const id of element.boundaryEvents) {
      const boundary = this.element(id);
      if (!boundary.wait) continue;
      const attached: Token = {
        elementId: id,
        executionId: `${token.executionId}/${id}`,
        kind: boundary.wait,
        hostExecutionId: token.executionId,
      };
      if (boundary.timer) attached.timer = atElement(id, () => armTimer(boundary.timer!, this.variables));
      this.tokens.set(attached.executionId, attached);
    }
  }

  private complete(token: Token): void {
    this.withdraw(token);
    this.leave(this.element(token.elementId));
  }

  private fireBoundary(token: Token): void {
    this.tokens.delete(token.executionId);
    const boundary = this.element(token.elementId);
    if (boundary.cancelActivity) {
      const host = this.tokens.get(token.hostExecutionId!);
      if (host) this.withdraw(host);
    }
    this.leave(boundary);
  }

  /** Takes a token off its element, with the boundary events attached to it. */
  private withdraw(token: Token): void {
    this.tokens.delete(token.executionId);
    for (const other of [...this.tokens.values()])
      if (other.hostExecutionId === token.executionId) this.tokens.delete(other.executionId);
  }

  private leave(element: ElementModel): void {
    this.completedElements.push(element.id);
    for (const flow of this.flowsTaken(element)) this.queue.push({ elementId: flow.targetId, flowId: flow.id });
  }

  /** Zeebe semantics: an exclusive gateway takes the first flow whose condition holds, an inclusive one all. */
  private flowsTaken(element: ElementModel): SequenceFlowModel[] {
    const outgoing = element.outgoing;
    const gateway = element.kind === 'exclusiveGateway' || element.kind === 'inclusiveGateway';
    if (!gateway) return outgoing.filter((f) => !f.condition || this.holds(element, f));
    if (outgoing.length === 1 && !outgoing[0].condition) return outgoing;
    const taken: SequenceFlowModel[] = [];
    for (const flow of outgoing) {
      if (flow.id === element.defaultFlow || !flow.condition || !this.holds(element, flow)) continue;
      taken.push(flow);
      if (element.kind === 'exclusiveGateway') break;
    }
    if (taken.length) return taken;
    const fallback = outgoing.find((f) => f.id === element.defaultFlow);
    if (fallback) return [fallback];
    throw new ExecutionFailure(
      element.id,
      'EXECUTION_ERROR',
      `no outgoing sequence flow of gateway ${element.id} can be taken: no condition holds and there is no default flow`,
    );
  }

  private holds(element: ElementModel, flow: SequenceFlowModel): boolean {
    const value = atElement(element.id, () => evaluateFeel(flow.condition!, this.variables));
    if (value === true) return true;
    if (value === false || value === null) return false;
    throw new ExecutionFailure(
      element.id,
      'EXPRESSION_ERROR',
      `condition of sequence flow ${flow.id} ${JSON.stringify(flow.condition)} gave ${JSON.stringify(value)}, not a boolean`,
    );
  }

  /** Input then output mappings of an element that does not wait (its local variables do not outlive it). */
  private mapThrough(element: ElementModel): void {
    if (!element.inputs.length && !element.outputs) return;
    applyOutputs(element, this.variables, applyInputs(element, this.variables), {});
  }

  // ---- joins ------------------------------------------------------------------------------------------------

  private arrive(gateway: ElementModel, flowId: string | undefined): void {
    const arrived = (this.joins[gateway.id] ??= {});
    const flow = flowId ?? gateway.incoming[0];
    arrived[flow] = (arrived[flow] ?? 0) + 1;
  }

  /** One token of each incoming flow that holds one is consumed by the join. */
  private consumeArrivals(gateway: ElementModel): void {
    const arrived = this.joins[gateway.id];
    for (const flow of Object.keys(arrived)) if (--arrived[flow] <= 0) delete arrived[flow];
    if (Object.keys(arrived).length === 0) delete this.joins[gateway.id];
  }

  /**
   * An inclusive join fires once no token elsewhere can still reach it (a waiting token, or tokens held by
   * another join upstream). Returns true when one fired, so the tokens it released run on.
   */
  private fireInclusiveJoins(): boolean {
    for (const gatewayId of Object.keys(this.joins)) {
      const gateway = this.element(gatewayId);
      if (gateway.kind !== 'inclusiveGateway') continue;
      const blocked =
        [...this.tokens.values()].some((t) => gateway.reachableFrom!.has(t.elementId)) ||
        Object.keys(this.joins).some((id) => id !== gatewayId && gateway.reachableFrom!.has(id));
      if (blocked) continue;
      this.consumeArrivals(gateway);
      this.leave(gateway);
      return true;
    }
    return false;
  }

  private element(id: string): ElementModel {
    const element = this.definition.model.elements.get(id);
    if (!element) throw new ExecutionFailure(id, 'EXECUTION_ERROR', `element ${id} is not in process ${this.definition.processId}`);
    return element;
  }
}

/** The execution of the activity a boundary event's wait belongs to. */
function hostOf(wait: StoredWait, boundary: ElementModel, waits: StoredWait[]): string {
  const slash = wait.execution_id.lastIndexOf('/');
  if (slash > 0) return wait.execution_id.slice(0, slash);
  // Written by bpmn-engine: one execution per activity, found by element.
  return waits.find((w) => w.element_id === boundary.attachedTo)?.execution_id ?? '';
}
