import type { Knex } from 'knex';
import { type Clock, systemClock } from '../clock.ts';
import {
  BpmnError,
  type DeployedProcess,
  EngineError,
  type Incident,
  type InstanceInfo,
  type InstanceEnded,
  type JobHandler,
  type StartOptions,
  TaskNotFoundError,
  type UserTask,
  type UserTaskCanceled,
  type Variables,
  type WorkerOptions,
  type WorkflowEngine,
} from '../contract.ts';
import { type DefinitionRepository, DefinitionRepository as Definitions, type DeployedDefinition } from './definition/deploy.ts';
import { EXECUTOR_VERSION, ExecutionFailure, ProcessExecution } from './execution/process-execution.ts';
import { FeelError } from './feel.ts';
import { type InstanceRow, InstanceNotFoundError, instanceStore } from './instance-store.ts';
import { activateJobs, Lane, retryBackoffMs, toJob } from './job.ts';
import { KeyGenerator } from './keys.ts';
import { type EngineLogger, silentLogger } from './logger.ts';
import { type ClaimedEvent, claimedOf, Outbox, type PendingEvent } from './outbox.ts';
import { claimDueTimers } from './timer.ts';
import { applyOutputs, ElementFailure, sanitizeVariables } from './variables.ts';
import { buildWait, type WaitRow } from './waits.ts';

export interface EmbeddedEngineOptions {
  knex: Knex;
  clock?: Clock;
  logger?: EngineLogger;
  /** How often due timers, jobs and events are looked for (default 1000 ms); no timeout is ever longer. */
  pollIntervalMs?: number;
  /** Poll in the background (default true). Tests turn it off and call poll()/drain() themselves. */
  autoPoll?: boolean;
  /** How long an activated job belongs to its worker before another may run it (default 5 min). */
  jobTimeoutMs?: number;
  /** First retry delay of a failing job, doubled per attempt (default 1000 ms). */
  retryBackoffMs?: number;
  /**
   * Right after a command commits, run the jobs it created that have a worker here and deliver its events,
   * instead of leaving them to the next poll (default: on when autoPoll is). The rows are written first, claimed
   * by this process, so a crash in between leaves them to the poller once the claim runs out.
   */
  immediateDispatch?: boolean;
}

export interface EmbeddedEngine extends WorkflowEngine {
  /** One round: fires due timers, runs due jobs that have a worker, delivers events. Returns the work done. */
  poll(): Promise<number>;
  /** Polls until nothing is due (by the injected clock), after waiting for the immediate dispatches. */
  drain(): Promise<void>;
  /** Waits only for the immediate dispatches running now (and those they start); polls nothing. */
  settled(): Promise<void>;
}

/** What moves an instance; stored with an incident so resolveIncident can replay it. */
type Trigger =
  | { kind: 'start' }
  | { kind: 'completeTask'; waitKey: string; variables: Variables; committed?: true }
  | { kind: 'completeJob'; waitKey: string; variables: Variables; committed?: true }
  | { kind: 'jobError'; waitKey: string; errorCode: string; message: string; variables: Variables; committed?: true }
  | { kind: 'timer'; waitKey: string }
  | { kind: 'message'; waitKey: string; variables: Variables; committed?: true };

const DEFER_MS = 60_000;
const TIMER_CLAIM_MS = 30_000;
const BATCH = 50;
/** Jobs claimed for immediate dispatch may queue behind a busy worker up to this many times its concurrency. */
const QUEUE_FACTOR = 16;

/** What a command hands over for after its commit: jobs claimed for a worker here, events claimed for delivery. */
interface Effects {
  jobs: WaitRow[];
  events: ClaimedEvent[];
  /** Work was left to the poller (a full worker queue, a timer due at once): poll soon. */
  kick: boolean;
}

/** One command: where it reads and writes, and what it hands over for after its commit. */
interface Command {
  db: Knex | Knex.Transaction;
  effects: Effects;
  /** Optimistic commands (no transaction, no lock): the instance revision they read. */
  readRev?: number;
}

/** An optimistic command lost a race: the instance changed after it was read. Read again and redo. */
class Conflict extends Error {}

/** An optimistic command met what only a locked command does (parking a trigger behind an incident). */
class NeedsLock extends Error {}

/** Optimistic attempts before a command takes the instance lock instead (only under heavy contention). */
const OPTIMISTIC_TRIES = 3;

interface RunFailure {
  elementId: string;
  type: string;
  message: string;
}

