import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { UserTask, WorkflowEngine } from '../engine-adapter/contract.ts';
import { createEmbeddedEngine } from '../engine-adapter/embedded/embedded-engine.ts';
import { compileBpmn } from '../engine-adapter/embedded/definition/compile.ts';
import { ProcessExecution } from '../engine-adapter/embedded/execution/process-execution.ts';
import { type DatabaseKind, migrateLatest, openDatabase } from '../server/db/database.ts';
import { BpmnEngineRun, compileForOracle } from '../test/helpers/bpmn-engine-oracle.ts';
import { createTestDatabase, testBackends } from '../test/helpers/database.ts';
import { InMemoryRunner } from './in-memory.ts';

/**
 * Complete default flows per second: start, host approves, leader approves, issue-pass/status/SMS workers run,
 * instance ends. Persistent runs use the embedded engine as the server does (background polling); the ceilings
 * are the same flow held in memory with no database, on the compiled executor and on bpmn-engine (the engine it
 * replaced), side by side.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const xml = fs.readFileSync(path.join(root, 'processes/visit-pass.bpmn'), 'utf8');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 12);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);

const variables = (i: number) => ({
  applicationId: `app-${i}`,
  flowNumber: `VF-${i}`,
  hostStaffId: 'host-1',
  departmentGroup: 'dept-1',
  campusId: 'c1',
  departmentId: 'd1',
  visitDate: '2026-12-03',
  watchHit: false,
  invitedByHost: false,
});
const hostAnswer = { decision: 'approve', opinion: '同意', leaderStaffId: 'leader-1' };
const leaderAnswer = { decision: 'approve', opinion: '同意' };

async function timed(seconds: number, concurrency: number, flow: (i: number) => Promise<void>): Promise<{ flows: number; perSecond: number }> {
  let next = 0;
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await flow(next++);
        done++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return { flows: done, perSecond: done / elapsed };
}

async function inMemory(executor: 'compiled' | 'bpmn-engine'): Promise<number> {
  const runner = await InMemoryRunner.compile(xml);
  const step = (elementId: string) =>
    elementId === 'host-review' ? hostAnswer : elementId === 'leader-review' ? leaderAnswer : {};
  for (let i = 0; i < 20; i++) await runner.run(executor, variables(i), step);
  const { flows, perSecond } = await timed(Math.min(SECONDS, 6), 1, async (i) => {
    const end = await runner.run(executor, variables(i), step);
    if (end.leaderDecision !== 'approve') throw new Error('wrong path');
  });
  console.log(`in memory (${executor}, no persistence, one core): ${perSecond.toFixed(1)} flows/s (${flows} flows)`);
  return perSecond;
}

interface CommandRun {
  start(): unknown;
  state(): unknown;
  signal(executionId: string): boolean;
  waits(): Array<{ elementId: string; executionId: string; kind: string }>;
}

/**
 * What one command costs each executor, step by step, and the memory a run holds: the floor under every flow
 * (a command rebuilds the instance from what was saved, moves it, and saves the new state).
 */
async function commandCosts(executor: 'compiled' | 'bpmn-engine'): Promise<void> {
  const compiled = await compileBpmn(xml);
  const oracle = await compileForOracle(xml);
  const make = (vars: Record<string, unknown>): CommandRun =>
    executor === 'compiled' ? new ProcessExecution(compiled, vars) : new BpmnEngineRun(oracle, vars, 'bench');
  const recover = async (run: CommandRun, state: string, waits: ReturnType<CommandRun['waits']>) => {
    if (run instanceof ProcessExecution)
      run.recover(state, waits.map((w) => ({ element_id: w.elementId, execution_id: w.executionId, kind: w.kind as any })), true);
    else await (run as BpmnEngineRun).recover(state);
  };
  const spent: Record<string, number> = { start: 0, recover: 0, signal: 0, save: 0 };
  const time = async <T>(step: string, act: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const result = await act();
    spent[step] += performance.now() - t;
    return result;
  };
  const N = executor === 'compiled' ? 3000 : 300;
  for (const round of [0, 1]) {
    for (const k of Object.keys(spent)) spent[k] = 0;
    for (let i = 0; i < N; i++) {
      const first = make(variables(i));
      await time('start', () => first.start());
      const state = (await time('save', () => first.state())) as string;
      const run = make({ ...variables(i), hostDecision: 'approve', leaderStaffId: 'leader-1' });
      await time('recover', () => recover(run, state, first.waits()));
      await time('signal', async () => {
        run.signal(run.waits().find((w) => w.kind === 'user-task')!.executionId);
        // bpmn-engine moves on asynchronously: up to the next wait (the leader's task)
        if (executor === 'bpmn-engine') await new Promise((resolve) => setImmediate(resolve));
      });
      if (!run.waits().some((w) => w.elementId === 'leader-review')) throw new Error('the host approval did not reach the leader');
      await time('save', () => run.state());
    }
    const ms = (v: number) => (v / N).toFixed(executor === 'compiled' ? 3 : 1);
    if (round === 1)
      console.log(
        `per command (${executor}, CPU): start ${ms(spent.start)} ms, recover ${ms(spent.recover)} ms, ` +
          `signal to the next wait ${ms(spent.signal)} ms, save state ${ms(spent.save / 2)} ms`,
      );
  }
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const held = [];
  for (let i = 0; i < 100; i++) {
    const run = make(variables(i));
    await run.start();
    held.push(run);
  }
  gc();
  const perRun = (process.memoryUsage().heapUsed - before) / held.length / 1024;
  console.log(`  heap held by one live ${executor} run waiting at the host's task: ${perRun.toFixed(0)} KiB`);
}

