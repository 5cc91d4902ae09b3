import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import Koa from 'koa';
import { securityHeadersMiddleware } from '../../server/http/security-headers.middleware.ts';
import { staticMiddleware } from '../../server/http/static.middleware.ts';
import { htmlBytes } from '../fixtures/files.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor } from '../helpers/flow.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

/** The attributes of one Set-Cookie line, keyed by lower-case name (`true` for flags). */
function cookieAttributes(headers: Headers, name: string): Record<string, string | true> | undefined {
  const line = headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  if (!line) return undefined;
  const attrs: Record<string, string | true> = {};
  for (const part of line.split(';').slice(1)) {
    const [k, ...v] = part.trim().split('=');
    attrs[k.toLowerCase()] = v.length ? v.join('=') : true;
  }
  return attrs;
}

function assertBaseHeaders(t: any, headers: Headers, what: string) {
  t.is(headers.get('x-content-type-options'), 'nosniff', what);
  t.is(headers.get('x-frame-options'), 'DENY', what);
  t.is(headers.get('referrer-policy'), 'same-origin', what);
}

function upload(bytes: Buffer, name: string, type: string): FormData {
  const fd = new FormData();
  fd.append('file', new Blob([new Uint8Array(bytes)], { type }), name);
  return fd;
}

// Headers and cookie flags are set by middleware that no database reaches: one back end is enough.
const [kind] = await testBackends();
const servers: TestServer[] = [];
test.after.always(async () => {
  await Promise.all(servers.map((s) => s.close()));
});
const start = async (env: Record<string, string> = {}) => {
  const server = await startTestServer(kind, { env, demo: false });
  servers.push(server);
  return server;
};

test(`${kind}: API answers, success or error, carry nosniff, DENY framing, a referrer policy, no caching and a deny-all CSP`, async (t) => {
  const server = await start();
  const client = new ApiClient(server.url);
  const answers = {
    ok: await client.get('/api/directory/campuses'),
    unauthenticated: await client.get('/api/visitors/me'),
    missing: await client.get('/api/no-such-route'),
    invalid: await client.post('/api/visitors/login', { mobile: 1 }),
  };
  t.deepEqual(
    Object.values(answers).map((a) => a.status),
    [200, 401, 404, 400],
  );
  for (const [what, res] of Object.entries(answers)) {
    assertBaseHeaders(t, res.headers, what);
    t.is(res.headers.get('cache-control'), 'no-store', what);
    t.is(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", what);
    t.regex(res.headers.get('content-type') ?? '', /^application\/json/, what);
  }
  assertBaseHeaders(t, (await client.get('/healthz')).headers, 'healthz');
});

test('pages carry a CSP without inline or eval scripts and with frame-ancestors none; their sources have no inline script', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'visitflow-pages-'));
  fs.mkdirSync(path.join(root, 'assets'));
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><script type="module" src="/assets/a.js"></script>');
  fs.writeFileSync(path.join(root, 'assets', 'a.js'), 'console.log(1)');
  const app = new Koa();
  app.use(securityHeadersMiddleware());
  app.use(staticMiddleware(root));
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const p of ['/', '/assets/a.js']) {
      const res = await fetch(base + p);
      t.is(res.status, 200, p);
      assertBaseHeaders(t, res.headers, p);
      const csp = Object.fromEntries(
        (res.headers.get('content-security-policy') ?? '').split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name, values];
        }),
      );
      t.deepEqual(csp['script-src'], ["'self'"], `${p}: scripts only from our origin, no 'unsafe-inline', no 'unsafe-eval'`);
      t.deepEqual(csp['frame-ancestors'], ["'none'"], p);
      t.deepEqual(csp['object-src'], ["'none'"], p);
      t.deepEqual(csp['base-uri'], ["'self'"], p);
      t.false((res.headers.get('content-security-policy') ?? '').includes('unsafe-eval'), p);
    }
  } finally {
    server.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
  // the CSP forbids inline scripts: the page sources must not need any
  for (const page of ['web/index.html', 'web/staff/index.html', 'web/gate/index.html', 'web/admin/index.html']) {
    const html = fs.readFileSync(new URL(`../../${page}`, import.meta.url), 'utf8');
    const scripts = html.match(/<script\b[^>]*>/gi) ?? [];
    t.true(scripts.length > 0, page);
    for (const tag of scripts) t.regex(tag, /\ssrc=/, `${page}: ${tag}`);
    t.notRegex(html, /\son[a-z]+=/i, `${page}: no inline event handlers`);
  }
});