export function createEmbeddedEngine(options: EmbeddedEngineOptions): EmbeddedEngine {
  return new Embedded(options);
}

/**
 * WorkflowEngine on the compiled executor with the database as the only memory. A command locks the instance
 * row, rebuilds its tokens from the waits, acts, moves every token to its next wait, and saves state, waits and
 * outgoing events in one statement of the same transaction.
 */
class Embedded implements EmbeddedEngine {
  private readonly knex: Knex;
  private readonly clock: Clock;
  private readonly logger: EngineLogger;
  private readonly keys = new KeyGenerator();
  private readonly definitions: DefinitionRepository;
  private readonly outbox: Outbox;
  private readonly workers = new Map<string, { handler: JobHandler; lane: Lane }>();
  private readonly pollIntervalMs: number;
  private readonly autoPoll: boolean;
  private readonly immediate: boolean;
  /** Dispatches running after their commands (awaited by drain and close). */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly jobTimeoutMs: number;
  private readonly backoffBaseMs: number;
  private interval?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private pollAgain = false;
  private closed = false;

  constructor(options: EmbeddedEngineOptions) {
    this.knex = options.knex;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.autoPoll = options.autoPoll ?? true;
    this.immediate = options.immediateDispatch ?? this.autoPoll;
    this.jobTimeoutMs = options.jobTimeoutMs ?? 300_000;
    this.backoffBaseMs = options.retryBackoffMs ?? 1000;
    this.definitions = new Definitions(this.knex, this.clock, this.keys);
    this.outbox = new Outbox(this.knex, this.clock, this.logger);
    if (this.autoPoll) {
      this.interval = setInterval(() => this.kick(), this.pollIntervalMs);
      this.interval.unref();
    }
  }

  // ---- contract: definitions and instances -------------------------------------------------------------

  async deploy(name: string, xml: string): Promise<DeployedProcess[]> {
    this.assertOpen();
    return [await this.definitions.deploy(name, xml)];
  }

  async start(processId: string, variables: Variables, options?: StartOptions): Promise<{ instanceKey: string; version: number }> {
    this.assertOpen();
    const vars = sanitizeVariables(variables);
    const definition = await this.definitions.find(this.knex, processId, options?.version);
    const key = await this.keys.next(this.knex);
    const begin = async (cx: Command) => {
      const now = this.clock.now();
      const row: InstanceRow = {
        key,
        definition_key: definition.key,
        process_id: definition.processId,
        version: definition.version,
        status: 'active',
        engine_version: EXECUTOR_VERSION,
        state: null,
        variables: vars,
        history: [],
        parked_incident_key: null,
        started_at: now,
        updated_at: now,
        ended_at: null,
      };
      await this.advance(cx, row, { kind: 'start' }, [], true);
    };
    // A new row races nobody: the optimistic write only saves the transaction round trips.
    await this.optimistic(async (cx) => begin(cx), () => this.command(begin));
    return { instanceKey: key, version: definition.version };
  }

  async completeUserTask(taskKey: string, variables: Variables = {}): Promise<void> {
    this.assertOpen();
    const vars = sanitizeVariables(variables);
    const complete = async (cx: Command, row: InstanceRow | undefined, waits: WaitRow[]) => {
      if (!row) throw new TaskNotFoundError(taskKey);
      const wait = waits.find((w) => w.key === taskKey);
      if (wait?.kind !== 'user-task' || wait.state !== 'open' || row.status !== 'active') throw new TaskNotFoundError(taskKey);
      if (row.parked_incident_key)
        throw new EngineError('INSTANCE_HAS_INCIDENT', `instance ${row.key} waits for incident ${row.parked_incident_key}`);
      await this.advance(cx, row, { kind: 'completeTask', waitKey: taskKey, variables: vars }, waits);
    };
    await this.optimistic(
      async (cx) => {
        const loaded = await instanceStore.load(cx.db, { waitKey: taskKey });
        cx.readRev = loaded?.row.rev;
        await complete(cx, loaded?.row, loaded?.waits ?? []);
      },
      () =>
        this.command(async (cx) => {
          const row = await instanceStore.lockByWait(cx.db, taskKey);
          // Read under the instance lock: a concurrent completion may have committed meanwhile.
          await complete(cx, row, row ? await instanceStore.waits(cx.db, row.key) : []);
        }),
    );
  }

