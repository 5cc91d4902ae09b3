import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Incident, InstanceEnded, Job, UserTask, UserTaskCanceled, Variables, WorkflowEngine } from '../../engine-adapter/contract.ts';

/**
 * What a scenario needs from an engine implementation besides the WorkflowEngine itself: a way to let due
 * work happen, to move time, and to restart or lose the process. The embedded engine does it with a fake clock
 * and poll(); a Zeebe implementation would use the cluster's clock control and wait for the exporter.
 */
export interface ContractEnv {
  /** The current engine; replaced by restart() and crash(). */
  engine: WorkflowEngine;
  /** Lets everything that is due now happen (timers, jobs with workers, event deliveries) until quiet. */
  settle(): Promise<void>;
  /** Moves the engine's clock forward. */
  advance(ms: number): Promise<void>;
  /** close() the engine and open a new one on the same store. Handlers and workers must be registered again. */
  restart(): Promise<WorkflowEngine>;
  /** Drops the engine without close(), as if its process was killed, and opens a new one on the same store. */
  crash(): Promise<WorkflowEngine>;
  dispose(): Promise<void>;
}

export type ContractFactory = () => Promise<ContractEnv>;

/**
 * Where an engine genuinely cannot do what a scenario checks, with the reason. A scenario that needs the missing
 * ability is registered as skipped with the reason in its title; one that only checks a detail relaxes that check.
 */
export interface EngineLimits {
  /** advance() cannot move the engine's clock (a real cluster without clock control). */
  clock?: string;
  /** Elements waiting for a job no worker has activated yet cannot be listed (Zeebe without Operate). */
  unseenWaits?: string;
  /** Incidents raised inside the engine itself (a failing expression) cannot be listed through the adapter. */
  engineIncidents?: string;
  /** A user task created and withdrawn before the adapter saw it is never announced. */
  unseenTasks?: string;
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const visitPassXml = fs.readFileSync(path.join(root, 'processes/visit-pass.bpmn'), 'utf8');
export function fixture(name: string): string {
  return fs.readFileSync(path.join(root, 'test/engine-contract/fixtures', name), 'utf8');
}

/** Everything an engine told the test, in order. */
export class Recorder {
  tasks: UserTask[] = [];
  canceled: UserTaskCanceled[] = [];
  ended: InstanceEnded[] = [];
  incidents: Incident[] = [];
  jobs: Job[] = [];

  constructor(engine: WorkflowEngine) {
    this.attach(engine);
  }

  attach(engine: WorkflowEngine): this {
    engine.onUserTaskCreated((t) => {
      this.tasks.push(t);
    });
    engine.onUserTaskCanceled((e) => {
      this.canceled.push(e);
    });
    engine.onInstanceEnded((e) => {
      this.ended.push(e);
    });
    engine.onIncident((i) => {
      this.incidents.push(i);
    });
    return this;
  }

  /** Workers of the default flow; each records its call. `fail` makes issue-pass throw while it returns true. */
  visitWorkers(engine: WorkflowEngine, options: { fail?: () => boolean } = {}): this {
    engine.registerWorker('issue-pass', async (job) => {
      this.jobs.push(job);
      if (options.fail?.()) throw new Error('pass service unavailable');
      return { passId: `pass-${job.variables.applicationId}` };
    });
    engine.registerWorker('application-status', async (job) => {
      this.jobs.push(job);
    });
    engine.registerWorker('sms', async (job) => {
      this.jobs.push(job);
      return { smsSent: true };
    });
    return this;
  }

  tasksOf(instanceKey: string): UserTask[] {
    return this.tasks.filter((t) => t.instanceKey === instanceKey);
  }

  task(instanceKey: string, elementId: string): UserTask {
    const found = this.tasks.filter((t) => t.instanceKey === instanceKey && t.elementId === elementId);
    if (found.length !== 1) throw new Error(`expected one ${elementId} task of ${instanceKey}, got ${found.length}`);
    return found[0];
  }

  /** type:header pairs of the jobs an instance ran, e.g. ['issue-pass', 'application-status:approved', 'sms:approved']. */
  jobTrail(instanceKey: string): string[] {
    return this.jobs
      .filter((j) => j.instanceKey === instanceKey)
      .map((j) => (j.headers.status ?? j.headers.template ? `${j.type}:${j.headers.status ?? j.headers.template}` : j.type));
  }

  /** Element ids of the jobs an instance ran, in order (for jobs of one type at several elements). */
  jobElements(instanceKey: string): string[] {
    return this.jobs.filter((j) => j.instanceKey === instanceKey).map((j) => j.elementId);
  }

  endedOf(instanceKey: string): InstanceEnded[] {
    return this.ended.filter((e) => e.instanceKey === instanceKey);
  }
}

/** The variables the server passes when a visitor submits the application (strings, masked values only). */
export function applicationVariables(overrides: Variables = {}): Variables {
  return {
    applicationId: 'app-1',
    flowNumber: 'VF20261201-0001',
    hostStaffId: 'staff-host-7',
    departmentGroup: 'dept-12',
    campusId: 'campus-1',
    departmentId: 'dept-12',
    visitDate: '2026-12-03',
    visitorNameMasked: '张*',
    idNumberMasked: '410***********123X',
    phoneMasked: '138****5678',
    watchHit: false,
    invitedByHost: false,
    ...overrides,
  };
}

export const HOUR = 3_600_000;
