import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
// @ts-expect-error bpmn-moddle 10 ships its types under an export path its package.json does not map for NodeNext
import { BpmnModdle } from 'bpmn-moddle';
import type { Knex } from 'knex';
import zeebeSchema from 'zeebe-bpmn-moddle/resources/zeebe.json' with { type: 'json' };
import type { FakeClock } from '../../engine-adapter/clock.ts';
import { BpmnError, DeploymentError, EngineError, TaskNotFoundError, type UserTask, type Variables } from '../../engine-adapter/contract.ts';
import { createEmbeddedEngine, type EmbeddedEngine } from '../../engine-adapter/index.ts';

/**
 * A gRPC double of the Zeebe gateway (test code only), serving the gateway proto shipped in @camunda8/sdk.
 * Process behaviour comes from our embedded engine; the double adds what Zeebe does around it: jobs with
 * activation locks, retries, back-off and incidents, long-polling ActivateJobs, user tasks as
 * `io.camunda.zeebe:userTask` jobs with the headers Zeebe sets, and gRPC status codes for rejections.
 * Job locks and back-offs run on the test's FakeClock, like a broker with a controlled clock.
 */

const USER_TASK = 'io.camunda.zeebe:userTask';
const status = grpc.status;

type JobState = 'activatable' | 'activated' | 'failed';
interface DoubleJob {
  key: string;
  type: string;
  instanceKey: string;
  processId: string;
  version: number;
  definitionKey: string;
  elementId: string;
  headers: Record<string, string>;
  variables: Variables;
  retries: number;
  state: JobState;
  dueAt: number;
  deadline: number;
  worker: string;
  activatedAtReal: number;
  /** An RPC about the job arrived since it was handed out: the client has it (it is not in transit). */
  touched: boolean;
  userTask: boolean;
  /** The embedded engine waits on this promise for the job's outcome (service jobs only). */
  outcome?: { resolve(v: Variables): void; reject(e: Error): void };
}

interface Poller {
  call: grpc.ServerWritableStream<any, any>;
  type: string;
  max: number;
  timeoutMs: number;
  worker: string;
  fetch: string[];
  timer?: NodeJS.Timeout;
  done: boolean;
}

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export interface GatewayDouble {
  /** host:port to give the adapter (plaintext). */
  address: string;
  embedded: EmbeddedEngine;
  /** One round of the embedded engine (timers, jobs, events), without waiting for jobs the clients hold. */
  pump(): Promise<number>;
  /** Work the clients have not picked up yet: activatable jobs of types someone polls, jobs just handed out. */
  busy(): number;
  /** Whether any client has asked for jobs of this type yet. */
  hasPolled(type: string): boolean;
  /** Calls received per RPC name (tests of the adapter's own behaviour). */
  calls: Map<string, number>;
  close(): Promise<void>;
}

const protoPath = path.join(path.dirname(createRequire(import.meta.url).resolve('@camunda8/sdk')), 'proto', 'zeebe.proto');

export async function startGatewayDouble(options: { knex: Knex; clock: FakeClock; port?: number }): Promise<GatewayDouble> {
  const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const proto = grpc.loadPackageDefinition(definition) as any;
  const double = new Double(options.knex, options.clock);
  const server = new grpc.Server();
  server.addService(proto.gateway_protocol.Gateway.service, double.handlers());
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  double.port = port;
  return {
    address: `127.0.0.1:${port}`,
    embedded: double.embedded,
    pump: () => double.pump(),
    busy: () => double.busy(),
    hasPolled: (type: string) => double.hasPolled(type),
    calls: double.calls,
    close: async () => {
      double.stop();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await double.embedded.close();
    },
  };
}