  async publishMessage(name: string, correlationKey: string, variables: Variables = {}): Promise<void> {
    this.assertOpen();
    const vars = sanitizeVariables(variables);
    const subscriptions: WaitRow[] = await this.knex('engine_waits')
      .where({ kind: 'message', state: 'open', message_name: name, correlation_key: String(correlationKey) })
      .orderBy('created_at');
    // A message correlates to at most one subscription per instance (Zeebe semantics); with no subscription
    // it is dropped: messages are not buffered (time-to-live 0).
    const perInstance = new Map<string, WaitRow>();
    for (const s of subscriptions) if (!perInstance.has(s.instance_key)) perInstance.set(s.instance_key, s);
    for (const subscription of perInstance.values()) {
      await this.command(async (cx) => {
        const row = await instanceStore.lock(cx.db, subscription.instance_key);
        const waits = await instanceStore.waits(cx.db, row.key);
        const wait = waits.find((w) => w.key === subscription.key);
        if (wait?.state !== 'open' || row.status !== 'active' || row.parked_incident_key) return;
        await this.advance(cx, row, { kind: 'message', waitKey: wait.key, variables: vars }, waits);
      });
    }
  }

  async cancel(instanceKey: string): Promise<void> {
    this.assertOpen();
    await this.command(async (cx) => {
      const row = await instanceStore.lock(cx.db, instanceKey);
      if (row.status !== 'active') throw new EngineError('INSTANCE_NOT_ACTIVE', `instance ${instanceKey} is ${row.status}`);
      const canceled: PendingEvent[] = [];
      for (const wait of await instanceStore.waits(cx.db, instanceKey)) {
        if (wait.kind === 'user-task' && wait.state === 'open')
          canceled.push({
            type: 'userTaskCanceled',
            instanceKey,
            payload: { taskKey: wait.key, instanceKey, elementId: wait.element_id, reason: 'instance-canceled' } satisfies UserTaskCanceled,
          });
      }
      await this.addEvents(cx, canceled);
      await cx.db('engine_waits').where({ instance_key: instanceKey }).delete();
      await cx.db('engine_incidents')
        .where({ instance_key: instanceKey, state: 'open' })
        .update({ state: 'resolved', resolved_at: this.clock.now() });
      await this.finish(cx, row, 'canceled');
    });
  }

  async setVariables(instanceKey: string, variables: Variables): Promise<void> {
    this.assertOpen();
    const vars = sanitizeVariables(variables);
    await this.command(async (cx) => {
      const row = await instanceStore.lock(cx.db, instanceKey);
      if (row.status !== 'active') throw new EngineError('INSTANCE_NOT_ACTIVE', `instance ${instanceKey} is ${row.status}`);
      Object.assign(row.variables, vars);
      row.updated_at = this.clock.now();
      await instanceStore.save(cx.db, row);
    });
  }

  async getInstance(instanceKey: string): Promise<InstanceInfo | undefined> {
    const row: InstanceRow | undefined = await this.knex('engine_instances').where({ key: instanceKey }).first();
    if (!row) return undefined;
    const waits: WaitRow[] = await this.knex('engine_waits').select('element_id').where({ instance_key: instanceKey });
    const info: InstanceInfo = {
      instanceKey: row.key,
      processId: row.process_id,
      processVersion: row.version,
      processDefinitionKey: row.definition_key,
      status: row.status,
      currentElementIds: [...new Set(waits.map((w) => w.element_id))],
      completedElementIds: row.history,
      variables: row.variables,
      incidents: await this.listIncidents(instanceKey),
      startedAt: new Date(row.started_at).toISOString(),
    };
    if (row.ended_at) info.endedAt = new Date(row.ended_at).toISOString();
    return info;
  }

  // ---- contract: events, workers, incidents -------------------------------------------------------------

  onUserTaskCreated(handler: (task: UserTask) => Promise<void> | void): void {
    this.outbox.on('userTaskCreated', handler);
    this.kick();
  }

  onUserTaskCanceled(handler: (event: UserTaskCanceled) => Promise<void> | void): void {
    this.outbox.on('userTaskCanceled', handler);
    this.kick();
  }

  onInstanceEnded(handler: (event: InstanceEnded) => Promise<void> | void): void {
    this.outbox.on('instanceEnded', handler);
    this.kick();
  }

  onIncident(handler: (incident: Incident) => Promise<void> | void): void {
    this.outbox.on('incident', handler);
    this.kick();
  }

