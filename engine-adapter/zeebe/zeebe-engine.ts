import { Zeebe as Sdk } from '@camunda8/sdk';
import type { Knex } from 'knex';
import { type Clock, systemClock } from '../clock.ts';
import {
  BpmnError,
  type DeployedProcess,
  EngineError,
  type Incident,
  type InstanceEnded,
  type InstanceInfo,
  type JobHandler,
  type StartOptions,
  TaskNotFoundError,
  type UserTask,
  type UserTaskCanceled,
  type Variables,
  type WorkerOptions,
  type WorkflowEngine,
} from '../contract.ts';
import { type EngineLogger, silentLogger } from '../embedded/logger.ts';
import { sdkConfig, type ZeebeEngineOptions } from './config.ts';
import { deploymentErrorFrom, END_JOB_TYPE, prepareDeployment } from './deployment.ts';
import { type ActivatedJob, WorkerPool } from './job-workers.ts';
import { EventOutbox, type InstanceRow, type InstanceStatus, parseJson, type TaskRow, toIncident } from './store.ts';
import { plainVariables, toUserTask, USER_TASK_JOB_TYPE } from './user-task-worker.ts';

export type { ZeebeEngineOptions };

export interface ZeebeEngine extends WorkflowEngine {
  /**
   * Waits for the job handlers running now, renews every open task and held job (noticing those that vanished),
   * and delivers pending events. Returns the work found; 0 means quiet. Tests call it instead of timers.
   */
  settle(): Promise<number>;
  /** Stops without waiting for anything, as if the process died (tests of crash recovery). */
  abort(): Promise<void>;
  /** The service task types with a registered worker (test harnesses wait for their first poll). */
  workerTypes(): string[];
}

/** gRPC status codes the adapter tells apart. */
const GRPC = { NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9, INVALID_ARGUMENT: 3, UNAVAILABLE: 14 } as const;

function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}
function grpcDetails(err: unknown): string {
  return String((err as { details?: string })?.details ?? (err as Error)?.message ?? err);
}

/** Starts the adapter: connects, checks the topology (fails fast when the gateway is unreachable), starts workers. */
export async function createZeebeEngine(options: ZeebeEngineOptions): Promise<ZeebeEngine> {
  const engine = new Zeebe(options);
  await engine.connect();
  return engine;
}

/**
 * WorkflowEngine on a Camunda 8 cluster over gRPC. The cluster owns process state; the adapter owns what gRPC
 * cannot answer later: user tasks mirrored from `io.camunda.zeebe:userTask` jobs, the instance end seen through
 * an end-event job, incidents of workers out of retries, and the events still to deliver (zeebe_* tables).
 */
class Zeebe implements ZeebeEngine {
  private readonly knex: Knex;
  private readonly clock: Clock;
  private readonly logger: EngineLogger;
  private readonly client: Sdk.ZeebeGrpcClient;
  private readonly workers: WorkerPool;
  private readonly outbox: EventOutbox;
  private readonly names = new Map<string, Record<string, string>>();
  private readonly workerName: string;
  private readonly longPollMs: number;
  private readonly jobTimeoutMs: number;
  private readonly userTaskLockMs: number;
  private readonly heartbeatMs: number;
  private readonly backoffMs: number;
  private readonly defaultRetries: number;
  private readonly background: boolean;
  private readonly timers: NodeJS.Timeout[] = [];
  private delivering?: Promise<void>;
  private deliverAgain = false;
  private closed = false;

