import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEmbeddedEngine, type EmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import type { ContractEnv } from './harness.ts';
import { engineContractSuite } from './suite.ts';

for (const backend of await testBackends()) {
  engineContractSuite(`embedded/${backend}`, async (): Promise<ContractEnv> => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock();
    const open = (): EmbeddedEngine => createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
    let engine = open();
    const env: ContractEnv = {
      engine,
      settle: () => engine.drain(),
      advance: async (ms) => clock.advance(ms),
      restart: async () => {
        await engine.close();
        env.engine = engine = open();
        return engine;
      },
      crash: async () => {
        // no close(): whatever the old object held in memory is simply gone
        env.engine = engine = open();
        return engine;
      },
      dispose: async () => {
        await engine.close();
        await db.close();
      },
    };
    return env;
  });
}