  registerWorker(type: string, handler: JobHandler, options?: WorkerOptions): void {
    if (this.workers.has(type)) throw new EngineError('WORKER_EXISTS', `a worker for ${type} is already registered`);
    this.workers.set(type, { handler, lane: new Lane(options?.concurrency ?? 8) });
    this.kick();
  }

  async listIncidents(instanceKey?: string): Promise<Incident[]> {
    const query = this.knex('engine_incidents').where({ state: 'open' }).orderBy('created_at').orderBy('key');
    if (instanceKey) query.andWhere({ instance_key: instanceKey });
    return (await query).map(toIncident);
  }

  async resolveIncident(incidentKey: string, retries?: number): Promise<void> {
    this.assertOpen();
    await this.command(async (cx) => {
      const seen = await cx.db('engine_incidents').where({ key: incidentKey }).first();
      if (seen?.state !== 'open') throw new EngineError('INCIDENT_NOT_FOUND', `no open incident ${incidentKey}`);
      const row = await instanceStore.lock(cx.db, seen.instance_key);
      const incident = await cx.db('engine_incidents').where({ key: incidentKey }).first();
      if (incident?.state !== 'open') throw new EngineError('INCIDENT_NOT_FOUND', `no open incident ${incidentKey}`);
      await cx.db('engine_incidents').where({ key: incidentKey }).update({ state: 'resolved', resolved_at: this.clock.now() });
      if (incident.job_key) {
        const wait = await instanceStore.wait(cx.db, incident.job_key);
        if (!wait) return;
        await cx.db('engine_waits')
          .where({ key: wait.key })
          .update({
            state: 'open',
            retries: retries ?? wait.payload.job?.retries ?? 3,
            due_at: this.clock.now(),
            claimed_until: null,
          });
        // Left open for the poller (activating it here would need the row re-read): poll soon.
        const effects = cx.effects;
        if (effects) effects.kick = true;
        return;
      }
      row.parked_incident_key = null;
      await this.advance(cx, row, incident.command as Trigger);
    });
  }

  // ---- polling ------------------------------------------------------------------------------------------

  async poll(): Promise<number> {
    if (this.closed) return 0;
    let work = await this.fireDueTimers();
    work += await this.runDueJobs();
    work += await this.outbox.deliver();
    return work;
  }

  async drain(): Promise<void> {
    for (let round = 0; round < 10_000; round++) {
      const dispatched = await this.settleDispatches();
      if ((await this.poll()) === 0 && !dispatched && this.inflight.size === 0) {
        await this.outbox.idle();
        return;
      }
    }
    throw new EngineError('DRAIN_LIMIT', 'drain did not settle after 10000 rounds');
  }

  async settled(): Promise<void> {
    await this.settleDispatches();
    await this.outbox.idle();
  }

  /** Waits for the immediate dispatches running now (and those they start); true when there were any. */
  private async settleDispatches(): Promise<boolean> {
    let any = false;
    while (this.inflight.size) {
      any = true;
      await Promise.allSettled([...this.inflight]);
    }
    return any;
  }

  // ---- commands and what follows their commit --------------------------------------------------------------

  /** One transaction of a command; what it created for this process is dispatched after the commit. */
  private async command<T>(act: (cx: Command) => Promise<T>): Promise<T> {
    const effects: Effects = { jobs: [], events: [], kick: false };
    const result = await this.knex.transaction((trx) => act({ db: trx, effects }));
    this.afterCommit(effects);
    return result;
  }

  /**
   * The hot path of a command in two round trips: `act` reads the instance with its waits in one statement
   * (setting readRev), moves it, and writes everything in one statement that applies only if the instance is
   * still at that revision: no transaction, no lock. A lost race reads again; what needs more than that one
   * write (an incident), or a race lost again and again, runs as the locked command `locked`.
   */
  private async optimistic(act: (cx: Command) => Promise<void>, locked: () => Promise<void>): Promise<void> {
    for (let attempt = 0; attempt < OPTIMISTIC_TRIES; attempt++) {
      const effects: Effects = { jobs: [], events: [], kick: false };
      try {
        await act({ db: this.knex, effects, readRev: -1 });
      } catch (err) {
        if (err instanceof Conflict) continue;
        if (err instanceof NeedsLock) break;
        throw err;
      }
      this.afterCommit(effects);
      return;
    }
    await locked();
  }

  private afterCommit(effects: Effects): void {
    if (!this.immediate) {
      this.kick();
      return;
    }
    if (effects.events.length) this.track(this.outbox.deliverClaimed(effects.events));
    for (const job of effects.jobs) {
      const worker = this.workers.get(job.job_type!)!;
      this.track(worker.lane.run(() => this.runJob(job, worker.handler)));
    }
    if (effects.kick) this.kick();
  }