test(`${kind}: over plain http, session cookies are HttpOnly + SameSite=Lax without Secure; the CSRF cookie is readable, SameSite=Strict`, async (t) => {
  const server = await start({ PUBLIC_URL: 'http://visit.example.edu.cn' });
  const res = await fetch(`${server.url}/api/csrf`);
  const csrf = cookieAttributes(res.headers, 'vf_csrf');
  t.like(csrf, { path: '/', samesite: 'strict' });
  t.false('httponly' in csrf!, 'the pages read it to echo it');
  t.false('secure' in csrf!);

  const visitorCookie = await registerCookie(server);
  t.like(visitorCookie, { path: '/', samesite: 'lax', httponly: true });
  t.false('secure' in visitorCookie!);
});

test(`${kind}: with an https PUBLIC_URL (TLS ended at a proxy), every cookie is Secure and the server still answers`, async (t) => {
  const server = await start({ PUBLIC_URL: 'https://visit.example.edu.cn' });
  const res = await fetch(`${server.url}/api/csrf`);
  t.is(res.status, 200, 'a Secure cookie over the proxy\'s plain http hop is no reason for a 500');
  t.like(cookieAttributes(res.headers, 'vf_csrf'), { samesite: 'strict', secure: true });
  t.regex(res.headers.get('strict-transport-security') ?? '', /^max-age=\d{7,}/);
  t.like(await registerCookie(server), { samesite: 'lax', httponly: true, secure: true });
  const staff = await fetch(`${server.url}/api/staff/logout`, {
    method: 'POST',
    headers: { cookie: `vf_csrf=${cookieValue(res.headers, 'vf_csrf')}`, 'x-csrf-token': cookieValue(res.headers, 'vf_csrf')! },
  });
  t.is(staff.status, 204);
  t.like(cookieAttributes(staff.headers, 'vf_staff'), { samesite: 'lax', httponly: true, secure: true });
});

function cookieValue(headers: Headers, name: string): string | undefined {
  const line = headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
  return line?.split(';')[0].slice(name.length + 1);
}

/** Registers a visitor with raw fetch and returns the attributes of the session cookie it got. */
async function registerCookie(server: TestServer) {
  const first = await fetch(`${server.url}/api/csrf`);
  const token = cookieValue(first.headers, 'vf_csrf')!;
  const res = await fetch(`${server.url}/api/visitors/register`, {
    method: 'POST',
    headers: { cookie: `vf_csrf=${token}`, 'x-csrf-token': token, 'content-type': 'application/json' },
    body: JSON.stringify(makeVisitor()),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return cookieAttributes(res.headers, 'vf_visitor');
}

test(`${kind}: a .jpg that is really HTML or SVG script is refused; a JPEG with a script tail is served inert`, async (t) => {
  const server = await start({ UPLOAD_MAX_BYTES: String(100 * 1024) });
  const { client } = await newVisitor(server);
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>');
  const spacedHtml = Buffer.concat([Buffer.from('\n\n  '), htmlBytes()]);
  for (const [bytes, name, type] of [
    [htmlBytes(), 'photo.jpg', 'image/jpeg'],
    [spacedHtml, 'photo.jpg', 'image/jpeg'],
    [svg, 'photo.jpg', 'image/jpeg'],
    [svg, 'photo.svg', 'image/svg+xml'],
    [Buffer.from('<?php system($_GET[1]); ?>'), 'photo.jpg', 'image/jpeg'],
  ] as Array<[Buffer, string, string]>) {
    const res = await client.request('POST', '/api/uploads', upload(bytes, name, type));
    t.is(res.status, 415, `${name}: ${bytes.subarray(0, 20).toString()}`);
    t.is(res.body.error.code, 'UPLOAD_TYPE_NOT_ALLOWED');
  }
  t.is(Number((await server.db.knex('uploads').count({ n: '*' }).first())!.n), 0, 'nothing stored');

  // JPEG magic followed by HTML: it is an image as far as the bytes go, so it is served as one and never rendered
  const polyglot = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]), htmlBytes()]);
  const res = await client.request('POST', '/api/uploads', upload(polyglot, 'x.html', 'text/html'));
  t.is(res.status, 201);
  t.is(res.body.type, 'image/jpeg');
  const got = await fetch(server.url + res.body.url, { headers: { cookie: `vf_visitor=${client.cookie('vf_visitor')}` } });
  t.is(got.headers.get('content-type'), 'image/jpeg');
  t.is(got.headers.get('x-content-type-options'), 'nosniff');
  t.regex(got.headers.get('content-security-policy') ?? '', /default-src 'none'.*sandbox/);
  t.regex(got.headers.get('content-disposition') ?? '', /filename\*=UTF-8''x\.html\.jpg$/);
});
