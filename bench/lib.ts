import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { ServerLog } from './server-log.ts';

/** Shared pieces of the HTTP benchmarks: a fresh PostgreSQL database, the real server as child processes, a light client. */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  url: string;
  name: string;
  knex: Knex;
  drop(): Promise<void>;
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `vf_bench_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`create database ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 4 } });
  return {
    url: url.toString(),
    name,
    knex,
    drop: async () => {
      await knex.destroy();
      const dropper = knexFactory({ client: 'pg', connection: POSTGRES_URL, pool: { min: 0, max: 1 } });
      try {
        await dropper.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await dropper.destroy();
      }
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface BenchServer {
  url: string;
  dataDir: string;
  env: Record<string, string>;
  /** The process tree's resident memory: the highest sum seen and the highest per process (MiB). */
  rss(): { peakTotalMiB: number; peakPerProcessMiB: number[] };
  /** CPU seconds the server's processes used so far. */
  cpu(): number;
  /** The server processes forked by the primary (WORKERS > 1), as they are now. */
  workerPids(): number[];
  /** What the server logged (LOG_LEVEL=warn: warnings and errors). */
  log: ServerLog;
  /** The end of the server's stderr (knex and node write there). */
  stderrTail(): string;
  stop(): Promise<void>;
}

/** Prints why a bench step went wrong as far as the server knows: its error count and its last log lines. */
export function reportServerTrouble(server: BenchServer | undefined, heading: string): void {
  if (!server) return;
  console.warn(`  ${heading}; ${server.log.summary()}; its last log lines:`);
  console.warn(server.log.tail(20) || '    (none)');
  const stderr = server.stderrTail().trim();
  if (stderr) console.warn(`  server stderr (end):\n${stderr.slice(-1500).replace(/^/gm, '    ')}`);
}

/**
 * The server as `npm start` runs it (tsx server/main.ts), on its own port and data directory, with the engine
 * polling in the background. Memory is sampled from /proc for the primary and its workers.
 */
export async function startServer(databaseUrl: string, env: Record<string, string> = {}): Promise<BenchServer> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'visitflow-bench-'));
  const fullEnv = {
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    DEMO_DATA: 'true',
    DATA_DIR: dataDir,
    ...env,
  };
  // BENCH_CPU_PROF=dir: every server process writes a V8 CPU profile there when it exits (see where time goes).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(process.env.BENCH_CPU_PROF)}`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, '--import', 'tsx', 'server/main.ts'], {
    cwd: root,
    env: { ...process.env, ...fullEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The log is the only place a 500's cause shows (the data directory is removed at the end).
  const log = new ServerLog();
  child.stdout!.on('data', (chunk) => log.write(chunk));
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited during start:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`server did not start in 120 s:\n${stderr}`);
    const ok = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5000) })
      .then((r) => r.ok)
      .catch(() => false);
    // Every worker of a cluster must be up, not just the first.
    if (ok && processTree(child.pid!).length >= Number(env.WORKERS ?? 1) + (Number(env.WORKERS ?? 1) > 1 ? 1 : 0)) break;
    await sleep(250);
  }
  await sleep(Number(env.WORKERS ?? 1) > 1 ? 2000 : 200);
  let peakTotal = 0;
  const peakPer = new Map<number, number>();
  const sample = () => {
    let total = 0;
    for (const pid of processTree(child.pid!)) {
      const kib = rssKib(pid);
      total += kib;
      peakPer.set(pid, Math.max(peakPer.get(pid) ?? 0, kib));
    }
    peakTotal = Math.max(peakTotal, total);
  };
  const sampler = setInterval(sample, 200);
  sample();
  return {
    url,
    dataDir,
    env: fullEnv,
    rss: () => ({
      peakTotalMiB: Math.round(peakTotal / 1024),
      peakPerProcessMiB: [...peakPer.values()].map((k) => Math.round(k / 1024)),
    }),
    cpu: () => cpuSeconds(processTree(child.pid!)),
    workerPids: () => processTree(child.pid!).filter((pid) => pid !== child.pid),
    log,
    stderrTail: () => stderr.slice(-5000),
    stop: async () => {
      clearInterval(sampler);
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (child.exitCode !== 0 && child.exitCode !== null) console.warn(`server exited with ${child.exitCode}: ${stderr.slice(-2000)}`);
    },
  };
}

/** The pid and its descendants that are node processes (tsx's esbuild helper is left out). */
function processTree(pid: number): number[] {
  const result: number[] = [];
  const walk = (p: number) => {
    let comm = '';
    try {
      comm = fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim();
    } catch {
      return;
    }
    if (comm.startsWith('node')) result.push(p);
    let children: string[] = [];
    try {
      children = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    } catch {}
    for (const c of children) walk(Number(c));
  };
  walk(pid);
  return result;
}