  private track(work: Promise<unknown>): void {
    const tracked = work
      .catch((err) => this.logger.error({ err }, 'engine dispatch failed; the poller takes it over'))
      .finally(() => this.inflight.delete(tracked));
    this.inflight.add(tracked);
  }

  /** Writes events to the outbox, claimed for delivery right after the commit when this process listens. */
  private async addEvents(cx: Command, events: PendingEvent[]): Promise<void> {
    const effects = cx.effects;
    const claimed = await this.outbox.addMany(cx.db, events, Boolean(effects) && this.claiming());
    effects?.events.push(...claimed);
  }

  private claiming(): boolean {
    return this.immediate && !this.closed;
  }

  /** Background polling right after a command, so events and jobs do not wait for the next interval. */
  private kick(): void {
    if (!this.autoPoll || this.closed) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = (async () => {
      do {
        this.pollAgain = false;
        try {
          await this.drain();
        } catch (err) {
          this.logger.error({ err }, 'engine poll failed');
        }
      } while (this.pollAgain && !this.closed);
    })().finally(() => {
      this.polling = undefined;
    });
  }

  private async fireDueTimers(): Promise<number> {
    const claimed = await claimDueTimers(this.knex, this.clock.now(), TIMER_CLAIM_MS, BATCH);
    let fired = 0;
    for (const timer of claimed) {
      await this.command(async (cx) => {
        const row = await instanceStore.lock(cx.db, timer.instance_key);
        const waits = await instanceStore.waits(cx.db, row.key);
        const wait = waits.find((w) => w.key === timer.key);
        if (!wait || row.status !== 'active') return;
        if (row.parked_incident_key) return; // stays claimed for a while; fires once the incident is resolved
        await this.advance(cx, row, { kind: 'timer', waitKey: wait.key }, waits);
        fired++;
      });
    }
    return fired;
  }

  private async runDueJobs(): Promise<number> {
    const jobs = await activateJobs(this.knex, [...this.workers.keys()], this.clock.now(), this.jobTimeoutMs, BATCH);
    await Promise.all(
      jobs.map((job) => {
        const worker = this.workers.get(job.job_type!)!;
        return worker.lane.run(() => this.runJob(job, worker.handler));
      }),
    );
    return jobs.length;
  }

  /** Runs a handler outside any transaction, then records the outcome in one. */
  private async runJob(row: WaitRow, handler: JobHandler): Promise<void> {
    let output: Variables;
    try {
      output = sanitizeVariables((await handler(toJob(row))) ?? {});
    } catch (err) {
      if (err instanceof BpmnError) await this.jobThrewError(row, err);
      else await this.jobFailed(row, err);
      return;
    }
    const complete = async (cx: Command, instance: InstanceRow, _wait: WaitRow, waits: WaitRow[]) => {
      await this.advance(cx, instance, { kind: 'completeJob', waitKey: row.key, variables: output }, waits);
    };
    try {
      await this.optimistic(
        async (cx) => {
          const loaded = await instanceStore.load(cx.db, { key: row.instance_key });
          if (!loaded) return;
          cx.readRev = loaded.row.rev;
          const wait = loaded.waits.find((w) => w.key === row.key);
          // Gone (completed elsewhere, interrupted, canceled) or given back to the pool: a stale result is dropped.
          if (wait?.state !== 'activated' || loaded.row.status !== 'active') return;
          if (loaded.row.parked_incident_key) throw new NeedsLock();
          await complete(cx, loaded.row, wait, loaded.waits);
        },
        () => this.onActivatedJob(row, complete),
      );
    } catch (err) {
      this.logger.error({ err, jobKey: row.key }, 'completing a job failed; it will run again');
    }
  }

  private async onActivatedJob(row: WaitRow, act: (cx: Command, instance: InstanceRow, wait: WaitRow, waits: WaitRow[]) => Promise<void>) {
    await this.command(async (cx) => {
      let instance: InstanceRow;
      try {
        instance = await instanceStore.lock(cx.db, row.instance_key);
      } catch (err) {
        if (err instanceof InstanceNotFoundError) return;
        throw err;
      }
      const waits = await instanceStore.waits(cx.db, instance.key);
      const wait = waits.find((w) => w.key === row.key);
      // Gone (completed elsewhere, interrupted, canceled) or given back to the pool: a stale result is dropped.
      if (wait?.state !== 'activated' || instance.status !== 'active') return;
      if (instance.parked_incident_key) {
        await cx.db('engine_waits')
          .where({ key: wait.key })
          .update({ state: 'open', due_at: new Date(this.clock.now().getTime() + DEFER_MS), claimed_until: null });
        return;
      }
      await act(cx, instance, wait, waits);
    });
  }

