import type { Zeebe } from '@camunda8/sdk';
import { EngineError } from '../contract.ts';
import type { EngineLogger } from '../embedded/logger.ts';
import type { ActivatedJobLike } from './user-task-worker.ts';

/** What a worker's handler may do with its job; one of them must be called on every path. */
export interface JobActions {
  complete(variables?: Record<string, unknown>): Promise<unknown>;
  fail(request: { errorMessage: string; retries: number; retryBackOff: number }): Promise<unknown>;
  error(request: { errorCode: string; errorMessage?: string; variables?: Record<string, unknown> }): Promise<unknown>;
  /** Keeps the job activated without answering (user tasks, jobs held behind an incident). */
  forward(): unknown;
}
export type ActivatedJob = ActivatedJobLike & JobActions;
export type WorkerBody = (job: ActivatedJob) => Promise<void>;

export interface WorkerSpec {
  type: string;
  concurrency: number;
  /** How long Zeebe leaves an activated job to this worker. */
  timeoutMs: number;
  longPollMs: number;
  workerName: string;
}

/**
 * The SDK's polling workers with bookkeeping: how many jobs are in a handler right now (so tests and shutdown can
 * wait for quiet), and a close that cannot hang on a handler that never returns.
 */
export class WorkerPool {
  private readonly workers = new Map<string, { close(timeout?: number): Promise<unknown> }>();
  private readonly startedAt = new Map<string, number>();
  private inFlight = 0;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly client: Zeebe.ZeebeGrpcClient,
    private readonly logger: EngineLogger,
  ) {}

  has(type: string): boolean {
    return this.workers.has(type);
  }

  /** The job types this process has a worker for. */
  types(): string[] {
    return [...this.workers.keys()];
  }

  /** Handlers running, plus workers that have not opened their first ActivateJobs call yet (their jobs are not out). */
  get busy(): number {
    const now = Date.now();
    let fresh = 0;
    for (const [type, started] of this.startedAt) {
      const opened = (this.workers.get(type) as { jobStream?: unknown } | undefined)?.jobStream !== undefined;
      if ((opened && now - started > 100) || now - started > 5000) this.startedAt.delete(type);
      else fresh++;
    }
    return this.inFlight + fresh;
  }

  start(spec: WorkerSpec, body: WorkerBody): void {
    if (this.workers.has(spec.type)) throw new EngineError('WORKER_EXISTS', `a worker for ${spec.type} is already registered`);
    const worker = this.client.createWorker({
      taskType: spec.type,
      id: spec.workerName,
      maxJobsToActivate: spec.concurrency,
      timeout: spec.timeoutMs,
      longPoll: spec.longPollMs,
      pollInterval: 100,
      // A handler that throws must not become a FailJob with the SDK's defaults: body() answers every job itself.
      failProcessOnException: false,
      taskHandler: async (job: any) => {
        this.inFlight++;
        let answered = false;
        const answer =
          <A extends any[], R>(action: (...args: A) => R) =>
          (...args: A): R => {
            answered = true;
            return action(...args);
          };
        const wrapped: ActivatedJob = Object.assign(Object.create(job), {
          complete: answer(job.complete),
          fail: answer(job.fail),
          error: answer(job.error),
          forward: answer(job.forward),
        });
        try {
          await body(wrapped);
        } catch (err) {
          this.logger.error({ err, jobKey: job.key, type: spec.type }, 'job handling failed; the job comes back after its lock');
          // Frees the SDK's slot; Zeebe hands the job out again when its lock lapses.
          if (!answered) job.forward();
        } finally {
          this.inFlight--;
          if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        }
        // The body already answered the job through one of its actions; the SDK only wants the token.
        return 'JOB_ACTION_ACKNOWLEDGEMENT' as const;
      },
    } as any);
    this.workers.set(spec.type, worker);
    this.startedAt.set(spec.type, Date.now());
  }

  /** Resolves when no handler runs (or after maxMs). */
  async idle(maxMs: number): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(timeoutMs: number): Promise<void> {
    const closing = [...this.workers.values()].map((w) => w.close(timeoutMs).catch(() => undefined));
    this.workers.clear();
    this.startedAt.clear();
    await Promise.race([Promise.all(closing), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}