/** Waits for user tasks and instance ends by instance key, fed by the engine's events. */
class Waiter {
  private readonly waiting = new Map<string, (value: any) => void>();
  private readonly early = new Map<string, any>();
  constructor(engine: WorkflowEngine) {
    engine.onUserTaskCreated((t: UserTask) => this.settle(`${t.instanceKey}:${t.elementId}`, t));
    engine.onInstanceEnded((e) => this.settle(`${e.instanceKey}:end`, e));
  }
  private settle(key: string, value: unknown) {
    const resolve = this.waiting.get(key);
    if (resolve) {
      this.waiting.delete(key);
      resolve(value);
    } else this.early.set(key, value);
  }
  for<T>(key: string): Promise<T> {
    if (this.early.has(key)) {
      const value = this.early.get(key);
      this.early.delete(key);
      return Promise.resolve(value);
    }
    return new Promise((resolve) => this.waiting.set(key, resolve));
  }
}

async function persistent(kind: DatabaseKind): Promise<number> {
  const db = await createTestDatabase(kind);
  const engine = createEmbeddedEngine({ knex: db.knex, pollIntervalMs: 1000 });
  try {
    await engine.deploy('visit-pass.bpmn', xml);
    const waiter = new Waiter(engine);
    for (const type of ['issue-pass', 'application-status', 'sms']) engine.registerWorker(type, async () => ({}));
    const flow = async (i: number) => {
      const { instanceKey } = await engine.start('visit-pass', variables(i));
      const host = await waiter.for<UserTask>(`${instanceKey}:host-review`);
      await engine.completeUserTask(host.taskKey, hostAnswer);
      const leader = await waiter.for<UserTask>(`${instanceKey}:leader-review`);
      await engine.completeUserTask(leader.taskKey, leaderAnswer);
      await waiter.for(`${instanceKey}:end`);
    };
    for (let i = 0; i < 10; i++) await flow(-i - 1);
    const { flows, perSecond } = await timed(SECONDS, CONCURRENCY, flow);
    console.log(`${kind} (persisted, ${CONCURRENCY} flows in flight): ${perSecond.toFixed(1)} flows/s (${flows} flows)`);
    return perSecond;
  } finally {
    await engine.close();
    await db.close();
  }
}

/** BENCH_WAITING=N: start N instances that all wait at the host's task, and watch this process's memory. */
const WAITING = Number(process.env.BENCH_WAITING ?? 0);

/**
 * Memory with many instances waiting: the executor keeps nothing of an instance between commands, so RSS must
 * stay flat however many wait (PGlite runs inside this process, so its cache is part of the figure there).
 */
async function waiting(kind: DatabaseKind): Promise<void> {
  // PGlite as the server runs it: on a data directory (the tests' PGlite keeps its files in memory).
  const dir = kind === 'pglite' ? fs.mkdtempSync(path.join(os.tmpdir(), 'visitflow-waiting-')) : undefined;
  const db = dir ? await openDatabase({ kind: 'pglite', dataDir: dir }) : await createTestDatabase(kind);
  if (dir) await migrateLatest(db.knex);
  const engine = createEmbeddedEngine({ knex: db.knex, autoPoll: false });
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;
  try {
    await engine.deploy('visit-pass.bpmn', xml);
    const samples: string[] = [];
    let started = 0;
    const step = Math.max(1, Math.floor(WAITING / 10));
    let baseline = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (started < WAITING) {
          const i = started++;
          await engine.start('visit-pass', variables(i));
          if (i === Math.min(1000, WAITING - 1)) baseline = process.memoryUsage().rss;
          if ((i + 1) % step === 0) samples.push(`${i + 1}: ${mib(process.memoryUsage().rss)}`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const [{ n }] = await db.knex('engine_waits').count({ n: '*' });
    console.log(
      `${kind}: ${WAITING} instances waiting (${Number(n)} wait rows) started in ${seconds.toFixed(0)} s (${(WAITING / seconds).toFixed(0)}/s); ` +
        `RSS after 1,000: ${mib(baseline)}, at the end: ${mib(process.memoryUsage().rss)}, heap used ${mib(process.memoryUsage().heapUsed)}`,
    );
    console.log(`  RSS by instances started: ${samples.join(', ')}`);
  } finally {
    await engine.close();
    await db.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  if (WAITING > 0) {
    for (const kind of await testBackends()) await waiting(kind);
    return;
  }
  await commandCosts('compiled');
  await commandCosts('bpmn-engine');
  const ceiling = await inMemory('compiled');
  const old = await inMemory('bpmn-engine');
  console.log(`  compiled / bpmn-engine in memory: ${(ceiling / old).toFixed(1)}x`);
  for (const kind of await testBackends()) {
    const rate = await persistent(kind);
    console.log(`  ${kind} / in-memory ratio: ${(rate / ceiling).toFixed(2)}`);
  }
}