  private async jobFailed(row: WaitRow, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    await this.onActivatedJob(row, async (cx, instance, wait) => {
      const retries = (wait.retries ?? 1) - 1;
      if (retries > 0) {
        const attempt = (wait.payload.job?.retries ?? 3) - retries;
        await cx.db('engine_waits')
          .where({ key: wait.key })
          .update({
            state: 'open',
            retries,
            claimed_until: null,
            due_at: new Date(this.clock.now().getTime() + retryBackoffMs(attempt, this.backoffBaseMs)),
          });
        return;
      }
      await this.jobIncident(cx, instance, wait, 'JOB_NO_RETRIES', message);
    });
  }

  private async jobThrewError(row: WaitRow, error: BpmnError): Promise<void> {
    await this.onActivatedJob(row, async (cx, instance, wait, waits) => {
      const definition = await this.definitions.get(cx.db, instance.definition_key);
      const catches = definition.model.elements.get(wait.element_id)?.errorCatches ?? [];
      if (!catches.some((code) => code === null || code === error.errorCode)) {
        await this.jobIncident(cx, instance, wait, 'UNHANDLED_ERROR_EVENT', `no error boundary event catches ${error.errorCode}: ${error.message}`);
        return;
      }
      await this.advance(cx, instance, {
        kind: 'jobError',
        waitKey: wait.key,
        errorCode: error.errorCode,
        message: error.message,
        variables: sanitizeVariables(error.variables),
      }, waits);
    });
  }

  private async jobIncident(cx: Command, instance: InstanceRow, wait: WaitRow, type: string, message: string) {
    await cx.db('engine_waits').where({ key: wait.key }).update({ state: 'failed', retries: 0, claimed_until: null });
    await this.raiseIncident(cx, instance, { elementId: wait.element_id, type, message }, { jobKey: wait.key });
  }

  private async raiseIncident(
    cx: Command,
    instance: InstanceRow,
    failure: { elementId: string; type: string; message: string },
    extra: { jobKey?: string; command?: Trigger },
  ): Promise<string> {
    const incident: Incident = {
      key: await this.keys.next(cx.db),
      instanceKey: instance.key,
      elementId: failure.elementId,
      type: failure.type,
      message: failure.message,
      createdAt: this.clock.now().toISOString(),
    };
    if (extra.jobKey) incident.jobKey = extra.jobKey;
    await cx.db('engine_incidents').insert({
      key: incident.key,
      instance_key: instance.key,
      element_id: incident.elementId,
      job_key: extra.jobKey ?? null,
      type: incident.type,
      message: incident.message,
      command: extra.command ? JSON.stringify(extra.command) : null,
      state: 'open',
      created_at: this.clock.now(),
    });
    await this.addEvents(cx, [{ type: 'incident', instanceKey: instance.key, payload: incident }]);
    return incident.key;
  }

  // ---- the command core ---------------------------------------------------------------------------------

  /**
   * Rebuilds the instance, applies the trigger, runs to the next wait and saves everything. When anything
   * fails on the way (a FEEL expression, a gateway with no way out), the instance stays as it was before the
   * trigger and an incident holds the trigger, to be replayed by resolveIncident: no step is lost or half done.
   * `waits`: the instance's wait rows when the caller already read them under the lock. `isNew`: the row is
   * not in the database yet (a start): it is inserted with its first state, not inserted and then updated.
   */
  private async advance(cx: Command, row: InstanceRow, trigger: Trigger, waits?: WaitRow[], isNew = false): Promise<void> {
    const definition = await this.definitions.get(cx.db, row.definition_key);
    const existing = trigger.kind === 'start' ? [] : (waits ?? (await instanceStore.waits(cx.db, row.key)));
    const run = new ProcessExecution(definition, structuredClone(row.variables));
    let newWaits: WaitRow[];
    try {
      if (trigger.kind === 'start') run.start();
      else {
        if (!row.state) throw new ExecutionFailure('(process)', 'EXECUTION_ERROR', 'instance has no saved state');
        run.recover(row.state, existing, row.engine_version === EXECUTOR_VERSION);
        this.apply(run, definition, trigger, existing);
      }
      newWaits = await this.newWaits(cx, run, row, definition, existing);
    } catch (err) {
      const failure = asFailure(err);
      if (!failure) throw err;
      if (cx.readRev !== undefined) throw new NeedsLock();
      if (isNew) await instanceStore.insert(cx.db, row);
      await this.park(cx, row, this.committed(row, definition, trigger, existing), failure);
      return;
    }
    await this.reconcile(cx, row, run, trigger, existing, newWaits, isNew);
  }