class Double {
  readonly embedded: EmbeddedEngine;
  readonly calls = new Map<string, number>();
  port = 0;
  private readonly jobs = new Map<string, DoubleJob>();
  /** Keys of user tasks already completed or withdrawn: a redelivered "created" event must not revive them. */
  private readonly finishedTasks = new Set<string>();
  private readonly endedInstances = new Set<string>();
  private readonly instances = new Map<string, { processId: string; version: number; definitionKey: string }>();
  private readonly incidents = new Map<string, string>();
  private readonly pollers = new Set<Poller>();
  private readonly lastPolled = new Map<string, number>();
  private readonly workerTypes = new Set<string>();
  private nextKey = 2251799813700000;
  private stopped = false;

  constructor(
    private readonly knex: Knex,
    private readonly clock: FakeClock,
  ) {
    // Jobs never expire inside the embedded engine: the double keeps Zeebe's job locks itself.
    this.embedded = createEmbeddedEngine({ knex, clock, autoPoll: false, jobTimeoutMs: 10 * 365 * 86_400_000 });
    this.embedded.onUserTaskCreated((task) => this.userTaskCreated(task));
    this.embedded.onUserTaskCanceled((event) => this.dropJob(event.taskKey));
    this.embedded.onInstanceEnded((event) => {
      this.endedInstances.add(event.instanceKey);
      for (const job of [...this.jobs.values()]) if (job.instanceKey === event.instanceKey) this.dropJob(job.key);
    });
  }

  handlers(): grpc.UntypedServiceImplementation {
    const unary =
      (name: string, fn: (request: any) => Promise<unknown>) =>
      (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
        this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
        fn(call.request).then(
          (response) => callback(null, response ?? {}),
          (err) => {
            const code = err instanceof RpcError ? err.code : status.INTERNAL;
            callback({ code, details: err.message, message: err.message } as grpc.ServiceError);
          },
        );
      };
    return {
      Topology: unary('Topology', async () => ({
        brokers: [{ nodeId: 0, host: '127.0.0.1', port: this.port, partitions: [{ partitionId: 1, role: 'LEADER', health: 'HEALTHY' }], version: '8.8.0-double' }],
        clusterSize: 1,
        partitionsCount: 1,
        replicationFactor: 1,
        gatewayVersion: '8.8.0-double',
      })),
      DeployResource: unary('DeployResource', (r) => this.deploy(r)),
      CreateProcessInstance: unary('CreateProcessInstance', (r) => this.createInstance(r)),
      ActivateJobs: (call: grpc.ServerWritableStream<any, any>) => {
        this.calls.set('ActivateJobs', (this.calls.get('ActivateJobs') ?? 0) + 1);
        this.activateJobs(call);
      },
      CompleteJob: unary('CompleteJob', (r) => this.completeJob(r)),
      FailJob: unary('FailJob', async (r) => this.failJob(r)),
      ThrowError: unary('ThrowError', async (r) => this.throwError(r)),
      PublishMessage: unary('PublishMessage', async (r) => {
        await this.embedded.publishMessage(r.name, r.correlationKey, parseVars(r.variables));
        return { key: this.key(), tenantId: '<default>' };
      }),
      CancelProcessInstance: unary('CancelProcessInstance', async (r) => {
        try {
          await this.embedded.cancel(String(r.processInstanceKey));
        } catch (err) {
          throw new RpcError(
            status.NOT_FOUND,
            `Command 'CANCEL' rejected with code 'NOT_FOUND': Expected to cancel a process instance with key '${r.processInstanceKey}', but no such process was found (${(err as Error).message})`,
          );
        }
        return {};
      }),
      SetVariables: unary('SetVariables', async (r) => {
        try {
          await this.embedded.setVariables(String(r.elementInstanceKey), parseVars(r.variables));
        } catch (err) {
          throw new RpcError(status.NOT_FOUND, `Expected to update variables for element with key '${r.elementInstanceKey}', but no such element was found (${(err as Error).message})`);
        }
        return { key: this.key() };
      }),
      UpdateJobRetries: unary('UpdateJobRetries', async (r) => {
        const job = this.job(String(r.jobKey), 'update retries of');
        job.retries = Number(r.retries);
        return {};
      }),
      UpdateJobTimeout: unary('UpdateJobTimeout', async (r) => {
        const job = this.job(String(r.jobKey), 'update timeout of');
        if (job.state !== 'activated')
          throw new RpcError(status.FAILED_PRECONDITION, `Expected to update the timeout of job '${r.jobKey}', but it is not activated`);
        job.deadline = this.clock.now().getTime() + Number(r.timeout);
        return {};
      }),
      ResolveIncident: unary('ResolveIncident', async (r) => {
        const jobKey = this.incidents.get(String(r.incidentKey));
        if (!jobKey) throw new RpcError(status.NOT_FOUND, `Expected to resolve incident with key '${r.incidentKey}', but no such incident was found`);
        this.incidents.delete(String(r.incidentKey));
        const job = this.jobs.get(jobKey);
        if (job?.state === 'failed') {
          if (job.retries > 0) {
            job.state = 'activatable';
            job.dueAt = this.clock.now().getTime();
            this.dispatch();
          } else this.incidents.set(this.key(), job.key);
        }
        return {};
      }),
    };
  }

