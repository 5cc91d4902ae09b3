import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { UserTask, WorkflowEngine } from '../engine-adapter/contract.ts';
import { createEmbeddedEngine } from '../engine-adapter/embedded/embedded-engine.ts';
import { compileBpmn } from '../engine-adapter/embedded/definition/compile.ts';
import { InMemoryRunner } from '../engine-adapter/embedded/in-memory.ts';
import { InstanceRun } from '../engine-adapter/embedded/instance-run.ts';
import type { DatabaseKind } from '../server/db/database.ts';
import { createTestDatabase, testBackends } from '../test/helpers/database.ts';

/**
 * Complete default flows per second: start, host approves, leader approves, issue-pass/status/SMS workers run,
 * instance ends. Persistent runs use the embedded engine as the server does (background polling); the ceiling
 * is the same bpmn-engine run held in memory with no database.
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

async function inMemory(): Promise<number> {
  const runner = await InMemoryRunner.compile(xml);
  const step = (elementId: string) =>
    elementId === 'host-review' ? hostAnswer : elementId === 'leader-review' ? leaderAnswer : {};
  for (let i = 0; i < 20; i++) await runner.run(variables(i), step);
  const { flows, perSecond } = await timed(Math.min(SECONDS, 6), 1, async (i) => {
    const end = await runner.run(variables(i), step);
    if (end.leaderDecision !== 'approve') throw new Error('wrong path');
  });
  console.log(`in memory (bpmn-engine, no persistence): ${perSecond.toFixed(1)} flows/s (${flows} flows)`);
  return perSecond;
}

/**
 * What one command costs bpmn-engine, step by step, and the memory a run holds: the floor under every flow
 * (a command recovers the instance from its saved state, moves it, and saves the new state).
 */
async function commandCosts(): Promise<void> {
  const compiled = await compileBpmn(xml);
  const spent: Record<string, number> = { start: 0, recover: 0, signal: 0, save: 0 };
  const time = async <T>(step: string, act: () => Promise<T> | T): Promise<T> => {
    const t = performance.now();
    const result = await act();
    spent[step] += performance.now() - t;
    return result;
  };
  const N = 300;
  for (const round of [0, 1]) {
    for (const k of Object.keys(spent)) spent[k] = 0;
    for (let i = 0; i < N; i++) {
      const first = new InstanceRun(compiled, variables(i), 'bench');
      await time('start', () => first.start());
      const state = await time('save', () => first.state());
      const run = new InstanceRun(compiled, { ...variables(i), hostDecision: 'approve', leaderStaffId: 'leader-1' }, 'bench');
      await time('recover', () => run.recover(state));
      await time('signal', async () => {
        run.signal(run.waits().find((w) => w.kind === 'user-task')!.executionId);
        // bpmn-engine moves on asynchronously: up to the next wait (the leader's task)
        await new Promise((resolve) => setImmediate(resolve));
      });
      if (!run.waits().some((w) => w.elementId === 'leader-review')) throw new Error('the host approval did not reach the leader');
      await time('save', () => run.state());
    }
    if (round === 1)
      console.log(
        `per command (bpmn-engine, CPU): start ${(spent.start / N).toFixed(1)} ms, recover from state ${(spent.recover / N).toFixed(1)} ms, ` +
          `signal to the next wait ${(spent.signal / N).toFixed(1)} ms, save state ${(spent.save / N / 2).toFixed(1)} ms`,
      );
  }
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const held = [];
  for (let i = 0; i < 100; i++) {
    const run = new InstanceRun(compiled, variables(i), 'bench');
    await run.start();
    held.push(run);
  }
  gc();
  const perRun = (process.memoryUsage().heapUsed - before) / held.length / 1024 / 1024;
  console.log(`  heap held by one live run waiting at the host's task: ${perRun.toFixed(1)} MiB (why runs are not kept between commands)`);
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

export async function run(): Promise<void> {
  await commandCosts();
  const ceiling = await inMemory();
  for (const kind of await testBackends()) {
    const rate = await persistent(kind);
    console.log(`  ${kind} / in-memory ratio: ${(rate / ceiling).toFixed(2)}`);
  }
}
