import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import { Validator } from '@seriousme/openapi-schema-validator';
import test from 'ava';
import { createApp } from '../../server/app.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

const SERVER_DIR = fileURLToPath(new URL('../../server', import.meta.url));

/** `METHOD /pattern` of every route the app's routers register (HEAD comes with GET and is not listed). */
function registeredRoutes(app: ReturnType<typeof createApp>): Set<string> {
  const routes = new Set<string>();
  for (const middleware of app.middleware) {
    const router = (middleware as { router?: Router }).router;
    if (!router) continue;
    for (const layer of router.stack) {
      if (!layer.methods.length) continue; // router.use() middleware
      for (const method of layer.methods) {
        if (method === 'HEAD' && layer.methods.includes('GET')) continue;
        routes.add(`${method} ${String(layer.path)}`);
      }
    }
  }
  return routes;
}

/** `METHOD /pattern` of every operation the document describes, its {param} turned back into :param. */
function documentedRoutes(doc: any): Set<string> {
  const routes = new Set<string>();
  for (const [p, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
    for (const method of Object.keys(item)) {
      if (['get', 'put', 'post', 'delete', 'patch', 'options', 'head'].includes(method)) {
        routes.add(`${method.toUpperCase()} ${p.replace(/\{([^}]+)\}/g, ':$1')}`);
      }
    }
  }
  return routes;
}

/** Error codes written literally where the server throws or sends them. */
function thrownCodes(): Set<string> {
  const codes = new Set<string>();
  const patterns = [
    /new AppError\(\s*\d{3},\s*'([A-Z][A-Z0-9_]+)'/g,
    /\b(?:badRequest|unauthorized|forbidden|notFound|conflict)\(\s*'([A-Z][A-Z0-9_]+)'/g,
    /\b(?:badRequest|unauthorized|forbidden|notFound|conflict)\(\s*\w+\s*\?\s*'([A-Z][A-Z0-9_]+)'\s*:\s*'([A-Z][A-Z0-9_]+)'/g,
    /\bidParam\([^,]+,\s*'([A-Z][A-Z0-9_]+)'/g,
    /\bsend\(ctx,\s*\d{3},\s*'([A-Z][A-Z0-9_]+)'/g,
    /\bsuper\(\s*\d{3},\s*'([A-Z][A-Z0-9_]+)'/g,
  ];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts') && entry.name !== 'openapi.ts') {
        const text = fs.readFileSync(file, 'utf8');
        for (const pattern of patterns) for (const m of text.matchAll(pattern)) for (const c of m.slice(1)) if (c) codes.add(c);
      }
    }
  };
  walk(SERVER_DIR);
  return codes;
}

test('/api/openapi.json describes exactly the routes the routers register, is valid OpenAPI 3.1, and lists every error code', async (t) => {
  const server = await startTestServer('pglite', { demo: false });
  try {
    const res = await new ApiClient(server.url).get('/api/openapi.json');
    t.is(res.status, 200);
    t.regex(res.headers.get('content-type') ?? '', /^application\/json/);
    const doc = res.body;
    t.is(doc.openapi, '3.1.0');

    const registered = registeredRoutes(createApp(server.services));
    t.true(registered.size > 60, `the walk found the routers (${registered.size} routes)`);
    const documented = documentedRoutes(doc);
    const missing = [...registered].filter((r) => !documented.has(r));
    const gone = [...documented].filter((r) => !registered.has(r));
    t.deepEqual(missing, [], 'routes the routers register but the document lacks (add them to OPERATIONS in server/http/openapi.ts)');
    t.deepEqual(gone, [], 'routes the document lists but no router registers');

    const validation = await new Validator().validate(doc);
    t.true(validation.valid, JSON.stringify(validation.errors, null, 2));

    const known = new Set<string>(doc.components.schemas.ErrorCode.enum);
    const undocumented = [...thrownCodes()].filter((c) => !known.has(c));
    t.deepEqual(undocumented, [], 'error codes the server throws but ErrorCode does not list');
    // every code an operation names is in the catalogue
    for (const [p, item] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        for (const [status, response] of Object.entries<any>(op.responses)) {
          const codes: string[] = response.content?.['application/json']?.schema?.allOf?.[1]?.properties?.error?.properties?.code?.enum ?? [];
          for (const code of codes) t.true(known.has(code), `${method.toUpperCase()} ${p} ${status}: ${code} is in ErrorCode`);
        }
        // state-changing calls need the CSRF header, whoever makes them (the metrics scrape is a GET)
        if (method !== 'get') t.true(op.security.every((s: object) => 'csrfToken' in s), `${method.toUpperCase()} ${p} requires X-CSRF-Token`);
      }
    }
  } finally {
    await server.close();
  }
});

test('the document tells who may call and answers errors in the documented shape', async (t) => {
  const server = await startTestServer('pglite', { demo: false });
  try {
    const client = new ApiClient(server.url);
    const doc = (await client.get('/api/openapi.json')).body;
    const op = (p: string, m: string) => doc.paths[p][m];
    t.deepEqual(op('/api/directory/campuses', 'get').security, [], 'anonymous');
    t.deepEqual(op('/api/applications/{id}', 'get').security, [{ visitorSession: [] }]);
    t.deepEqual(op('/api/tasks/{id}/complete', 'post').security, [{ staffSession: [], csrfToken: [] }]);
    t.deepEqual(op('/api/tasks/{id}/complete', 'post')['x-roles'], ['host', 'leader', 'admin', 'security']);
    t.deepEqual(op('/api/admin/staff/{id}', 'put')['x-roles'], ['admin']);
    t.deepEqual(op('/api/gate/verify', 'post')['x-roles'], ['guard', 'admin']);
    t.is(op('/api/visitors/register', 'post').requestBody.content['application/json'].schema.properties.idNumber.type, 'string');
    t.truthy(op('/api/uploads', 'post').requestBody.content['multipart/form-data']);

    // What the server answers matches what the document says for that operation.
    const refused = await client.get('/api/applications/1');
    t.is(refused.status, 401);
    const documented = op('/api/applications/{id}', 'get').responses['401'].content['application/json'].schema.allOf[1].properties.error.properties.code.enum;
    t.true(documented.includes(refused.body.error.code));
    t.is(typeof refused.body.error.message, 'string');
    const admin = await client.get('/api/admin/settings');
    t.is(admin.status, 401);
    t.true(op('/api/admin/settings', 'get').responses['401'].description.includes(admin.body.error.code));
  } finally {
    await server.close();
  }
});
