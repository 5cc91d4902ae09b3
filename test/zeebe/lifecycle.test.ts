import net from 'node:net';
import test from 'ava';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEngine, EngineError } from '../../engine-adapter/index.ts';
import { createZeebeEngine } from '../../engine-adapter/zeebe/zeebe-engine.ts';
import { createTestDatabase } from '../helpers/database.ts';
import { startGatewayDouble } from './gateway-double.ts';

for (const key of Object.keys(process.env)) if (/^(ZEEBE|CAMUNDA)_/.test(key)) delete process.env[key];

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Serial, and no database for the start-up tests: a PGlite start-up blocks the event loop and would skew the timing.
// Start-up fails before the adapter touches its tables.
const noDatabase = {} as any;

test.serial('an unreachable ZEEBE_ADDRESS fails start-up fast with a message naming the address', async (t) => {
  {
    const address = `127.0.0.1:${await freePort()}`;
    const started = Date.now();
    const error = await t.throwsAsync(createEngine({ kind: 'zeebe', address, plaintext: true, knex: noDatabase, connectTimeoutMs: 3000 }), {
      instanceOf: EngineError,
    });
    t.is(error.code, 'ZEEBE_UNREACHABLE');
    t.true(error.message.includes(address), error.message);
    t.regex(error.message, /ZEEBE_ADDRESS/);
    t.true(Date.now() - started < 6000, `took ${Date.now() - started} ms`);
  }
});

test.serial('a gateway that accepts connections but never answers fails after the connect timeout', async (t) => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const started = Date.now();
    const error = await t.throwsAsync(createZeebeEngine({ address, plaintext: true, knex: noDatabase, connectTimeoutMs: 1500 }), { instanceOf: EngineError });
    t.regex(error.message, /within 1500 ms/);
    t.true(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test.serial('close() with workers long-polling returns within a few seconds', async (t) => {
  const db = await createTestDatabase('pglite');
  const double = await startGatewayDouble({ knex: db.knex, clock: new FakeClock() });
  try {
    // A long poll of 30 s: close() must cancel it, not wait it out.
    const engine = await createZeebeEngine({ address: double.address, plaintext: true, knex: db.knex, longPollMs: 30_000 });
    for (const type of ['sms', 'issue-pass', 'application-status']) engine.registerWorker(type, async () => ({}));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    t.true((double.calls.get('ActivateJobs') ?? 0) >= 5, 'the workers are polling');
    const started = Date.now();
    await engine.close();
    t.true(Date.now() - started < 3000, `close took ${Date.now() - started} ms`);
    await t.throwsAsync(engine.start('visit-pass', {}), { instanceOf: EngineError, message: /closed/ });
  } finally {
    await double.close();
    await db.close();
  }
});
