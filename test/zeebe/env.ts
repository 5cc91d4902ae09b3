import { FakeClock, systemClock } from '../../engine-adapter/clock.ts';
import type { EmbeddedEngine } from '../../engine-adapter/index.ts';
import { connectionFromEnv, type ZeebeConnection } from '../../engine-adapter/zeebe/config.ts';
import { createZeebeEngine, type ZeebeEngine } from '../../engine-adapter/zeebe/zeebe-engine.ts';
import type { ContractEnv, EngineLimits } from '../engine-contract/harness.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { type GatewayDouble, startGatewayDouble } from './gateway-double.ts';

/** The real cluster named by ZEEBE_ADDRESS (and the SDK's other variables), read when this module loads. */
export const realCluster: ZeebeConnection | undefined = connectionFromEnv(process.env);

/** The SDK merges ZEEBE_* / CAMUNDA_* from the environment into every client: a test client gets only what it is given. */
function clearZeebeEnv() {
  for (const key of Object.keys(process.env)) if (/^(ZEEBE|CAMUNDA)_/.test(key)) delete process.env[key];
}

/** What holds on Zeebe and not on the embedded engine, in the words the skipped scenarios print. */
export const zeebeLimits: EngineLimits = {
  unseenWaits: 'Zeebe answers no queries over gRPC: a job no worker has activated yet is invisible without Operate',
  engineIncidents: 'an expression incident is raised inside the broker and gRPC offers no way to list it (Operate does)',
  unseenTasks: 'a user task created and withdrawn before the adapter activated its job is never announced',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the double's engine and the adapter until neither has anything left to do (two quiet rounds). */
export async function settleWithDouble(double: GatewayDouble, engine: () => ZeebeEngine): Promise<void> {
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  while (quiet < 2) {
    if (Date.now() > deadline) throw new Error('the Zeebe adapter and the gateway double did not settle within 60 s');
    // A worker registered a moment ago may not have sent its first ActivateJobs yet: not quiet until it has.
    const unpolled = engine()
      .workerTypes()
      .filter((type) => !double.hasPolled(type)).length;
    const work = (await double.pump()) + (await engine().settle()) + double.busy() + unpolled;
    if (work === 0) {
      quiet++;
      await sleep(15);
    } else quiet = 0;
  }
}

export function openAdapter(address: string, knex: any, clock = systemClock as any): Promise<ZeebeEngine> {
  return createZeebeEngine({
    address,
    plaintext: true,
    knex,
    clock,
    background: false,
    longPollMs: 1000,
    // Generous: PGlite start-ups of concurrent tests block the event loop for seconds.
    connectTimeoutMs: 30_000,
  });
}

/** A ContractEnv on the gateway double: a fresh PGlite holds both the double's engine tables and the adapter's. */
export async function doubleEnv(): Promise<ContractEnv & { double: GatewayDouble; zeebe: () => ZeebeEngine }> {
  clearZeebeEnv();
  const db = await createTestDatabase('pglite');
  const clock = new FakeClock();
  const double = await startGatewayDouble({ knex: db.knex, clock });
  let engine = await openAdapter(double.address, db.knex, clock);
  const env = {
    engine: engine as ContractEnv['engine'],
    double,
    zeebe: () => engine,
    settle: () => settleWithDouble(double, () => engine),
    advance: async (ms: number) => clock.advance(ms),
    restart: async () => {
      await engine.close();
      engine = await openAdapter(double.address, db.knex, clock);
      env.engine = engine;
      return engine;
    },
    crash: async () => {
      await engine.abort();
      engine = await openAdapter(double.address, db.knex, clock);
      env.engine = engine;
      return engine;
    },
    dispose: async () => {
      await engine.close();
      await double.close();
      await db.close();
    },
  };
  return env;
}

/** A ContractEnv on the real cluster: its clock cannot be moved, and "settle" waits for quiet by wall time. */
export async function realEnv(connection: ZeebeConnection): Promise<ContractEnv> {
  clearZeebeEnv();
  const db = await createTestDatabase('pglite');
  const open = () => createZeebeEngine({ ...connection, knex: db.knex, background: false, longPollMs: 2000, connectTimeoutMs: 10_000 });
  let engine = await open();
  const env: ContractEnv = {
    engine,
    settle: async () => {
      let quiet = 0;
      const deadline = Date.now() + 60_000;
      while (quiet < 3 && Date.now() < deadline) {
        await sleep(500);
        quiet = (await engine.settle()) === 0 ? quiet + 1 : 0;
      }
    },
    advance: async () => {
      throw new Error('a real cluster has no clock control here');
    },
    restart: async () => {
      await engine.close();
      env.engine = engine = await open();
      return engine;
    },
    crash: async () => {
      await engine.abort();
      env.engine = engine = await open();
      return engine;
    },
    dispose: async () => {
      await engine.close();
      await db.close();
    },
  };
  return env;
}

/**
 * The Zeebe adapter on a fresh gateway double, shaped like the embedded engine the test server drives
 * (drain() runs both until quiet; close() stops the double too). Used when VISITFLOW_TEST_ENGINE=zeebe.
 */
export async function zeebeEngineForTests(options: { knex: any; clock: FakeClock }): Promise<EmbeddedEngine> {
  clearZeebeEnv();
  const double = await startGatewayDouble({ knex: options.knex, clock: options.clock });
  const engine = await openAdapter(double.address, options.knex, options.clock);
  const extra: Record<string, unknown> = {
    drain: () => settleWithDouble(double, () => engine),
    poll: async () => (await double.pump()) + (await engine.settle()),
    close: async () => {
      await engine.close();
      await double.close();
    },
  };
  return new Proxy(engine, {
    get(target, prop) {
      if (typeof prop === 'string' && prop in extra) return extra[prop];
      const value = (target as any)[prop];
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as unknown as EmbeddedEngine;
}