  private apply(run: ProcessExecution, definition: DeployedDefinition, trigger: Exclude<Trigger, { kind: 'start' }>, existing: WaitRow[]) {
    const wait = existing.find((w) => w.key === trigger.waitKey);
    if (!wait) throw new ExecutionFailure('(process)', 'EXECUTION_ERROR', `wait ${trigger.waitKey} is gone`);
    const element = definition.model.elements.get(wait.element_id)!;
    let moved: boolean;
    switch (trigger.kind) {
      case 'completeTask':
      case 'completeJob':
      case 'message':
        if (!trigger.committed) applyOutputs(element, run.variables, wait.payload.locals, trigger.variables);
        moved = run.signal(wait.execution_id);
        break;
      case 'jobError':
        if (!trigger.committed) Object.assign(run.variables, trigger.variables);
        moved = run.throwError(wait.execution_id, trigger.errorCode);
        break;
      case 'timer':
        moved = run.fireTimer(wait.execution_id);
        break;
    }
    if (!moved) throw new ExecutionFailure(wait.element_id, 'EXECUTION_ERROR', `${wait.element_id} is not waiting in the saved state`);
  }

  /** Rows for elements that started waiting in this run; an element still waiting from before keeps its row. */
  private async newWaits(cx: Command, run: ProcessExecution, row: InstanceRow, definition: DeployedDefinition, existing: WaitRow[]) {
    const known = new Set(existing.map((w) => w.execution_id));
    const rows: WaitRow[] = [];
    for (const pending of run.waits()) {
      if (known.has(pending.executionId)) continue;
      const element = definition.model.elements.get(pending.elementId)!;
      rows.push(
        buildWait(pending, element, {
          key: await this.keys.next(cx.db),
          instanceKey: row.key,
          definition,
          variables: run.variables,
          clock: this.clock,
        }),
      );
    }
    return rows;
  }

  private async reconcile(
    cx: Command,
    row: InstanceRow,
    run: ProcessExecution,
    trigger: Trigger,
    existing: WaitRow[],
    newWaits: WaitRow[],
    isNew: boolean,
  ): Promise<void> {
    const waiting = new Set(run.waits().map((w) => w.executionId));
    const gone = existing.filter((w) => !waiting.has(w.execution_id));
    const triggerKey = 'waitKey' in trigger ? trigger.waitKey : undefined;
    const events: PendingEvent[] = [];
    for (const wait of gone) {
      if (wait.kind === 'user-task' && wait.state === 'open' && wait.key !== triggerKey)
        events.push({
          type: 'userTaskCanceled',
          instanceKey: row.key,
          payload: { taskKey: wait.key, instanceKey: row.key, elementId: wait.element_id, reason: 'interrupted' },
        });
    }
    for (const wait of newWaits)
      if (wait.payload.task) events.push({ type: 'userTaskCreated', instanceKey: row.key, payload: wait.payload.task });

    row.variables = run.variables;
    row.history = [...row.history, ...run.completedElements];
    row.parked_incident_key = null;
    if (run.ended) events.push(this.ended(row, 'completed'));
    else {
      row.state = run.state();
      row.engine_version = EXECUTOR_VERSION;
      row.updated_at = this.clock.now();
    }

    const effects = cx.effects;
    const claiming = Boolean(effects) && this.claiming();
    const jobs = claiming ? this.claimJobs(newWaits, effects!) : [];
    const outbox = events.map((e) => this.outbox.row(e, claiming));
    const expectRev = isNew || cx.readRev === undefined ? undefined : cx.readRev;
    const written = await instanceStore.write(cx.db, { row, insert: isNew, goneWaitKeys: gone.map((w) => w.key), newWaits, events: outbox, expectRev });
    if (!written.applied) throw new Conflict();
    const ids = written.ids;
    if (effects) {
      effects.jobs.push(...jobs);
      effects.events.push(...claimedOf(outbox, ids));
      const soon = this.clock.now().getTime() + this.pollIntervalMs;
      if (newWaits.some((w) => w.kind === 'timer' && w.due_at && w.due_at.getTime() < soon)) effects.kick = true;
    }
  }

