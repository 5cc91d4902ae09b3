import cluster, { type Worker } from 'node:cluster';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { serveClusterMetrics } from './metrics/cluster.ts';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * Memory of the server processes this one starts, read when a process starts (issue 16: the live JS heap of a
 * worker under the flow bench is ~50 MiB, yet its RSS reached 330-410 MiB). With WORKERS=1 nothing is forked:
 * pass the same through the environment and the node command line if wanted.
 * - glibc serves a block above its mmap threshold with mmap and unmaps it when freed, but then raises the
 *   threshold to that block's size (up to 32 MiB): from the second scrypt hash on, each of libuv's four threads
 *   keeps its 16 MiB scrypt block resident in its arena (64 MiB), and other large transient blocks stay too.
 *   A fixed threshold keeps returning them.
 * - V8 lets the old generation grow to up to 4x what survived the last full collection while allocation is
 *   fast; the heap then held 150-200 MiB for ~50 MiB live. A fixed 1.5x keeps it near 100 MiB; the CPU per
 *   flow did not measurably change.
 * Measured on the flow bench (2 workers): peak RSS per worker 330-410 MiB before, 220-270 MiB with both.
 */
const WORKER_ENV = { MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? String(4 * 1024 * 1024) };
const WORKER_V8_FLAGS = ['--heap-growing-percent=50'];

/**
 * WORKERS > 1: this process only forks and watches the server processes, which share the port (node:cluster
 * hands out connections). The first one starts alone, so migrations, deployments, demo data and the web build
 * happen once; the others find them done. Each worker runs its own engine pollers: they share the database
 * through row locks and SKIP LOCKED claims.
 */
async function primary(config: Config) {
  const logger = createLogger(config.LOG_LEVEL);
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...WORKER_V8_FLAGS] });
  let stopping = false;
  // A scrape of /metrics reaches one worker, which has the primary gather the series of these (metrics/cluster.ts).
  const listening = new Set<Worker>();
  serveClusterMetrics(() => [...listening]);
  const fork = (index: number) =>
    new Promise<void>((resolve, reject) => {
      const worker = cluster.fork({ ...WORKER_ENV, VISITFLOW_WORKER_INDEX: String(index) });
      let served = false;
      worker.once('listening', () => {
        served = true;
        listening.add(worker);
        resolve();
      });
      worker.once('exit', (code, signal) => {
        listening.delete(worker);
        reject(new Error(`server process ${index} exited during start (${signal ?? code})`));
        if (stopping) return;
        // duringStart: it never served (e.g. the database was away while it started): tried again, not a crash
        logger.error({ worker: index, code, signal, duringStart: !served }, 'server process died; starting another');
        setTimeout(() => void fork(index).catch((err) => logger.error({ err }, 'restarting a server process failed')), 1000);
      });
    });
  try {
    await fork(1);
    await Promise.all(Array.from({ length: config.WORKERS - 1 }, (_, i) => fork(i + 2)));
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    process.exit(1);
  }
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: config.WORKERS }, 'shutting down the server processes');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill(signal);
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function main() {
  const config = readConfig();
  if (config.WORKERS > 1 && cluster.isPrimary) return primary(config);
  // Loaded only here: a primary that just forks does not carry the engine, Form.io and the rest (~150 MB).
  const { runServerProcess } = await import('./server-process.ts');
  await runServerProcess(config);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
