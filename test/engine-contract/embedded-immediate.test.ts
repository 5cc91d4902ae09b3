import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEmbeddedEngine, type EmbeddedEngine } from '../../engine-adapter/embedded/embedded-engine.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import type { ContractEnv } from './harness.ts';
import { engineContractSuite } from './suite.ts';

/**
 * The contract again with immediate dispatch (what the server runs): jobs and events of a command are run and
 * delivered right after its commit, not by the poller. Polling stays manual so that the scenarios stay
 * deterministic; a "crash" lets the dropped engine's dispatches finish first (a process killed while it
 * holds claimed work is covered in test/engine/immediate-dispatch.test.ts).
 */
for (const backend of await testBackends()) {
  engineContractSuite(`embedded-immediate/${backend}`, async (): Promise<ContractEnv> => {
    const db = await createTestDatabase(backend);
    const clock = new FakeClock();
    const open = (): EmbeddedEngine => createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false, immediateDispatch: true });
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
        await engine.settled();
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