  // ---- deployments and instances --------------------------------------------------------------------------

  private async deploy(request: any) {
    const deployments = [];
    for (const resource of request.resources ?? []) {
      const name: string = resource.name;
      const xml = await endJobsAsServiceTasks(Buffer.from(resource.content).toString('utf8'));
      let deployed: Awaited<ReturnType<EmbeddedEngine['deploy']>>;
      try {
        deployed = await this.embedded.deploy(name, xml);
      } catch (err) {
        if (err instanceof DeploymentError) {
          const lines = err.problems.map((p) => `- Element: ${p.elementId}\n    - ERROR: ${p.message}\n`).join('');
          throw new RpcError(
            status.INVALID_ARGUMENT,
            `Command 'CREATE' rejected with code 'INVALID_ARGUMENT': Expected to deploy new resources, but encountered the following errors:\n'${name}': ${lines}`,
          );
        }
        throw err;
      }
      for (const p of deployed)
        deployments.push({ process: { bpmnProcessId: p.processId, version: p.version, processDefinitionKey: p.key, resourceName: name, tenantId: '<default>' } });
    }
    return { key: this.key(), deployments, tenantId: '<default>' };
  }

  private async createInstance(request: any) {
    const version = Number(request.version);
    let started: { instanceKey: string; version: number };
    try {
      started = await this.embedded.start(request.bpmnProcessId, parseVars(request.variables), version > 0 ? { version } : undefined);
    } catch (err) {
      if (err instanceof EngineError && err.code === 'PROCESS_NOT_FOUND')
        throw new RpcError(status.NOT_FOUND, `Command 'CREATE' rejected with code 'NOT_FOUND': Expected to find process definition with process ID '${request.bpmnProcessId}', but none found`);
      throw err;
    }
    const meta = await this.meta(started.instanceKey);
    return {
      processDefinitionKey: meta.definitionKey,
      bpmnProcessId: meta.processId,
      version: meta.version,
      processInstanceKey: started.instanceKey,
      tenantId: '<default>',
    };
  }

  private async meta(instanceKey: string) {
    let meta = this.instances.get(instanceKey);
    if (!meta) {
      const info = await this.embedded.getInstance(instanceKey);
      if (!info) throw new Error(`unknown instance ${instanceKey}`);
      meta = { processId: info.processId, version: info.processVersion, definitionKey: info.processDefinitionKey };
      this.instances.set(instanceKey, meta);
    }
    return meta;
  }

  // ---- jobs -----------------------------------------------------------------------------------------------