  constructor(private readonly options: ZeebeEngineOptions) {
    if (!options.knex) throw new EngineError('ZEEBE_CONFIG', 'the Zeebe adapter needs the server database (knex) for its task mirror');
    this.knex = options.knex;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.workerName = options.workerName ?? `visitflow-${process.pid}`;
    this.longPollMs = options.longPollMs ?? 10_000;
    this.jobTimeoutMs = options.jobTimeoutMs ?? 300_000;
    this.userTaskLockMs = options.userTaskLockMs ?? 600_000;
    this.heartbeatMs = options.heartbeatIntervalMs ?? 30_000;
    this.backoffMs = options.retryBackoffMs ?? 1000;
    this.defaultRetries = options.defaultRetries ?? 3;
    this.background = options.background ?? true;
    this.client = new Sdk.ZeebeGrpcClient({ config: sdkConfig(options, this.longPollMs) as any });
    this.workers = new WorkerPool(this.client, this.logger);
    this.outbox = new EventOutbox(this.knex, this.clock, this.logger);
  }

  async connect(): Promise<void> {
    const ms = this.options.connectTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.client.topology(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
        }),
      ]);
    } catch (err) {
      await this.abort();
      throw new EngineError(
        'ZEEBE_UNREACHABLE',
        `cannot reach the Zeebe gateway at ${this.options.address}: ${grpcDetails(err)}. ` +
          'Check ZEEBE_ADDRESS, plaintext vs TLS (ZEEBE_INSECURE_CONNECTION) and the OAuth client settings.',
      );
    } finally {
      clearTimeout(timer);
    }
    this.workers.start(this.spec(USER_TASK_JOB_TYPE, 32, this.userTaskLockMs), (job) => this.mirrorUserTask(job));
    this.workers.start(this.spec(END_JOB_TYPE, 32, this.jobTimeoutMs), (job) => this.instanceReachedEnd(job));
    if (this.background) {
      const every = (ms: number, fn: () => Promise<unknown>) => {
        const t = setInterval(() => {
          fn().catch((err) => this.logger.error({ err }, 'zeebe adapter background work failed'));
        }, ms);
        t.unref();
        this.timers.push(t);
      };
      every(this.options.deliveryIntervalMs ?? 1000, async () => this.kick());
      every(this.heartbeatMs, () => this.heartbeat(false));
    }
  }

  private spec(type: string, concurrency: number, timeoutMs: number) {
    return { type, concurrency, timeoutMs, longPollMs: this.longPollMs, workerName: this.workerName };
  }

  // ---- contract: definitions and instances -------------------------------------------------------------

  async deploy(name: string, xml: string): Promise<DeployedProcess[]> {
    this.assertOpen();
    const prepared = await prepareDeployment(xml);
    let response: { deployments: unknown[] };
    try {
      response = await this.client.deployResource({ name, process: Buffer.from(prepared.xml, 'utf8') });
    } catch (err) {
      if (grpcCode(err) === GRPC.INVALID_ARGUMENT) throw deploymentErrorFrom(grpcDetails(err)) ?? toEngineError(err);
      throw toEngineError(err);
    }
    const deployed: DeployedProcess[] = [];
    for (const d of response.deployments as any[]) {
      const p = d.process;
      if (!p) continue;
      const meta = prepared.processes.find((x) => x.processId === p.bpmnProcessId);
      const entry: DeployedProcess = {
        processId: p.bpmnProcessId,
        name: meta?.name ?? p.bpmnProcessId,
        version: Number(p.version),
        key: String(p.processDefinitionKey),
      };
      deployed.push(entry);
      this.names.set(entry.key, meta?.elementNames ?? {});
      await this.knex('zeebe_processes')
        .insert({
          definition_key: entry.key,
          process_id: entry.processId,
          version: entry.version,
          name: entry.name,
          element_names: JSON.stringify(meta?.elementNames ?? {}),
          deployed_at: this.clock.now(),
        })
        .onConflict('definition_key')
        .ignore();
    }
    return deployed;
  }

  async start(processId: string, variables: Variables, options?: StartOptions): Promise<{ instanceKey: string; version: number }> {
    this.assertOpen();
    let response: { processInstanceKey: string; version: number; processDefinitionKey: string; bpmnProcessId: string };
    try {
      response = (await this.client.createProcessInstance({
        bpmnProcessId: processId,
        version: options?.version ?? -1,
        variables: variables as any,
      } as any)) as any;
    } catch (err) {
      if (grpcCode(err) === GRPC.NOT_FOUND)
        throw new EngineError('PROCESS_NOT_FOUND', `no deployed process ${processId}${options?.version ? ` version ${options.version}` : ''}`);
      throw toEngineError(err);
    }
    const now = this.clock.now();
    const instanceKey = String(response.processInstanceKey);
    await this.knex('zeebe_instances')
      .insert({
        instance_key: instanceKey,
        process_id: processId,
        version: Number(response.version),
        definition_key: String(response.processDefinitionKey),
        status: 'active',
        variables: JSON.stringify(variables),
        history: JSON.stringify([]),
        started_at: now,
        updated_at: now,
      })
      .onConflict('instance_key')
      .ignore();
    return { instanceKey, version: Number(response.version) };
  }

  async completeUserTask(taskKey: string, variables: Variables = {}): Promise<void> {
    this.assertOpen();
    const now = this.clock.now();
    // The claim serialises completions across server processes: exactly one of them sends CompleteJob.
    const [claimed]: TaskRow[] = await this.knex('zeebe_user_tasks')
      .where({ job_key: taskKey })
      .andWhere((q) =>
        q.where({ state: 'open' }).orWhere((q2) => q2.where({ state: 'completing' }).andWhere('claimed_until', '<', now)),
      )
      .update({ state: 'completing', claimed_until: new Date(now.getTime() + 30_000) })
      .returning('*');
    if (!claimed) throw new TaskNotFoundError(taskKey);
    try {
      await this.client.completeJob({ jobKey: taskKey, variables: variables as any });
    } catch (err) {
      if (grpcCode(err) === GRPC.NOT_FOUND) {
        await this.taskVanished(taskKey);
        this.kick();
        throw new TaskNotFoundError(taskKey);
      }
      await this.knex('zeebe_user_tasks').where({ job_key: taskKey, state: 'completing' }).update({ state: 'open', claimed_until: null });
      throw toEngineError(err);
    }
    await this.knex.transaction(async (trx) => {
      await trx('zeebe_user_tasks').where({ job_key: taskKey }).update({ state: 'completed', claimed_until: null });
      const task = parseJson<UserTask>(claimed.task);
      await this.recordStep(trx, claimed.instance_key, task.elementId, { ...task.variables, ...variables });
    });
  }

  async publishMessage(name: string, correlationKey: string, variables: Variables = {}): Promise<void> {
    this.assertOpen();
    try {
      // Time-to-live 0, as on the embedded engine: a message nobody waits for is dropped, not buffered.
      await this.client.publishMessage({ name, correlationKey: String(correlationKey), variables: variables as any, timeToLive: 0 });
    } catch (err) {
      throw toEngineError(err);
    }
  }

  async cancel(instanceKey: string): Promise<void> {
    this.assertOpen();
    const row: InstanceRow | undefined = await this.knex('zeebe_instances').where({ instance_key: instanceKey }).first();
    if (row && row.status !== 'active' && row.status !== 'canceling')
      throw new EngineError('INSTANCE_NOT_ACTIVE', `instance ${instanceKey} is ${row.status}`);
    // Marked first, so that a completion that loses the race to the cancel reports its task as withdrawn by it.
    if (row) await this.knex('zeebe_instances').where({ instance_key: instanceKey, status: 'active' }).update({ status: 'canceling' });
    try {
      await this.client.cancelProcessInstance(instanceKey);
    } catch (err) {
      if (row) await this.knex('zeebe_instances').where({ instance_key: instanceKey, status: 'canceling' }).update({ status: 'active' });
      if (grpcCode(err) === GRPC.NOT_FOUND) throw new EngineError('INSTANCE_NOT_ACTIVE', `instance ${instanceKey} is not active`);
      throw toEngineError(err);
    }
    await this.knex.transaction(async (trx) => {
      const current: InstanceRow | undefined = await trx('zeebe_instances').where({ instance_key: instanceKey }).forUpdate().first();
      if (!current || current.status === 'completed' || current.status === 'canceled') return;
      await this.endInstance(trx, current, 'canceled', parseJson<Variables>(current.variables), 'instance-canceled');
    });
    this.kick();
  }

  async setVariables(instanceKey: string, variables: Variables): Promise<void> {
    this.assertOpen();
    try {
      await this.client.setVariables({ elementInstanceKey: instanceKey, variables, local: false });
    } catch (err) {
      if (grpcCode(err) === GRPC.NOT_FOUND) throw new EngineError('INSTANCE_NOT_ACTIVE', `instance ${instanceKey} is not active`);
      throw toEngineError(err);
    }
    await this.knex.transaction(async (trx) => {
      const row: InstanceRow | undefined = await trx('zeebe_instances').where({ instance_key: instanceKey }).forUpdate().first();
      if (!row) return;
      await trx('zeebe_instances')
        .where({ instance_key: instanceKey })
        .update({ variables: JSON.stringify({ ...parseJson<Variables>(row.variables), ...variables }), updated_at: this.clock.now() });
    });
  }

  /**
   * What this adapter has seen: without Operate, Zeebe answers no queries over gRPC. Known: status (started,
   * ended by an end-event job or by our cancel), open user tasks and jobs held behind incidents, elements whose
   * job or task completed, and the variables of the last job seen (exact once the instance has ended).
   * Not known: jobs no worker has activated yet, timers, message subscriptions, and elements without a job.
   */
  async getInstance(instanceKey: string): Promise<InstanceInfo | undefined> {
    const row: InstanceRow | undefined = await this.knex('zeebe_instances').where({ instance_key: instanceKey }).first();
    if (!row) return undefined;
    const open: Array<{ element_id: string }> = await this.knex('zeebe_user_tasks')
      .select('element_id')
      .where({ instance_key: instanceKey })
      .whereIn('state', ['open', 'completing']);
    const incidents = await this.listIncidents(instanceKey);
    const info: InstanceInfo = {
      instanceKey,
      processId: row.process_id,
      processVersion: row.version,
      processDefinitionKey: row.definition_key,
      status: row.status === 'canceling' ? 'active' : row.status,
      currentElementIds: [...new Set([...open.map((t) => t.element_id), ...incidents.map((i) => i.elementId)])],
      completedElementIds: parseJson<string[]>(row.history),
      variables: parseJson<Variables>(row.variables),
      incidents,
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
    this.assertOpen();
    if (type === USER_TASK_JOB_TYPE || type === END_JOB_TYPE) throw new EngineError('WORKER_RESERVED', `${type} is handled by the adapter`);
    this.workers.start(this.spec(type, options?.concurrency ?? 8, this.jobTimeoutMs), (job) => this.runJob(job, handler));
  }

  async listIncidents(instanceKey?: string): Promise<Incident[]> {
    const query = this.knex('zeebe_incidents').where({ state: 'open' }).orderBy('created_at').orderBy('key');
    if (instanceKey) query.andWhere({ instance_key: instanceKey });
    return (await query).map(toIncident);
  }

  /**
   * The incident is the adapter's own (see runJob): its job is still activated and held. Giving it back with
   * FailJob and fresh retries makes it activatable at once; if its lock had lapsed meanwhile, UpdateJobRetries
   * gives the retries to the waiting job instead.
   */
  async resolveIncident(incidentKey: string, retries?: number): Promise<void> {
    this.assertOpen();
    if (!/^\d+$/.test(incidentKey)) throw new EngineError('INCIDENT_NOT_FOUND', `no open incident ${incidentKey}`);
    const [incident] = await this.knex('zeebe_incidents')
      .where({ key: incidentKey, state: 'open' })
      .update({ state: 'resolved', resolved_at: this.clock.now() })
      .returning('*');
    if (!incident) throw new EngineError('INCIDENT_NOT_FOUND', `no open incident ${incidentKey}`);
    const count = retries ?? this.defaultRetries;
    try {
      await this.client.failJob({ jobKey: incident.job_key, retries: count, errorMessage: 'incident resolved: retrying', retryBackOff: 0 });
    } catch (err) {
      const code = grpcCode(err);
      if (code === GRPC.NOT_FOUND) {
        await this.knex('zeebe_incidents').where({ key: incidentKey }).update({ state: 'obsolete' });
        return;
      }
      if (code === GRPC.FAILED_PRECONDITION) {
        await this.client.updateJobRetries({ jobKey: incident.job_key, retries: count }).catch(() => undefined);
        return;
      }
      await this.knex('zeebe_incidents').where({ key: incidentKey }).update({ state: 'open', resolved_at: null });
      throw toEngineError(err);
    }
  }

  // ---- job handling -------------------------------------------------------------------------------------

  private async runJob(job: ActivatedJob, handler: JobHandler): Promise<void> {
    // A held job whose lock lapsed (every server was down) comes back: it stays held until the incident is resolved.
    if (await this.knex('zeebe_incidents').where({ job_key: job.key, state: 'open' }).first()) {
      job.forward();
      await this.renew(job.key, this.jobTimeoutMs);
      return;
    }
    await this.seeInstance(job);
    const variables = plainVariables(job.variables);
    let output: Variables;
    try {
      output = plainVariables(
        ((await handler({
          key: job.key,
          type: job.type,
          instanceKey: job.processInstanceKey,
          processId: job.bpmnProcessId,
          elementId: job.elementId,
          headers: stringHeaders(job.customHeaders),
          variables,
          retries: job.retries,
        })) ?? {}) as Variables,
      );
    } catch (err) {
      if (err instanceof BpmnError) {
        await job.error({ errorCode: err.errorCode, errorMessage: err.message, variables: err.variables });
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      const retries = job.retries - 1;
      if (retries > 0) {
        const attempt = Math.max(0, this.defaultRetries - job.retries);
        await job.fail({ errorMessage: message, retries, retryBackOff: this.backoffMs * 2 ** Math.min(attempt, 10) });
        return;
      }
      await this.raiseIncident(job, message);
      return;
    }
    try {
      await job.complete(output);
    } catch (err) {
      // Gone meanwhile (instance canceled, boundary event): a stale result is dropped, as on the embedded engine.
      if (grpcCode(err) !== GRPC.NOT_FOUND) throw err;
      return;
    }
    await this.knex.transaction((trx) => this.recordStep(trx, job.processInstanceKey, job.elementId, { ...variables, ...output }));
  }

  /**
   * Out of retries. Zeebe would raise its own incident on FailJob(retries 0), but resolving one needs its
   * incident key, which no gRPC response carries (only Operate's API knows it). So the adapter keeps the job
   * activated, renews its lock with the heartbeat, and records the incident itself; resolveIncident hands the
   * job back with new retries.
   */
  private async raiseIncident(job: ActivatedJob, message: string): Promise<void> {
    job.forward();
    const now = this.clock.now();
    await this.knex.transaction(async (trx) => {
      const [row] = await trx('zeebe_incidents')
        .insert({
          instance_key: job.processInstanceKey,
          element_id: job.elementId,
          job_key: job.key,
          type: 'JOB_NO_RETRIES',
          message,
          state: 'open',
          checked_at: now,
          created_at: now,
        })
        .returning('*');
      await this.outbox.add(trx, 'incident', `incident:${row.key}`, toIncident(row));
    });
    this.kick();
  }

  private async mirrorUserTask(job: ActivatedJob): Promise<void> {
    // The job stays activated for as long as the task is open; the heartbeat renews its lock.
    job.forward();
    const names = await this.elementNames(job.processDefinitionKey);
    const task = toUserTask(job, names[job.elementId]);
    const now = this.clock.now();
    await this.knex.transaction(async (trx) => {
      const instance = await this.seeInstance(job, trx);
      if (instance.status !== 'active') return; // activated just before its instance went: never announced
      const inserted = await trx('zeebe_user_tasks')
        .insert({
          job_key: task.taskKey,
          instance_key: task.instanceKey,
          element_id: task.elementId,
          state: 'open',
          task: JSON.stringify(task),
          checked_at: now,
          created_at: now,
        })
        .onConflict('job_key')
        .ignore()
        .returning('job_key');
      if (inserted.length) await this.outbox.add(trx, 'userTaskCreated', `created:${task.taskKey}`, task);
      else await trx('zeebe_user_tasks').where({ job_key: task.taskKey, state: 'open' }).update({ checked_at: now });
    });
    this.kick();
  }

  /**
   * An end event ends the instance only when no other path of it still runs (a non-interrupting timer's path,
   * a parallel branch). gRPC cannot ask that directly, so once the end event's job is done the adapter sets no
   * variables on the instance: NOT_FOUND means the instance is gone, i.e. it ended. Zeebe processes the job's
   * follow-up (the process completing) before any command sent after the job completion was answered.
   */
  private async instanceReachedEnd(job: ActivatedJob): Promise<void> {
    const variables = plainVariables(job.variables);
    const open = await this.knex.transaction(async (trx) => {
      await this.seeInstance(job, trx);
      const instance: InstanceRow = await trx('zeebe_instances').where({ instance_key: job.processInstanceKey }).forUpdate().first();
      if (instance.status === 'completed' || instance.status === 'canceled') return false;
      const history = parseJson<string[]>(instance.history);
      // A redelivered end job (the adapter stopped before completing it) is not a second visit.
      const again = instance.end_seen_at && history.at(-1) === job.elementId;
      await trx('zeebe_instances')
        .where({ instance_key: instance.instance_key })
        .update({
          history: JSON.stringify(again ? history : [...history, job.elementId]),
          variables: JSON.stringify(variables),
          end_seen_at: this.clock.now(),
          updated_at: this.clock.now(),
        });
      return true;
    });
    try {
      await job.complete({});
    } catch (err) {
      if (grpcCode(err) !== GRPC.NOT_FOUND) throw err;
    }
    if (open) await this.confirmEnd(job.processInstanceKey);
    this.kick();
  }

  /** Asks the cluster whether an instance that reached an end event still runs, and ends it here if not. */
  private async confirmEnd(instanceKey: string): Promise<void> {
    let running: boolean;
    try {
      await this.client.setVariables({ elementInstanceKey: instanceKey, variables: {}, local: false });
      running = true;
    } catch (err) {
      if (grpcCode(err) !== GRPC.NOT_FOUND) {
        this.logger.warn?.({ err, instanceKey }, 'asking whether an instance ended failed; the heartbeat asks again');
        return;
      }
      running = false;
    }
    await this.knex.transaction(async (trx) => {
      const row: InstanceRow | undefined = await trx('zeebe_instances').where({ instance_key: instanceKey }).forUpdate().first();
      if (!row || row.status === 'completed' || row.status === 'canceled' || !row.end_seen_at) return;
      if (running) await trx('zeebe_instances').where({ instance_key: instanceKey }).update({ end_seen_at: null });
      else await this.endInstance(trx, row, 'completed', parseJson<Variables>(row.variables), 'interrupted');
    });
  }

  private async endInstance(
    trx: Knex.Transaction,
    row: InstanceRow,
    state: 'completed' | 'canceled',
    variables: Variables,
    taskReason: UserTaskCanceled['reason'],
  ): Promise<void> {
    const now = this.clock.now();
    await trx('zeebe_instances')
      .where({ instance_key: row.instance_key })
      .update({
        status: state,
        variables: JSON.stringify(variables),
        history: JSON.stringify(parseJson<string[]>(row.history)),
        updated_at: now,
        ended_at: now,
      });
    const open: TaskRow[] = await trx('zeebe_user_tasks').where({ instance_key: row.instance_key, state: 'open' });
    for (const task of open) await this.withdraw(trx, task, taskReason);
    await trx('zeebe_incidents').where({ instance_key: row.instance_key, state: 'open' }).update({ state: 'obsolete', resolved_at: now });
    await this.outbox.add(trx, 'instanceEnded', `ended:${row.instance_key}`, {
      instanceKey: row.instance_key,
      processId: row.process_id,
      processVersion: row.version,
      state,
      variables,
    });
  }

  private async withdraw(trx: Knex.Transaction, task: TaskRow, reason: UserTaskCanceled['reason']): Promise<void> {
    await trx('zeebe_user_tasks').where({ job_key: task.job_key }).update({ state: 'canceled', claimed_until: null });
    await this.outbox.add(trx, 'userTaskCanceled', `canceled:${task.job_key}`, {
      taskKey: task.job_key,
      instanceKey: task.instance_key,
      elementId: task.element_id,
      reason,
    });
  }

  /** The task's job is gone while the task was open: a boundary event interrupted it, or its instance went. */
  private async taskVanished(jobKey: string): Promise<boolean> {
    return this.knex.transaction(async (trx) => {
      const task: TaskRow | undefined = await trx('zeebe_user_tasks').where({ job_key: jobKey }).forUpdate().first();
      if (!task || (task.state !== 'open' && task.state !== 'completing')) return false;
      const instance: InstanceRow | undefined = await trx('zeebe_instances').where({ instance_key: task.instance_key }).first();
      const byCancel = instance?.status === 'canceling' || instance?.status === 'canceled';
      await this.withdraw(trx, task, byCancel ? 'instance-canceled' : 'interrupted');
      return true;
    });
  }

  /** The instance row, created on first sight of a job when another process (or tool) started it. */
  private async seeInstance(job: ActivatedJob, db: Knex | Knex.Transaction = this.knex): Promise<InstanceRow> {
    const now = this.clock.now();
    await db('zeebe_instances')
      .insert({
        instance_key: job.processInstanceKey,
        process_id: job.bpmnProcessId,
        version: Number(job.processDefinitionVersion),
        definition_key: job.processDefinitionKey,
        status: 'active' satisfies InstanceStatus,
        variables: JSON.stringify(plainVariables(job.variables)),
        history: JSON.stringify([]),
        started_at: now,
        updated_at: now,
      })
      .onConflict('instance_key')
      .ignore();
    return db('zeebe_instances').where({ instance_key: job.processInstanceKey }).first();
  }

  private async recordStep(trx: Knex.Transaction, instanceKey: string, elementId: string, variables: Variables): Promise<void> {
    const row: InstanceRow | undefined = await trx('zeebe_instances').where({ instance_key: instanceKey }).forUpdate().first();
    if (!row || row.status === 'completed' || row.status === 'canceled') return;
    await trx('zeebe_instances')
      .where({ instance_key: instanceKey })
      .update({
        history: JSON.stringify([...parseJson<string[]>(row.history), elementId]),
        variables: JSON.stringify({ ...parseJson<Variables>(row.variables), ...variables }),
        updated_at: this.clock.now(),
      });
  }

  private async elementNames(definitionKey: string): Promise<Record<string, string>> {
    let names = this.names.get(definitionKey);
    if (!names) {
      const row = await this.knex('zeebe_processes').where({ definition_key: definitionKey }).first();
      names = row ? parseJson<Record<string, string>>(row.element_names) : {};
      if (row) this.names.set(definitionKey, names);
    }
    return names;
  }

  // ---- heartbeat and delivery ---------------------------------------------------------------------------

  /**
   * Renews the lock of every open task's job and of every job held behind an incident. Zeebe tells no gRPC
   * client that a boundary timer canceled a job, so the renewal doubles as the probe: NOT_FOUND means the job
   * is gone, and the task is withdrawn. `all` ignores the interval (tests, shutdown checks).
   */
  private async heartbeat(all: boolean): Promise<number> {
    const now = this.clock.now();
    const before = all ? now : new Date(now.getTime() - this.heartbeatMs / 2);
    let work = 0;
    const tasks: Array<{ job_key: string }> = await this.knex('zeebe_user_tasks')
      .where({ state: 'open' })
      .andWhere('checked_at', '<=', before)
      .update({ checked_at: now })
      .returning('job_key');
    for (const { job_key } of tasks) {
      if ((await this.renew(job_key, this.userTaskLockMs)) === 'gone' && (await this.taskVanished(job_key))) work++;
    }
    const held: Array<{ key: string; job_key: string }> = await this.knex('zeebe_incidents')
      .where({ state: 'open' })
      .andWhere('checked_at', '<=', before)
      .update({ checked_at: now })
      .returning(['key', 'job_key']);
    for (const incident of held) {
      if ((await this.renew(incident.job_key, this.jobTimeoutMs)) === 'gone')
        await this.knex('zeebe_incidents').where({ key: incident.key, state: 'open' }).update({ state: 'obsolete', resolved_at: now });
    }
    const ending: Array<{ instance_key: string }> = await this.knex('zeebe_instances')
      .whereIn('status', ['active', 'canceling'])
      .andWhere('end_seen_at', '<=', before)
      .select('instance_key');
    for (const { instance_key } of ending) await this.confirmEnd(instance_key);
    if (work) this.kick();
    return work;
  }

  /** 'gone': the job no longer exists; 'waiting': it exists but its lock lapsed (a worker will activate it again). */
  private async renew(jobKey: string, timeoutMs: number): Promise<'renewed' | 'waiting' | 'gone' | 'unknown'> {
    try {
      await this.client.updateJobTimeout({ jobKey, timeout: timeoutMs });
      return 'renewed';
    } catch (err) {
      const code = grpcCode(err);
      if (code === GRPC.NOT_FOUND) return 'gone';
      if (code === GRPC.FAILED_PRECONDITION) return 'waiting';
      this.logger.warn?.({ err, jobKey }, 'renewing a job lock failed');
      return 'unknown';
    }
  }

  private kick(): void {
    if (!this.background || this.closed) return;
    if (this.delivering) {
      this.deliverAgain = true;
      return;
    }
    this.delivering = (async () => {
      do {
        this.deliverAgain = false;
        try {
          while ((await this.outbox.deliver()) > 0 && !this.closed) {}
        } catch (err) {
          this.logger.error({ err }, 'delivering engine events failed');
        }
      } while (this.deliverAgain && !this.closed);
    })().finally(() => {
      this.delivering = undefined;
    });
  }

  /** The service task types with a registered worker (test harnesses wait for their first poll). */
  workerTypes(): string[] {
    return this.workers.types();
  }

  async settle(): Promise<number> {
    if (this.closed) return 0;
    await this.workers.idle(10_000);
    let work = await this.heartbeat(true);
    await this.delivering;
    work += await this.outbox.deliver();
    return work + this.workers.busy;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.workers.close(2000);
    await Promise.race([this.client.close(2000).catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.delivering;
  }

  async abort(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    void this.workers.close(500);
    void this.client.close(500).catch(() => undefined);
  }

  private assertOpen() {
    if (this.closed) throw new EngineError('ENGINE_CLOSED', 'the engine is closed');
  }
}

function stringHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) out[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

function toEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const code = grpcCode(err);
  const name = code === GRPC.UNAVAILABLE ? 'ZEEBE_UNAVAILABLE' : code === GRPC.NOT_FOUND ? 'NOT_FOUND' : 'ZEEBE_ERROR';
  return new EngineError(name, grpcDetails(err));
}
