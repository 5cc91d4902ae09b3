import http from 'node:http';
import { performance } from 'node:perf_hooks';
import test from 'ava';
import { DUMMY_HASH_PROMISE, verifyPassword } from '../../server/crypto/password.ts';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { testBackends } from '../helpers/database.ts';
import { makeMobile, makeVisitor } from '../helpers/identities.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * A client that connects from a chosen loopback address (127.0.0.x), so that the server's per-address throttle
 * sees different callers. Keeps its cookies and echoes the CSRF token like the pages do.
 */
class AddressClient {
  private cookies = new Map<string, string>();
  constructor(
    private readonly url: string,
    private readonly address: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {}

  private send(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { ...this.extraHeaders };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.cookies.has('vf_csrf')) headers['x-csrf-token'] = this.cookies.get('vf_csrf')!;
    if (payload) headers['content-type'] = 'application/json';
    const target = new URL(path, this.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method, headers, localAddress: this.address, agent: false },
        (res) => {
          for (const line of res.headers['set-cookie'] ?? []) {
            const [pair] = line.split(';');
            const eq = pair.indexOf('=');
            this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async post(path: string, body: unknown) {
    if (!this.cookies.has('vf_csrf')) await this.send('GET', '/api/csrf');
    return this.send('POST', path, body);
  }
}

let lastOctet = 10;
/** A fresh caller address for each scenario: the scenarios must not share the per-address count. */
const newAddress = () => `127.0.0.${++lastOctet}`;

const visitorLogin = (c: AddressClient, mobile: string, password: string) => c.post('/api/visitors/login', { mobile, password });
const staffLogin = (c: AddressClient, username: string, password: string) => c.post('/api/staff/login', { username, password });

async function register(server: TestServer) {
  const identity = makeVisitor();
  const res = await new AddressClient(server.url, newAddress()).post('/api/visitors/register', identity);
  if (res.status !== 201) throw new Error(`register: ${JSON.stringify(res.body)}`);
  return { mobile: identity.mobile, password: identity.idNumber.slice(-8) };
}

/**
 * An attacker who waits out every short delay: ten wrong secrets, a minute apart. Returns what each answer
 * was (status, code, body) and how many of the ten were actually checked (answered 401 rather than 429).
 */
async function tenPatientTries(server: TestServer, login: (secret: string) => Promise<{ status: number; body: any }>) {
  const answers: Array<{ status: number; body: any }> = [];
  for (let i = 0; i < 10; i++) {
    server.clock.advance(61_000);
    answers.push(await login(`9${String(i).padStart(7, '0')}`));
  }
  return { answers, checked: answers.filter((a) => a.status === 401).length };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (const kind of await testBackends()) {
  let shared: Promise<TestServer> | undefined;
  const open = () => {
    shared ??= startTestServer(kind);
    return shared;
  };
  test.after.always(async () => {
    if (shared) await (await shared).close();
  });

  test.serial(`${kind}: a visitor account is locked within 10 wrong tries, and an unknown mobile answers exactly alike`, async (t) => {
    const server = await open();
    const visitor = await register(server);
    const client = new AddressClient(server.url, newAddress());
    const known = await tenPatientTries(server, (secret) => visitorLogin(client, visitor.mobile, secret));
    t.log(`${kind}: ${known.checked} of 10 patient guesses checked; answers ${known.answers.map((a) => a.status).join(' ')}`);
    t.true(known.checked <= 10, `${known.checked} guesses checked`);
    t.is(known.answers[0].status, 401);
    t.is(known.answers[0].body.error.code, 'INVALID_CREDENTIALS');
    const right = await visitorLogin(client, visitor.mobile, visitor.password);
    t.is(right.status, 429, 'the right secret is refused once the account is locked');
    t.is(right.body.error.code, 'LOGIN_LOCKED');
    t.true(right.body.error.details.retryAfterSeconds >= 10 * 60, `locked for ${right.body.error.details.retryAfterSeconds} s`);

    // the same ten tries on a mobile nobody registered: the same statuses, codes and bodies, in the same order
    const other = new AddressClient(server.url, newAddress());
    const nobody = makeMobile();
    const unknown = await tenPatientTries(server, (secret) => visitorLogin(other, nobody, secret));
    t.deepEqual(unknown.answers, known.answers);

    server.clock.advance(16 * 60_000);
    t.is((await visitorLogin(client, visitor.mobile, visitor.password)).status, 200, 'the lock ends');
  });

  test.serial(`${kind}: a staff account is locked within 10 wrong tries, and an unknown user name answers exactly alike`, async (t) => {
    const server = await open();
    const client = new AddressClient(server.url, newAddress());
    const known = await tenPatientTries(server, (secret) => staffLogin(client, 'host-fl', secret));
    t.true(known.checked <= 10, `${known.checked} guesses checked`);
    t.is(known.answers[0].body.error.code, 'INVALID_CREDENTIALS');
    const right = await staffLogin(client, 'host-fl', DEMO_STAFF_PASSWORD);
    t.is(right.status, 429);
    t.is(right.body.error.code, 'LOGIN_LOCKED');
    t.true(right.body.error.details.retryAfterSeconds >= 10 * 60);

    const other = new AddressClient(server.url, newAddress());
    const unknown = await tenPatientTries(server, (secret) => staffLogin(other, 'no-such-user', secret));
    t.deepEqual(unknown.answers, known.answers);
  });

  test.serial(`${kind}: parallel guesses do not get past the account limit`, async (t) => {
    const server = await open();
    const visitor = await register(server);
    const clients = Array.from({ length: 25 }, () => new AddressClient(server.url, newAddress()));
    const answers = await Promise.all(clients.map((c, i) => visitorLogin(c, visitor.mobile, `8${String(i).padStart(7, '0')}`)));
    const checked = answers.filter((a) => a.status === 401).length;
    t.true(checked <= 10, `${checked} of 25 simultaneous guesses were checked`);
    t.true(answers.every((a) => a.status === 401 || (a.status === 429 && a.body.error.code === 'LOGIN_LOCKED')));
    const staffAnswers = await Promise.all(clients.map((c, i) => staffLogin(c, 'host-em', `guess-${i}`)));
    const staffChecked = staffAnswers.filter((a) => a.status === 401).length;
    t.log(`${kind}: of 25 simultaneous guesses, ${checked} (visitor) and ${staffChecked} (staff) were checked, the rest refused 429`);
    t.true(staffChecked <= 10, `${staffChecked} of 25 simultaneous staff guesses were checked`);
  });

  test.serial(`${kind}: one address trying many accounts is throttled; other addresses are not`, async (t) => {
    const server = await open();
    const visitor = await register(server);
    const attacker = new AddressClient(server.url, newAddress());
    const answers = [];
    for (let i = 0; i < 30; i++) answers.push(await visitorLogin(attacker, makeMobile(), '12345678'));
    const firstLocked = answers.findIndex((a) => a.status === 429);
    t.true(firstLocked > 0 && firstLocked <= 25, `the address was throttled at try ${firstLocked + 1}`);
    t.true(answers.slice(firstLocked).every((a) => a.status === 429 && a.body.error.code === 'LOGIN_LOCKED'));
    // the attacker's address may not log in even with a right secret; the visitor from elsewhere can
    t.is((await visitorLogin(attacker, visitor.mobile, visitor.password)).status, 429);
    t.is((await staffLogin(attacker, 'host-law', DEMO_STAFF_PASSWORD)).status, 429, 'the address limit covers staff logins too');
    t.is((await visitorLogin(new AddressClient(server.url, newAddress()), visitor.mobile, visitor.password)).status, 200);
  });

  test.serial(`${kind}: many honest visitors behind one address (a campus gateway), all at once, are never throttled`, async (t) => {
    const server = await open();
    const gateway = new AddressClient(server.url, newAddress());
    await gateway.post('/api/visitors/login', {}); // the CSRF cookie, before the burst
    const identities = Array.from({ length: 30 }, () => makeVisitor());
    const registered = await Promise.all(identities.map((v) => gateway.post('/api/visitors/register', v)));
    t.deepEqual(
      registered.map((r) => r.status),
      Array(30).fill(201),
    );
    const logins = await Promise.all(identities.map((v) => visitorLogin(gateway, v.mobile, v.idNumber.slice(-8))));
    t.deepEqual(
      logins.map((r) => r.status),
      Array(30).fill(200),
      'an address is counted only for failures, after the fact',
    );
  });

  test.serial(`${kind}: registration cannot be used to enumerate registered mobiles or ID numbers from one address`, async (t) => {
    const server = await open();
    const taken = makeVisitor();
    const first = await new AddressClient(server.url, newAddress()).post('/api/visitors/register', taken);
    t.is(first.status, 201);
    const prober = new AddressClient(server.url, newAddress());
    const answers = [];
    for (let i = 0; i < 30; i++) {
      // half probe the mobile, half the ID number
      const probe = i % 2 ? makeVisitor({ mobile: taken.mobile }) : makeVisitor({ idNumber: taken.idNumber });
      answers.push(await prober.post('/api/visitors/register', probe));
    }
    const firstLocked = answers.findIndex((a) => a.status === 429);
    t.log(`${kind}: the prober learnt ${firstLocked} answers before the address was throttled`);
    t.true(firstLocked > 0 && firstLocked <= 25, `throttled at try ${firstLocked + 1}`);
    t.true(answers.slice(0, firstLocked).every((a) => a.status === 409));
    t.true(answers.slice(firstLocked).every((a) => a.status === 429 && a.body.error.code === 'LOGIN_LOCKED'));
    // a newcomer elsewhere still learns that their mobile is registered
    t.is((await new AddressClient(server.url, newAddress()).post('/api/visitors/register', makeVisitor({ mobile: taken.mobile }))).status, 409);
  });

  test.serial(`${kind}: an unknown account costs the same time as a wrong secret (the password hash is paid on both paths)`, async (t) => {
    const server = await open();
    const visitor = await register(server);
    const dummy = await DUMMY_HASH_PROMISE;
    const sample = async (login: () => Promise<{ status: number }>) => {
      await server.db.knex('login_attempts').del(); // every sample a free try: the throttle's delays are not measured
      const start = performance.now();
      const res = await login();
      const ms = performance.now() - start;
      if (res.status !== 401) throw new Error(`expected 401, got ${res.status}`);
      return ms;
    };
    const client = new AddressClient(server.url, newAddress());
    await visitorLogin(client, visitor.mobile, 'warm-up1'); // the CSRF cookie and the first connection
    // Rounds interleave the four kinds of attempt with one bare password check (scrypt N=2^14, r=8, in this
    // process), so that a burst of load on the shared machine weighs on all of them alike.
    const hash: number[] = [];
    const visitorGap: number[] = [];
    const staffGap: number[] = [];
    const logins: Record<string, number[]> = { visitorWrong: [], visitorUnknown: [], staffWrong: [], staffUnknown: [] };
    for (let i = 0; i < 21; i++) {
      const start = performance.now();
      await verifyPassword('00000000', dummy);
      hash.push(performance.now() - start);
      const vw = await sample(() => visitorLogin(client, visitor.mobile, '00000000'));
      const vu = await sample(() => visitorLogin(client, '13900000000', '00000000'));
      const sw = await sample(() => staffLogin(client, 'host-pres', 'wrong-password'));
      const su = await sample(() => staffLogin(client, 'nobody-at-all', 'wrong-password'));
      logins.visitorWrong.push(vw);
      logins.visitorUnknown.push(vu);
      logins.staffWrong.push(sw);
      logins.staffUnknown.push(su);
      visitorGap.push(vu - vw);
      staffGap.push(su - sw);
    }
    const h = median(hash);
    const m = Object.fromEntries(Object.entries(logins).map(([k, v]) => [k, Number(median(v).toFixed(1))]));
    const gaps = { visitor: Number(median(visitorGap).toFixed(1)), staff: Number(median(staffGap).toFixed(1)) };
    t.log(`${kind}: password check ${h.toFixed(1)} ms; login medians (ms) ${JSON.stringify(m)}; unknown minus wrong, median of pairs (ms) ${JSON.stringify(gaps)}`);
    // Skipping the hash for an unknown account makes it answer a whole hash sooner (measured: 69 ms sooner on
    // a 60 ms hash). Allowed: half a hash (at least 5 ms), which tells the two cases apart with room on either
    // side; the gap of a sound server stays within a few ms, up to 11 ms when the shared machine is busy.
    const bound = Math.max(5, h / 2);
    t.true(Math.abs(gaps.visitor) < bound, `visitor: unknown minus wrong ${gaps.visitor} ms, bound ${bound.toFixed(1)} ms`);
    t.true(Math.abs(gaps.staff) < bound, `staff: unknown minus wrong ${gaps.staff} ms, bound ${bound.toFixed(1)} ms`);
    for (const [k, v] of Object.entries(m)) t.true(v > h * 0.7, `${k} pays the hash: ${v} ms against ${h.toFixed(1)} ms`);
  });
}

test('behind a trusted proxy, X-Forwarded-For entries the client wrote do not give it fresh addresses', async (t) => {
  const [kind] = await testBackends();
  const server = await startTestServer(kind, { env: { TRUST_PROXY: 'true' }, demo: false });
  try {
    const visitor = await register(server);
    // the proxy appends the address it saw (203.0.113.9); the attacker writes a new one in front each time
    const answers = [];
    for (let i = 0; i < 30; i++) {
      const spoofing = new AddressClient(server.url, '127.0.0.2', { 'x-forwarded-for': `10.0.${i}.1, 203.0.113.9` });
      answers.push(await visitorLogin(spoofing, makeMobile(), '12345678'));
    }
    const firstLocked = answers.findIndex((a) => a.status === 429);
    t.true(firstLocked > 0 && firstLocked <= 25, `throttled at try ${firstLocked + 1}`);
    // another client of the same proxy is another address
    const honest = new AddressClient(server.url, '127.0.0.2', { 'x-forwarded-for': '203.0.113.10' });
    t.is((await visitorLogin(honest, visitor.mobile, visitor.password)).status, 200);
  } finally {
    await server.close();
  }
});