  private ensureWorker(type: string) {
    if (type === USER_TASK || this.workerTypes.has(type)) return;
    this.workerTypes.add(type);
    this.embedded.registerWorker(
      type,
      async (job) => {
        const meta = await this.meta(job.instanceKey);
        return new Promise<Variables>((resolve, reject) => {
          const existing = this.jobs.get(job.key);
          if (existing) {
            existing.outcome = { resolve, reject };
            return;
          }
          this.jobs.set(job.key, {
            key: job.key,
            type: job.type,
            instanceKey: job.instanceKey,
            processId: meta.processId,
            version: meta.version,
            definitionKey: meta.definitionKey,
            elementId: job.elementId,
            headers: job.headers,
            variables: job.variables,
            retries: job.retries,
            state: 'activatable',
            dueAt: 0,
            deadline: 0,
            worker: '',
            activatedAtReal: 0,
            touched: false,
            userTask: false,
            outcome: { resolve, reject },
          });
          this.dispatch();
        });
      },
      { concurrency: 1000 },
    );
  }

  private async userTaskCreated(task: UserTask) {
    if (this.finishedTasks.has(task.taskKey) || this.jobs.has(task.taskKey)) return;
    const meta = await this.meta(task.instanceKey);
    const headers: Record<string, string> = { ...task.headers };
    if (task.assignee) headers['io.camunda.zeebe:assignee'] = task.assignee;
    if (task.candidateGroups.length) headers['io.camunda.zeebe:candidateGroups'] = JSON.stringify(task.candidateGroups);
    if (task.candidateUsers.length) headers['io.camunda.zeebe:candidateUsers'] = JSON.stringify(task.candidateUsers);
    if (task.formKey) headers['io.camunda.zeebe:formKey'] = task.formKey;
    if (task.dueDate) headers['io.camunda.zeebe:dueDate'] = task.dueDate;
    this.jobs.set(task.taskKey, {
      key: task.taskKey,
      type: USER_TASK,
      instanceKey: task.instanceKey,
      processId: meta.processId,
      version: meta.version,
      definitionKey: meta.definitionKey,
      elementId: task.elementId,
      headers,
      variables: task.variables,
      retries: 1,
      state: 'activatable',
      dueAt: 0,
      deadline: 0,
      worker: '',
      activatedAtReal: 0,
      touched: false,
      userTask: true,
    });
    this.dispatch();
  }

  private dropJob(key: string) {
    const job = this.jobs.get(key);
    this.finishedTasks.add(key);
    if (!job) return;
    this.jobs.delete(key);
    // Lets the embedded poll that ran this job finish; the engine drops the stale result (the wait is gone).
    job.outcome?.resolve({});
    for (const [incident, jobKey] of this.incidents) if (jobKey === key) this.incidents.delete(incident);
  }

  private job(key: string, action: string): DoubleJob {
    const job = this.jobs.get(key);
    if (!job) throw new RpcError(status.NOT_FOUND, `Expected to ${action} job with key '${key}', but no such job was found`);
    job.touched = true;
    return job;
  }

  private activateJobs(call: grpc.ServerWritableStream<any, any>) {
    const r = call.request;
    const type = String(r.type);
    this.ensureWorker(type);
    this.lastPolled.set(type, Date.now());
    const poller: Poller = {
      call,
      type,
      max: Number(r.maxJobsToActivate) || 32,
      timeoutMs: Number(r.timeout) || 300_000,
      worker: String(r.worker ?? ''),
      fetch: r.fetchVariable ?? [],
      done: false,
    };
    if (this.serve(poller)) return;
    const requestTimeout = Number(r.requestTimeout);
    if (requestTimeout < 0 || this.stopped) {
      call.end();
      return;
    }
    poller.timer = setTimeout(() => this.finish(poller), requestTimeout === 0 ? 10_000 : requestTimeout);
    call.on('cancelled', () => this.finish(poller));
    this.pollers.add(poller);
  }

  private finish(poller: Poller) {
    if (poller.done) return;
    poller.done = true;
    clearTimeout(poller.timer);
    this.pollers.delete(poller);
    this.lastPolled.set(poller.type, Date.now());
    if (!poller.call.cancelled) poller.call.end();
  }

