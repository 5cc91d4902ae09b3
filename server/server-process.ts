import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../engine-adapter/clock.ts';
import { createEngine } from '../engine-adapter/index.ts';
import { connectionFromEnv } from '../engine-adapter/zeebe/config.ts';
import { createApp } from './app.ts';
import type { Config } from './config.ts';
import { migrateLatest, openDatabase } from './db/database.ts';
import { type DemoLogin, demoLogins, seedDemoData } from './directory/demo-data.ts';
import { ensureWebBuilt } from './http/static.middleware.ts';
import { createLogger } from './logger.ts';
import { answerPrimary } from './metrics/cluster.ts';
import { loadSecrets } from './secrets.ts';
import { createServices } from './services.ts';

function printBanner(url: string, logins: DemoLogin[]) {
  const lines = [`\nvisitflow is running at ${url}`, `  visitor page: ${url}/`, `  health:       ${url}/healthz`];
  if (logins.length) {
    lines.push(`\nDemo staff logins (password for all, unless changed: ${logins[0].password}):`);
    for (const l of logins) {
      lines.push(`  ${l.role.padEnd(7)} ${l.username.padEnd(14)} ${l.name}${l.department ? ` · ${l.department}` : ''}${l.mobile ? ` · 手机 ${l.mobile}` : ''}`);
    }
    lines.push('\nVisitors register themselves on the visitor page (a valid resident ID number is required).');
  }
  console.log(lines.join('\n'));
}

/** One server process: database, engine, services and the HTTP server, until SIGINT/SIGTERM. */
export async function runServerProcess(config: Config): Promise<void> {
  // Only the first (or only) process prints the banner and builds missing web assets.
  const workerIndex = Number(process.env.VISITFLOW_WORKER_INDEX ?? 1);
  const logger = createLogger(config.LOG_LEVEL);
  const db = config.DATABASE_URL
    ? await openDatabase({ kind: 'postgres', url: config.DATABASE_URL, pool: { min: 0, max: config.DB_POOL_MAX }, preparedStatements: config.DB_PREPARED_STATEMENTS })
    : await openDatabase({ kind: 'pglite', dataDir: config.dataDir });
  await migrateLatest(db.knex);
  const secrets = loadSecrets(config);
  const engine =
    config.ENGINE === 'embedded'
      ? await createEngine({
          kind: 'embedded',
          knex: db.knex,
          clock: systemClock,
          logger: logger.child({ part: 'engine' }),
          jobTimeoutMs: config.ENGINE_JOB_TIMEOUT_MS,
        })
      : await createEngine({
          kind: 'zeebe',
          ...connectionFromEnv(config as unknown as Record<string, unknown>)!,
          knex: db.knex,
          logger: logger.child({ part: 'engine' }),
        });
  const services = createServices({ config, secrets, knex: db.knex, clock: systemClock, logger, engine });
  if (db.kind === 'postgres') await services.sessionChanges.start();
  // The shipped process and forms: a changed file becomes a new version, an unchanged one is a no-op.
  await services.deployments.deployBundled(fileURLToPath(new URL('..', import.meta.url)));
  // Saved SMS settings that cannot be used (incomplete next to the environment, undecryptable) show at start-up.
  services.integrations.smsProvider().catch((err) => logger.error({ err }, 'reading the SMS settings failed'));
  services.sms.start();
  services.wechat.start();
  // A wrong AppID/AppSecret shows at start-up, not at the first task notice.
  services.wechat.checkCredentials().then(
    (check) => check && !check.ok && logger.error({ code: check.code }, check.message),
    (err) => logger.error({ err }, 'checking the WeChat credentials failed'),
  );
  services.admin.retention.start();
  services.reportRollup.start();
  services.applications.kickStarter();
  const starterTimer = setInterval(() => services.applications.kickStarter(), 5_000);
  starterTimer.unref();
  const recoveryTimer = setInterval(() => {
    services.applications
      .recoverStaleStarts()
      .then((n) => n && services.applications.kickStarter())
      .catch((err) => logger.error({ err }, 'recovering start claims failed'));
  }, Math.min(30_000, config.START_CLAIM_TIMEOUT_MS / 2));
  recoveryTimer.unref();
  if (config.DEMO_DATA) await seedDemoData(db.knex, services.directory);
  // Printed on every start while the demo admin exists, so the logins are at hand after a restart too.
  const logins = config.DEMO_DATA && (await services.directory.findStaffByUsername('admin')) ? demoLogins() : [];

  const app = createApp(services);
  // WORKERS > 1: the primary gathers this process's series for a scrape that reached another worker.
  answerPrimary(services.metrics.process);
  // Longer than a load balancer's idle timeout (typically 60 s), so the balancer closes idle connections first.
  const server = http.createServer({ keepAliveTimeout: 65_000 }, app.callback());
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = config.PUBLIC_URL ?? `http://localhost:${port}`;
  logger.info({ url, database: db.kind, engine: config.ENGINE, worker: workerIndex, pid: process.pid }, 'visitflow started');
  if (workerIndex === 1) printBanner(url, logins);
  // Built after listening, so a fresh clone answers /healthz at once; pages answer 503 until the build is done.
  if (workerIndex === 1) {
    ensureWebBuilt().then(
      (built) => built && logger.info('built the web pages into dist/web'),
      (err) => logger.error({ err }, 'building the web pages failed: run npm run build:web'),
    );
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close();
    server.closeAllConnections();
    clearInterval(starterTimer);
    clearInterval(recoveryTimer);
    await services.sms.stop();
    await services.wechat.stop();
    await services.admin.retention.stop();
    await services.reportRollup.stop();
    await services.applications.drainStarter();
    await services.sessionChanges.stop();
    await engine.close();
    await db.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}
