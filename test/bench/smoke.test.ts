import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { CHROMIUM } from '../helpers/browser.ts';
import { testBackends } from '../helpers/database.ts';

/**
 * Every bench, run for a few seconds, so that a change that breaks one fails CI instead of the next person who
 * measures (issue 16: the flow bench's 500s went unseen). A bench fails by its exit status: it throws on failed
 * flows, lost submissions or errors in the server's log, and bench/run.ts exits 1 then.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Smoke {
  name: string;
  env: Record<string, string>;
  /** A line every successful run prints. */
  expect: RegExp;
  needs: 'postgres' | 'chromium' | 'nothing';
}

const smokes: Smoke[] = [
  { name: 'engine', env: { BENCH_SECONDS: '1', BENCH_CONCURRENCY: '2' }, expect: /in-memory ratio/, needs: 'nothing' },
  {
    name: 'flow',
    env: { BENCH_SECONDS: '3', BENCH_VISITORS: '6', BENCH_POLL_MS: '200', BENCH_STAFF_PARALLEL: '2' },
    expect: /server log: 0 errors/,
    needs: 'postgres',
  },
  { name: 'steps', env: { BENCH_STEPS_N: '3', BENCH_STEPS_READS: '2' }, expect: /one flow as the flow bench runs it/, needs: 'postgres' },
  { name: 'burst', env: { BENCH_BURST: '20', BENCH_RATES: '20', BENCH_RATE_SECONDS: '1', BENCH_WARMUP: '10' }, expect: /warm-up \(not timed\): 10 submissions[\s\S]*none lost: 20\/20/, needs: 'postgres' },
  { name: 'page', env: { BENCH_PAGE_RUNS: '1' }, expect: /form takes typing/, needs: 'chromium' },
  // The reports' queries over a small history (the full bench loads a million applications).
  { name: 'reports', env: { BENCH_REPORTS_ROWS: '5000', BENCH_REPORTS_DAYS: '60', BENCH_REPORTS_RUNS: '2' }, expect: /figures agree with direct counts[\s\S]*the same from the daily sums as counted live[\s\S]*reports bench done/, needs: 'postgres' },
  // The short form of the chaos bench (issue 13): a few kills, then everything accepted must end.
  {
    name: 'chaos',
    env: { BENCH_SECONDS: '16', BENCH_VISITORS: '6', BENCH_KILL_EVERY_MS: '3000', BENCH_JOB_TIMEOUT_MS: '5000', BENCH_SETTLE_SECONDS: '100' },
    expect: /survived [1-9]\d* kills: 0 lost, 0 stuck, 0 duplicated/,
    needs: 'postgres',
  },
];

/**
 * Runs one bench as `npm run bench` does. Past `deadlineMs` the bench and the server it started are killed (it
 * runs as its own process group) and what it printed so far is returned, so that a bench that hangs fails with
 * its own output instead of ava's bare "Test timeout exceeded".
 */
function runBench(name: string, env: Record<string, string>, deadlineMs: number): Promise<{ code: number | null; output: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', name], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const deadline = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, deadlineMs);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(deadline);
      resolve({ code, output, timedOut });
    });
  });
}

const postgres = (await testBackends()).includes('postgres');
const chromium = fs.existsSync(CHROMIUM) && fs.existsSync(path.join(root, 'test/browser/.enabled'));

// One at a time: each starts its own server, and they measure nothing here but must not starve each other.
for (const smoke of smokes) {
  const can = smoke.needs === 'nothing' || (smoke.needs === 'postgres' ? postgres : chromium);
  (can ? test.serial : test.serial.skip)(`bench ${smoke.name} runs for a few seconds without a failure`, async (t) => {
    // chaos: a start claim cut off by a kill is taken over after 45 s, and its recovery round comes every 22 s;
    // alone it takes about 70 s, next to the other test files on two cores much longer.
    // A hang detector, not a speed test: on a loaded 2-core CI machine the engine smoke alone took 70-100 s.
    const deadlineMs = smoke.name === 'chaos' ? 280_000 : 180_000;
    t.timeout(deadlineMs + 20_000);
    const { code, output, timedOut } = await runBench(smoke.name, smoke.env, deadlineMs);
    t.false(timedOut, `bench ${smoke.name} did not end in ${deadlineMs / 1000} s; what it printed:\n${output.slice(-6000)}`);
    t.is(code, 0, `bench ${smoke.name} failed:\n${output.slice(-6000)}`);
    t.regex(output, smoke.expect, output.slice(-3000));
  });
}
