import test from 'ava';
import type { DatabaseKind } from '../../server/db/database.ts';
import { tinyPng } from '../fixtures/files.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, staffClient } from '../helpers/flow.ts';
import { type ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Generated requests over every route the routers register (issue 13): wrong types, huge and odd strings,
 * prototype-pollution keys, SQL/FEEL/HTML payloads, truncated JSON, wrong content types, odd multipart uploads,
 * odd path parameters and query strings; sent anonymously, as a visitor and as an administrator. Every answer
 * must be a clear refusal or a success: never a 5xx, a 4xx always `{ error: { code, message } }`; the server
 * logs no unhandled error, Object.prototype stays clean, and no refused request stores anything.
 * FUZZ_REQUESTS (default 5000 per database, 10,000 over both) and FUZZ_SEED reproduce a run.
 */
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 5000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261204);

interface Route {
  method: string;
  path: string;
}

/** The routes as @koa/router registered them: routes() returns a dispatch function that keeps its router. */
function registeredRoutes(server: TestServer): Route[] {
  const routes: Route[] = [];
  // createApp is what the test server runs; its middleware list holds each router's dispatch.
  for (const mw of server.app.middleware as unknown as Array<{ router?: { stack: Array<{ methods: string[]; path: string }> } }>) {
    for (const layer of mw.router?.stack ?? [])
      for (const method of layer.methods) if (method !== 'HEAD') routes.push({ method, path: layer.path });
  }
  return routes;
}

/** mulberry32: small, seeded, enough to reproduce a failing run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  return { next, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const STRINGS = [
  '',
  ' ',
  'a'.repeat(70_000),
  '\u0000',
  '😀'.repeat(500),
  '\u202eRTL',
  '\ud800',
  "' OR 1=1 --",
  "'; drop table visitors; --",
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '$' + '{7*7}', // a template injection probe, kept out of a template literal
  '{{7*7}}',
  '=1 + 1',
  '=now()',
  '../../etc/passwd',
  'NaN',
  '1e309',
  '-1',
  '0x10',
  'true',
  'null',
  '__proto__',
  'constructor',
  '2026-02-30',
  '25:61',
  '110101199003077777',
  '13800001000',
  '京A12345',
];
const NUMBERS = [0, -1, 1, 1.5, 1e308, -1e308, 2 ** 31, 2 ** 53 + 2, 99999999999];
const KEYS = [
  'name',
  'organisation',
  'idNumber',
  'mobile',
  'idTail',
  'username',
  'password',
  'data',
  'campusId',
  'departmentId',
  'hostName',
  'visitDate',
  'status',
  'reason',
  'comment',
  'decision',
  'leaderId',
  'variables',
  'xml',
  'components',
  'title',
  'code',
  'roles',
  'template',
  'body',
  'token',
  'csv',
  'retries',
  'key',
  'value',
  'id',
  'list',
  '__proto__',
  'constructor',
  'prototype',
];
const PARAMS = ['1', '0', '-1', '99999999999999999999', 'abc', "1'%20OR%20'1'='1", '..%2F..%2Fetc', '1.5', '%00', '%F0%9F%98%80', 'a'.repeat(300)];

function value(r: Rng, depth = 0): unknown {
  const roll = r.next();
  if (roll < 0.35) return r.pick(STRINGS);
  if (roll < 0.5) return r.pick(NUMBERS);
  if (roll < 0.58) return r.chance(0.5);
  if (roll < 0.64) return null;
  if (depth > 3) return r.pick(STRINGS);
  if (roll < 0.8) return Array.from({ length: Math.floor(r.next() * 4) }, () => value(r, depth + 1));
  return object(r, depth + 1);
}

function object(r: Rng, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = 1 + Math.floor(r.next() * 6);
  for (let i = 0; i < n; i++) Object.defineProperty(out, r.pick(KEYS), { value: value(r, depth), enumerable: true, writable: true, configurable: true });
  return out;
}

interface Body {
  payload?: string | FormData | Uint8Array;
  contentType?: string;
}

function body(r: Rng): Body {
  const roll = r.next();
  if (roll < 0.5) return { payload: JSON.stringify(object(r)), contentType: 'application/json' };
  if (roll < 0.58) return { payload: JSON.stringify(value(r)), contentType: 'application/json' };
  if (roll < 0.64) {
    const text = JSON.stringify(object(r));
    return { payload: text.slice(0, Math.floor(r.next() * text.length)), contentType: 'application/json' };
  }
  if (roll < 0.7)
    return {
      payload: r.pick([
        '{"__proto__":{"polluted":"yes"}}',
        '{"constructor":{"prototype":{"polluted":"yes"}}}',
        '{"data":{"__proto__":{"polluted":"yes"}}}',
        `${'['.repeat(5000)}${']'.repeat(5000)}`,
      ]),
      contentType: 'application/json',
    };
  if (roll < 0.76) return { payload: new Uint8Array([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]), contentType: 'application/json' };
  if (roll < 0.82) return { payload: 'name=a&mobile=1&__proto__[polluted]=yes', contentType: r.pick(['application/x-www-form-urlencoded', 'text/plain', 'application/xml']) };
  if (roll < 0.9) {
    const fd = new FormData();
    const bytes = r.pick([tinyPng(), Buffer.from('<html><script>alert(1)</script></html>'), Buffer.alloc(0), Buffer.from('%PDF-')]);
    const name = r.pick(['a.png', '../../x.png', '<img src=x onerror=alert(1)>.png', '😀.pdf', '', 'a'.repeat(400)]);
    fd.append(r.pick(['file', 'files', '__proto__', 'data']), new Blob([new Uint8Array(bytes)], { type: r.pick(['image/png', 'text/html', '']) }), name);
    if (r.chance(0.5)) fd.append(r.pick(KEYS), String(r.pick(STRINGS)));
    return { payload: fd };
  }
  if (roll < 0.95) return { payload: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc', contentType: 'multipart/form-data; boundary=x' };
  return {};
}

function query(r: Rng): string {
  if (r.chance(0.5)) return '';
  const parts: string[] = [];
  const n = 1 + Math.floor(r.next() * 4);
  for (let i = 0; i < n; i++) {
    const key = r.pick(['list', 'page', 'limit', 'q', 'status', 'from', 'to', 'tab', 'departmentId', '__proto__[polluted]', 'a[b][c]', 'list[]']);
    const v = r.chance(0.5) ? r.pick(PARAMS) : encode(String(r.pick(STRINGS)).slice(0, 3000));
    // Node's HTTP parser answers a request line past 16 KiB with a bare 431 before the app sees it.
    if (parts.join('&').length + key.length + v.length > 12_000) break;
    parts.push(`${key}=${v}`);
  }
  return `?${parts.join('&')}`;
}

/** A lone surrogate cannot be percent-encoded as UTF-8: it goes as the bytes of one (invalid UTF-8). */
function encode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