  private available(type: string, now: number): DoubleJob[] {
    return [...this.jobs.values()].filter(
      (j) => j.type === type && ((j.state === 'activatable' && j.dueAt <= now) || (j.state === 'activated' && j.deadline <= now)),
    );
  }

  /** Hands due jobs to a waiting poll; true when the poll got some and is finished. */
  private serve(poller: Poller): boolean {
    if (poller.call.cancelled) {
      this.finish(poller);
      return true;
    }
    const now = this.clock.now().getTime();
    const jobs = this.available(poller.type, now).slice(0, poller.max);
    if (!jobs.length) return false;
    for (const job of jobs) {
      job.state = 'activated';
      job.deadline = now + poller.timeoutMs;
      job.worker = poller.worker;
      job.activatedAtReal = Date.now();
      job.touched = false;
    }
    poller.call.write({ jobs: jobs.map((j) => this.wire(j, poller.fetch)) });
    this.finish(poller);
    return true;
  }

  private dispatch() {
    for (const poller of [...this.pollers]) this.serve(poller);
  }

  private wire(job: DoubleJob, fetch: string[]) {
    const variables = fetch.length ? Object.fromEntries(fetch.filter((k) => k in job.variables).map((k) => [k, job.variables[k]])) : job.variables;
    return {
      key: job.key,
      type: job.type,
      processInstanceKey: job.instanceKey,
      bpmnProcessId: job.processId,
      processDefinitionVersion: job.version,
      processDefinitionKey: job.definitionKey,
      elementId: job.elementId,
      elementInstanceKey: job.key,
      customHeaders: JSON.stringify(job.headers),
      worker: job.worker,
      retries: job.retries,
      deadline: String(job.deadline),
      variables: JSON.stringify(variables),
      tenantId: '<default>',
    };
  }

  private async completeJob(request: any) {
    const key = String(request.jobKey);
    const job = this.job(key, 'complete');
    if (job.state === 'failed') throw new RpcError(status.FAILED_PRECONDITION, `Expected to complete job with key '${key}', but it is in state 'FAILED'`);
    const variables = parseVars(request.variables);
    // Removed before the engine is asked, so a concurrent second completion finds no job (NOT_FOUND), as on Zeebe.
    this.jobs.delete(key);
    if (!job.userTask) {
      job.outcome?.resolve(variables);
      await this.processed(key);
      return {};
    }
    try {
      await this.embedded.completeUserTask(key, variables);
      this.finishedTasks.add(key);
    } catch (err) {
      if (err instanceof TaskNotFoundError) {
        this.finishedTasks.add(key);
        throw new RpcError(status.NOT_FOUND, `Expected to complete job with key '${key}', but no such job was found`);
      }
      this.jobs.set(key, job);
      throw new RpcError(status.FAILED_PRECONDITION, (err as Error).message);
    }
    return {};
  }