function rssKib(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Latencies per endpoint label. */
export class Latencies {
  private readonly samples = new Map<string, number[]>();
  readonly errors = new Map<string, number>();
  /** 503 answers (server busy) that the client waited out and sent again. */
  readonly shed = new Map<string, number>();

  add(label: string, ms: number) {
    const list = this.samples.get(label);
    if (list) list.push(ms);
    else this.samples.set(label, [ms]);
  }

  error(label: string) {
    this.errors.set(label, (this.errors.get(label) ?? 0) + 1);
  }

  turnedAway(label: string) {
    this.shed.set(label, (this.shed.get(label) ?? 0) + 1);
  }

  /** Error answers in all (4xx/5xx that were not retried). */
  errorCount(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }

  get(label: string): number[] {
    return this.samples.get(label) ?? [];
  }

  table(): string {
    const rows = [...this.samples].map(([label, list]) => {
      const s = summary(list);
      return `  ${label.padEnd(34)} n=${String(list.length).padStart(6)}  p50 ${fmt(s.p50)}  p95 ${fmt(s.p95)}  p99 ${fmt(s.p99)}  max ${fmt(s.max)}${this.errors.get(label) ? `  errors ${this.errors.get(label)}` : ''}${this.shed.get(label) ? `  busy (503, sent again) ${this.shed.get(label)}` : ''}`;
    });
    return rows.join('\n');
  }
}

const fmt = (ms: number) => `${ms.toFixed(0).padStart(5)} ms`;

export function summary(list: number[]) {
  const sorted = [...list].sort((a, b) => a - b);
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : Number.NaN);
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted.at(-1) ?? Number.NaN };
}

export interface Reply<T = any> {
  status: number;
  body: T;
}

/** How often a client sends a request again that was answered 503 (server busy), waiting Retry-After each time. */
const BUSY_RETRIES = 20;

/**
 * A request unanswered this long fails instead of waiting for ever (BENCH_REQUEST_TIMEOUT_MS, read when sent so
 * a bench can set its own): a hung connection must show up as an error in the bench's report, not as a bench
 * that never ends (the chaos smoke test ran into ava's timeout on CI with nothing printed).
 */
const requestTimeoutMs = () => Number(process.env.BENCH_REQUEST_TIMEOUT_MS ?? 120_000);

/**
 * A browser-like client on node:http with keep-alive (lighter than fetch, which matters when the client shares
 * the machine with the server): keeps its cookies and echoes the CSRF cookie in the header, as our pages do.
 * A 503 with Retry-After (the server turned the request away before doing anything) is waited out and sent
 * again; the latency covers the waits.
 */
export class Client {
  private readonly cookies = new Map<string, string>();

  constructor(
    private readonly baseUrl: string,
    private readonly agent: http.Agent,
    private latencies?: Latencies,
  ) {}

  /** Where latencies go from now on (e.g. preparation vs timed part). */
  recordInto(latencies: Latencies) {
    this.latencies = latencies;
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  setCookie(name: string, value: string) {
    this.cookies.set(name, value);
  }

  async request<T = any>(method: string, pathname: string, body?: unknown, label = `${method} ${pathname}`): Promise<Reply<T>> {
    if (method !== 'GET' && !this.cookies.has('vf_csrf')) await this.request('GET', '/api/csrf');
    const started = performance.now();
    let reply = await this.send<T>(method, pathname, body);
    for (let attempt = 1; attempt <= BUSY_RETRIES && reply.status === 503 && reply.retryAfter !== undefined; attempt++) {
      this.latencies?.turnedAway(label);
      await sleep(reply.retryAfter * 1000);
      reply = await this.send<T>(method, pathname, body);
    }
    this.latencies?.add(label, performance.now() - started);
    if (reply.status >= 400) this.latencies?.error(label);
    return reply;
  }

  private async send<T>(method: string, pathname: string, body?: unknown): Promise<Reply<T> & { retryAfter?: number }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (method !== 'GET') headers['x-csrf-token'] = this.cookies.get('vf_csrf') ?? '';
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const req = http.request(this.baseUrl + pathname, { method, headers, agent: this.agent }, (res) => {
        for (const line of res.headers['set-cookie'] ?? []) {
          const [pair] = line.split(';');
          const eq = pair.indexOf('=');
          const value = pair.slice(eq + 1).trim();
          if (value) this.cookies.set(pair.slice(0, eq).trim(), value);
          else this.cookies.delete(pair.slice(0, eq).trim());
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: any = text;
          if (String(res.headers['content-type']).includes('json') && text) parsed = JSON.parse(text);
          const retryAfter = res.headers['retry-after'] === undefined ? undefined : Number(res.headers['retry-after']);
          resolve({ status: res.statusCode ?? 0, body: parsed, retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      const timeoutMs = requestTimeoutMs();
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${pathname}: no answer in ${timeoutMs} ms`)));
      req.end(payload);
    });
  }

  get<T = any>(pathname: string, label?: string) {
    return this.request<T>('GET', pathname, undefined, label);
  }

  post<T = any>(pathname: string, body: unknown = {}, label?: string) {
    return this.request<T>('POST', pathname, body, label);
  }
}

/** A calendar day in the campus time zone, `days` from today. */
export function campusDay(days: number, timeZone = 'Asia/Shanghai'): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
    new Date(Date.now() + days * 86_400_000),
  );
}

/**
 * CPU seconds of the PostgreSQL backends serving one database (their command line names it). Backends come
 * and go with the pool, so each is sampled while alive and its last value kept.
 */
export class PostgresCpu {
  private readonly seen = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly database: string) {
    this.timer = setInterval(() => this.sample(), 250);
    this.timer.unref();
  }

  sample(): number {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (!cmd.startsWith('postgres: ') || !cmd.includes(` ${this.database} `)) continue;
        this.seen.set(Number(entry), cpuSeconds([Number(entry)]));
      } catch {}
    }
    let total = 0;
    for (const v of this.seen.values()) total += v;
    return total;
  }

  stop() {
    clearInterval(this.timer);
  }
}

/** CPU seconds used so far by the given processes (utime + stime from /proc). */
export function cpuSeconds(pids: number[]): number {
  const tick = 100;
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch {}
  }
  return total;
}