  /**
   * Marks the new jobs this process will run right after the commit as activated (the same lock the poller
   * takes), as long as their worker's queue has room; the others stay open for the poller.
   */
  private claimJobs(newWaits: WaitRow[], effects: Effects): WaitRow[] {
    const claimed: WaitRow[] = [];
    const until = new Date(this.clock.now().getTime() + this.jobTimeoutMs);
    for (const wait of newWaits) {
      if (wait.kind !== 'job') continue;
      const worker = this.workers.get(wait.job_type!);
      if (!worker || worker.lane.pending >= worker.lane.limit * QUEUE_FACTOR) {
        if (worker) effects.kick = true;
        continue;
      }
      wait.state = 'activated';
      wait.claimed_until = until;
      claimed.push(wait);
    }
    return claimed;
  }

  /** Marks the row ended and returns its instanceEnded event. */
  private ended(row: InstanceRow, state: 'completed' | 'canceled'): PendingEvent {
    const now = this.clock.now();
    row.status = state;
    row.state = null;
    row.updated_at = now;
    row.ended_at = now;
    row.parked_incident_key = null;
    return {
      type: 'instanceEnded',
      instanceKey: row.key,
      payload: {
        instanceKey: row.key,
        processId: row.process_id,
        processVersion: row.version,
        state,
        variables: row.variables,
      } satisfies InstanceEnded,
    };
  }

  private async finish(cx: Command, row: InstanceRow, state: 'completed' | 'canceled'): Promise<void> {
    const event = this.ended(row, state);
    await instanceStore.save(cx.db, row);
    await this.addEvents(cx, [event]);
  }

  /**
   * As on Zeebe, a completion stands when an element after it fails: its variables are written now, and the
   * trigger kept for resolveIncident no longer carries them, so a fix made with setVariables in between is what
   * the failed element sees. When the completion's own output mapping fails, nothing of it is written.
   */
  private committed(row: InstanceRow, definition: DeployedDefinition, trigger: Trigger, existing: WaitRow[]): Trigger {
    if (trigger.kind === 'start' || trigger.kind === 'timer' || trigger.committed) return trigger;
    const wait = existing.find((w) => w.key === trigger.waitKey);
    const element = wait && definition.model.elements.get(wait.element_id);
    if (!wait || !element) return trigger;
    const variables = structuredClone(row.variables);
    try {
      if (trigger.kind === 'jobError') Object.assign(variables, trigger.variables);
      else applyOutputs(element, variables, wait.payload.locals, trigger.variables);
    } catch (err) {
      if (asFailure(err)) return trigger;
      throw err;
    }
    row.variables = variables;
    return { ...trigger, variables: {}, committed: true };
  }

  private async park(cx: Command, row: InstanceRow, trigger: Trigger, failure: RunFailure) {
    if ('waitKey' in trigger) await cx.db('engine_waits').where({ key: trigger.waitKey }).update({ state: 'consumed' });
    row.parked_incident_key = await this.raiseIncident(cx, row, failure, { command: trigger });
    row.updated_at = this.clock.now();
    await instanceStore.save(cx.db, row);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.interval) clearInterval(this.interval);
    await this.polling;
    // Commands from now on claim nothing, so this ends; what is still claimed runs out to another poller.
    await this.settleDispatches();
    await this.outbox.idle();
  }

  private assertOpen() {
    if (this.closed) throw new EngineError('ENGINE_CLOSED', 'the engine is closed');
  }
}

function asFailure(err: unknown): RunFailure | undefined {
  if (err instanceof ExecutionFailure) return { elementId: err.elementId, type: err.type, message: err.message };
  if (err instanceof ElementFailure) return { elementId: err.elementId, type: 'EXPRESSION_ERROR', message: err.message };
  if (err instanceof FeelError) return { elementId: '(process)', type: 'EXPRESSION_ERROR', message: err.message };
  return undefined;
}

function toIncident(row: any): Incident {
  const incident: Incident = {
    key: row.key,
    instanceKey: row.instance_key,
    elementId: row.element_id,
    type: row.type,
    message: row.message,
    createdAt: new Date(row.created_at).toISOString(),
  };
  if (row.job_key) incident.jobKey = row.job_key;
  return incident;
}