  /**
   * Zeebe answers a job completion once it has processed it, follow-ups included (an instance whose last path
   * ended is gone before any later command is processed); the embedded engine completes a service job after its
   * worker returns, so the answer waits until the job's wait row has left the open states.
   */
  private async processed(jobKey: string): Promise<void> {
    for (let waited = 0; waited < 10_000; waited += 5) {
      const wait = await this.knex('engine_waits').where({ key: jobKey }).first('state');
      if (!wait || (wait.state !== 'open' && wait.state !== 'activated')) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private failJob(request: any) {
    const key = String(request.jobKey);
    const job = this.job(key, 'fail');
    if (job.state !== 'activated') throw new RpcError(status.FAILED_PRECONDITION, `Expected to fail activated job with key '${key}', but it is not activated`);
    job.retries = Number(request.retries);
    if (job.retries > 0) {
      job.state = 'activatable';
      job.dueAt = this.clock.now().getTime() + Number(request.retryBackOff ?? 0);
      this.dispatch();
    } else {
      job.state = 'failed';
      this.incidents.set(this.key(), key);
    }
    return {};
  }

  private throwError(request: any) {
    const key = String(request.jobKey);
    const job = this.job(key, 'throw an error for');
    if (job.userTask) throw new RpcError(status.UNIMPLEMENTED, 'the gateway double does not throw errors from user tasks');
    this.jobs.delete(key);
    job.outcome?.reject(new BpmnError(request.errorCode, request.errorMessage || request.errorCode, parseVars(request.variables)));
    return {};
  }

  // ---- driving ----------------------------------------------------------------------------------------------

  async pump(): Promise<number> {
    this.dispatch(); // the clock may have moved: back-offs due, locks lapsed
    let finished = false;
    let count = 0;
    const before = this.jobs.size;
    this.embedded.poll().then(
      (n) => {
        finished = true;
        count = n;
      },
      () => {
        finished = true;
        count = 1;
      },
    );
    const started = Date.now();
    while (!finished && Date.now() - started < 250) await sleep(5);
    this.dispatch();
    // Still running: a job a client works on, or a slow transaction. Either way, not quiet yet.
    if (!finished) return 1;
    return count + Math.abs(this.jobs.size - before);
  }

  hasPolled(type: string): boolean {
    return this.lastPolled.has(type);
  }

  busy(): number {
    const now = this.clock.now().getTime();
    const real = Date.now();
    let busy = 0;
    for (const job of this.jobs.values()) {
      // Handed out and not yet heard of: in transit or in a handler. A client that died with it stops counting after 5 s.
      if (job.state === 'activated' && !job.touched && real - job.activatedAtReal < 5000) busy++;
      // Waiting for a client that polls this type: under load its next poll can be seconds away.
      else if (this.available(job.type, now).includes(job) && real - (this.lastPolled.get(job.type) ?? 0) < 10_000) busy++;
    }
    return busy;
  }

  stop() {
    this.stopped = true;
    for (const poller of [...this.pollers]) this.finish(poller);
    // Unblocks embedded polls still waiting on jobs nobody will answer now.
    for (const job of this.jobs.values()) job.outcome?.resolve({});
  }

  private key(): string {
    return String(this.nextKey++);
  }
}

function parseVars(text: string | undefined): Variables {
  if (!text) return {};
  const parsed = JSON.parse(text);
  return parsed && typeof parsed === 'object' ? parsed : {};
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The embedded engine has no end events with jobs; the double runs each as a service task (same id, same job)
 * followed by a plain end event, which is what Zeebe does: the instance ends once the end event's job completes.
 */
async function endJobsAsServiceTasks(xml: string): Promise<string> {
  const moddle = new BpmnModdle({ zeebe: zeebeSchema } as any);
  const { rootElement: definitions } = (await moddle.fromXML(xml)) as any;
  let changed = false;
  for (const process of definitions.rootElements ?? []) {
    if (process.$type !== 'bpmn:Process') continue;
    const elements: any[] = process.flowElements ?? [];
    for (const end of [...elements]) {
      if (end.$type !== 'bpmn:EndEvent') continue;
      const taskDefinition = end.extensionElements?.values?.find((v: any) => v.$type === 'zeebe:TaskDefinition');
      if (!taskDefinition) continue;
      changed = true;
      const task = moddle.create('bpmn:ServiceTask', { id: end.id, name: end.name, extensionElements: end.extensionElements });
      const after = moddle.create('bpmn:EndEvent', { id: `${end.id}__end` });
      const flow = moddle.create('bpmn:SequenceFlow', { id: `${end.id}__flow`, sourceRef: task, targetRef: after });
      task.incoming = end.incoming ?? [];
      for (const incoming of task.incoming) incoming.targetRef = task;
      task.outgoing = [flow];
      after.incoming = [flow];
      elements.splice(elements.indexOf(end), 1, task, flow, after);
    }
  }
  if (!changed) return xml;
  definitions.diagrams = [];
  return (await moddle.toXML(definitions)).xml;
}