function fill(path: string, r: Rng): string {
  return path.replace(/:[A-Za-z]+(\([^)]*\))?/g, () => r.pick(PARAMS));
}

async function send(client: ApiClient, method: string, url: string, b: Body) {
  const headers: Record<string, string> = {};
  if (b.contentType) headers['content-type'] = b.contentType;
  return client.request(method, url, b.payload as any, headers);
}

const STORED_LOGS = new Set(['sessions', 'audit_log', 'login_attempts', 'knex_migrations', 'knex_migrations_lock']);

async function tableCounts(server: TestServer): Promise<Record<string, number>> {
  const tables: Array<{ tablename: string }> = await server.db.knex('pg_tables').where({ schemaname: 'public' }).select('tablename');
  const counts: Record<string, number> = {};
  for (const { tablename } of tables) {
    if (STORED_LOGS.has(tablename)) continue;
    const [{ n }] = await server.db.knex(tablename).count({ n: '*' });
    counts[tablename] = Number(n);
  }
  return counts;
}

for (const kind of await testBackends()) {
  test(`${kind}: ${REQUESTS} generated requests over every route: no 5xx, every refusal a clear JSON error, nothing stored, no pollution`, async (t) => {
    t.timeout(600_000);
    const server = await startTestServer(kind as DatabaseKind);
    try {
      const routes = registeredRoutes(server);
      t.true(routes.length > 40, `the routers register ${routes.length} routes`);
      const visitor = (await newVisitor(server)).client;
      const admin = (await staffClient(server, 'admin')).client;
      const before = await tableCounts(server);
      const r = prng(SEED + (kind === 'postgres' ? 1 : 0));
      const problems: string[] = [];
      const stored: string[] = [];
      const statuses = new Map<number, number>();
      for (let i = 0; i < REQUESTS; i++) {
        const route = routes[i % routes.length];
        // Logging out would leave the rest of the run anonymous.
        const who = route.path.endsWith('/logout') ? 'anonymous' : r.pick(['anonymous', 'visitor', 'admin'] as const);
        const client = who === 'visitor' ? visitor : who === 'admin' ? admin : new (admin.constructor as typeof ApiClient)(server.url);
        const b = route.method === 'GET' ? {} : route.method === 'DELETE' && r.chance(0.8) ? {} : body(r);
        const url = fill(route.path, r) + query(r);
        const res = await send(client, route.method, url, b);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const what = `${who} ${route.method} ${url.slice(0, 120)} (${b.contentType ?? (b.payload instanceof FormData ? 'multipart' : 'no body')})`;
        if (res.status >= 500) problems.push(`${res.status} ${what}: ${JSON.stringify(res.body).slice(0, 200)}`);
        else if (res.status >= 400) {
          const e = res.body?.error;
          if (typeof e?.code !== 'string' || !/^[A-Z][A-Z0-9_]+$/.test(e.code) || typeof e.message !== 'string' || !e.message)
            problems.push(`${res.status} without a clear error: ${what}: ${String(JSON.stringify(res.body)).slice(0, 200)}`);
        } else if (route.method !== 'GET') {
          stored.push(`${res.status} ${what}`);
          const json = b.contentType === 'application/json';
          const multipart = b.payload instanceof FormData || Boolean(b.contentType?.startsWith('multipart/'));
          if (b.payload !== undefined && !json && !(multipart && route.path === '/api/uploads'))
            problems.push(`${res.status}: a body the route cannot read was accepted: ${what}`);
        }
      }
      await server.settle();
      t.deepEqual(problems.slice(0, 20), [], `${problems.length} bad answers of ${REQUESTS}`);
      t.deepEqual(
        server.logs.filter((l) => l.level >= 50).map((l) => `${l.msg} ${l.path}`),
        [],
        'no unhandled error logged',
      );
      t.is(({} as any).polluted, undefined, 'Object.prototype is untouched');
      const after = await tableCounts(server);
      const changed = Object.keys(after).filter((k) => after[k] !== before[k]);
      // Only an accepted state change may store something, and the fuzz rarely composes a valid one.
      if (changed.length) t.true(stored.length > 0, `tables changed (${changed.join(', ')}) with no request accepted`);
      t.log(`${kind}: ${routes.length} routes, ${REQUESTS} requests; answers ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}; accepted state changes ${stored.length}; tables changed ${changed.join(', ') || 'none'}`);
      if (stored.length) t.log(stored.slice(0, 10).join('\n'));
    } finally {
      await server.close();
    }
  });
}
