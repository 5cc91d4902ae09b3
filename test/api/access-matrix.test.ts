import test from 'ava';
import type Router from '@koa/router';
import { createApp } from '../../server/app.ts';
import { tinyPng } from '../fixtures/files.ts';
import { testBackends } from '../helpers/database.ts';
import { approvedWithPass, newVisitor, staffClient, submitApplication } from '../helpers/flow.ts';
import { makeIdNumber, makeMobile } from '../helpers/identities.ts';
import { ApiClient, type ApiResponse, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Every route the app registers x every kind of caller. A cell is `allow` (the request reaches the handler:
 * one of the row's `ok` statuses) or deny (401, 403 or 404 with a stable JSON error code). No cell may answer
 * 500, and a caller with no business with visitor A's data never gets any of it in a body, allowed or not.
 *
 * Visitor A owns: an application under review (app1, its host task and an attachment), an approved one with a
 * pass (app2) and one that may be withdrawn (app3). Visitor B is a second visitor with nothing of A's.
 */
const ROLES = ['anonymous', 'visitorA', 'visitorB', 'hostOther', 'hostDept', 'leader', 'guard', 'admin'] as const;
type Role = (typeof ROLES)[number];

const ALL: Role[] = [...ROLES];
const VISITORS: Role[] = ['visitorA', 'visitorB'];
const STAFF: Role[] = ['hostOther', 'hostDept', 'leader', 'guard', 'admin'];
const REVIEWERS: Role[] = ['hostOther', 'hostDept', 'leader', 'admin'];
const GATE: Role[] = ['guard', 'admin'];
const ADMIN: Role[] = ['admin'];
/** The reports: admins, and leaders for their own department (hosts and guards are refused). */
const REPORT_READERS: Role[] = ['leader', 'admin'];
const OWNER: Role[] = ['visitorA'];
/** Hosts invite visitors; each sees and cancels only his own invitations. */
const HOSTS: Role[] = ['hostOther', 'hostDept'];
/** Who may see A's application under review: A, the host with the task on it, admins. */
const APP1_READERS: Role[] = ['visitorA', 'hostDept', 'admin'];
/** Who may see anything of A at all (name, masked numbers, flow numbers, files, pass). */
const ENTITLED: Role[] = ['visitorA', 'hostDept', 'admin'];

interface Fixture {
  app1: number;
  app2: number;
  app3: number;
  task1: number;
  passId: number;
  upload: string;
  scratchCampus: number;
  scratchDepartment: number;
  scratchStaff: number;
  scratchGate: number;
  /** An unused invitation of hostDept's. */
  invitation: number;
}

interface Row {
  method: string;
  /** The route as registered (router layer path). */
  route: string;
  url: (f: Fixture) => string;
  allow: Role[];
  /** Statuses an allowed caller may get (the body sent is `{}`: a validation refusal still proves access). */
  ok?: number[];
  body?: unknown;
  /**
   * Callers refused with 409 and no data rather than 404: colleagues in the task's candidate group (the leader
   * of the department) who try to claim or complete a task a colleague holds learn only "already claimed".
   */
  claimedFor?: Role[];
}

const OK_READ = [200];
const OK_WRITE = [200, 201, 204, 400, 409];

const r = (method: string, route: string, allow: Role[], more: Partial<Row> = {}): Row => ({
  method,
  route,
  url: () => route,
  allow,
  ok: method === 'GET' ? OK_READ : OK_WRITE,
  ...more,
});

const ROWS: Row[] = [
  r('GET', '/healthz', ALL),
  r('GET', '/readyz', ALL),
  // From the machine itself with no proxy header: the loopback rule lets everyone scrape (METRICS_TOKEN unset).
  r('GET', '/metrics', ALL),
  r('GET', '/api/openapi.json', ALL),
  r('GET', '/api/csrf', ALL),
  r('POST', '/api/visitors/register', ALL, { ok: [400] }),
  r('POST', '/api/visitors/login', ALL, { ok: [400] }),
  r('POST', '/api/visitors/logout', ALL, { ok: [204] }),
  r('GET', '/api/visitors/me', VISITORS),
  r('POST', '/api/staff/login', ALL, { ok: [400] }),
  r('POST', '/api/staff/logout', ALL, { ok: [204] }),
  r('GET', '/api/staff/me', STAFF),
  // Single sign-on is off here (STAFF_SSO=none): its routes answer 404 SSO_NOT_CONFIGURED to everyone.
  r('GET', '/api/staff/sso', ALL),
  r('GET', '/api/staff/sso/start', ALL, { ok: [404] }),
  r('GET', '/api/staff/sso/callback', ALL, { ok: [404] }),
  r('GET', '/api/directory/campuses', ALL),
  r('GET', '/api/directory/departments', ALL),
  r('GET', '/api/applications/form', VISITORS),
  r('POST', '/api/applications', VISITORS, { ok: [400] }),
  r('GET', '/api/applications', VISITORS),
  r('GET', '/api/applications/:id', OWNER, { url: (f) => `/api/applications/${f.app1}` }),
  r('POST', '/api/applications/:id/withdraw', OWNER, { url: (f) => `/api/applications/${f.app3}/withdraw`, ok: [200, 409] }),
  r('GET', '/api/applications/:id/pass', OWNER, { url: (f) => `/api/applications/${f.app2}/pass` }),
  // A's companion on app2 has a pass (issued without an SMS): the owner sends his link.
  r('POST', '/api/applications/:id/companions/:position/resend-link', OWNER, { url: (f) => `/api/applications/${f.app2}/companions/0/resend-link`, ok: [200] }),
  // A companion's pass page (group visits): anyone may ask, only the token of an SMS link opens a pass.
  r('POST', '/api/pass-link', ALL, { ok: [400] }),
  r('POST', '/api/gate/verify', GATE, { ok: [400] }),
  r('POST', '/api/gate/passes/:id/entry', GATE, { url: (f) => `/api/gate/passes/${f.passId}/entry`, ok: [400] }),
  r('POST', '/api/gate/passes/:id/exit', GATE, { url: (f) => `/api/gate/passes/${f.passId}/exit`, ok: [400] }),
  r('GET', '/api/gate/public-key', GATE),
  r('GET', '/api/gate/gates', GATE),
  r('GET', '/api/gate/on-campus', GATE),
  // A's pass has no entry: the guard is let through to a 409 saying the visitor is not inside
  r('POST', '/api/gate/on-campus/:id/exit', GATE, { url: (f) => `/api/gate/on-campus/${f.passId}/exit`, ok: [409] }),
  r('GET', '/api/tasks', REVIEWERS),
  r('GET', '/api/tasks/:id', ['hostDept', 'admin'], { url: (f) => `/api/tasks/${f.task1}` }),
  r('POST', '/api/tasks/:id/claim', ['hostDept', 'admin'], { url: (f) => `/api/tasks/${f.task1}/claim`, ok: [200, 409], claimedFor: ['leader'] }),
  r('POST', '/api/tasks/:id/unclaim', ['hostDept', 'admin'], { url: (f) => `/api/tasks/${f.task1}/unclaim`, ok: [200, 409] }),
  // well-formed bodies, so that the refusal tested is the access check and not the body's validation
  r('PUT', '/api/tasks/:id/draft', ['hostDept', 'admin'], { url: (f) => `/api/tasks/${f.task1}/draft`, ok: [200], body: { data: {} } }),
  r('POST', '/api/tasks/:id/complete', ['hostDept', 'admin'], {
    url: (f) => `/api/tasks/${f.task1}/complete`,
    ok: [400, 409],
    body: { data: {} },
    claimedFor: ['leader'],
  }),
  r('GET', '/api/invitations', HOSTS),
  r('GET', '/api/invitations/options', HOSTS),
  r('POST', '/api/invitations', HOSTS, { ok: [400] }),
  // hostDept's invitation: the other host is answered 404 like a wrong id
  r('POST', '/api/invitations/:id/cancel', ['hostDept'], { url: (f) => `/api/invitations/${f.invitation}/cancel`, ok: [200, 409] }),
  r('POST', '/api/invitations/preview', ALL, { ok: [400] }),
  r('POST', '/api/invitations/form', VISITORS, { ok: [400] }),
  r('POST', '/api/invitations/apply', VISITORS, { ok: [400] }),
  r('POST', '/api/uploads', VISITORS, { ok: [400] }),
  r('GET', '/api/uploads/:id', APP1_READERS, { url: (f) => `/api/uploads/${f.upload}` }),
  r('GET', '/api/admin/sms', ADMIN),
  r('GET', '/api/admin/wechat', ADMIN),
  r('GET', '/api/admin/integrations', ADMIN),
  // {}: nothing to change, saved as it is
  r('PUT', '/api/admin/integrations/sms', ADMIN),
  r('PUT', '/api/admin/integrations/wechat', ADMIN),
  // no WeChat credentials in the fixture: the admin is let through to 400 WECHAT_NOT_CONFIGURED
  r('POST', '/api/admin/settings/wechat/test', ADMIN, { ok: [400] }),
  r('GET', '/api/admin/processes', ADMIN),
  r('POST', '/api/admin/processes/validate', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/processes/import', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/processes/deploy', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/processes/:processId/redeploy', ADMIN, { url: () => '/api/admin/processes/visit-pass/redeploy' }),
  r('GET', '/api/admin/processes/:processId/versions/:version', ADMIN, { url: () => '/api/admin/processes/visit-pass/versions/1' }),
  r('GET', '/api/admin/processes/:processId/versions/:version/export', ADMIN, {
    url: () => '/api/admin/processes/visit-pass/versions/1/export',
  }),
  r('GET', '/api/admin/forms', ADMIN),
  r('GET', '/api/admin/forms/:formKey', ADMIN, { url: () => '/api/admin/forms/visit-application' }),
  r('GET', '/api/admin/forms/:formKey/versions/:version', ADMIN, { url: () => '/api/admin/forms/visit-application/versions/1' }),
  r('POST', '/api/admin/forms/:formKey/check', ADMIN, { url: () => '/api/admin/forms/visit-application/check' }),
  r('PUT', '/api/admin/forms/:formKey', ADMIN, { url: () => '/api/admin/forms/visit-application', ok: [400] }),
  r('GET', '/api/admin/campuses', ADMIN),
  r('POST', '/api/admin/campuses', ADMIN, { ok: [400] }),
  r('PUT', '/api/admin/campuses/:id', ADMIN, { url: (f) => `/api/admin/campuses/${f.scratchCampus}` }),
  // 409 CAMPUS_HAS_ACTIVE_DEPARTMENTS: reached the handler
  r('POST', '/api/admin/campuses/:id/deactivate', ADMIN, { url: (f) => `/api/admin/campuses/${f.scratchCampus}/deactivate`, ok: [200, 409] }),
  r('POST', '/api/admin/campuses/:id/activate', ADMIN, { url: (f) => `/api/admin/campuses/${f.scratchCampus}/activate`, ok: [200] }),
  r('GET', '/api/admin/campuses/:id/poster.png', ADMIN, { url: (f) => `/api/admin/campuses/${f.scratchCampus}/poster.png` }),
  r('GET', '/api/admin/departments', ADMIN),
  r('POST', '/api/admin/departments', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/departments/import', ADMIN, { ok: [400] }),
  r('PUT', '/api/admin/departments/:id', ADMIN, { url: (f) => `/api/admin/departments/${f.scratchDepartment}` }),
  r('POST', '/api/admin/departments/:id/deactivate', ADMIN, {
    url: (f) => `/api/admin/departments/${f.scratchDepartment}/deactivate`,
    ok: [200],
  }),
  r('POST', '/api/admin/departments/:id/activate', ADMIN, { url: (f) => `/api/admin/departments/${f.scratchDepartment}/activate`, ok: [200] }),
  r('GET', '/api/admin/staff', ADMIN),
  r('POST', '/api/admin/staff', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/staff/import', ADMIN, { ok: [400] }),
  r('PUT', '/api/admin/staff/:id', ADMIN, { url: (f) => `/api/admin/staff/${f.scratchStaff}` }),
  r('POST', '/api/admin/staff/:id/deactivate', ADMIN, { url: (f) => `/api/admin/staff/${f.scratchStaff}/deactivate`, ok: [200] }),
  r('POST', '/api/admin/staff/:id/activate', ADMIN, { url: (f) => `/api/admin/staff/${f.scratchStaff}/activate`, ok: [200] }),
  // the scratch staff member has no SSO link: the admin is let through to 409 SSO_NOT_LINKED
  r('POST', '/api/admin/staff/:id/sso-unlink', ADMIN, { url: (f) => `/api/admin/staff/${f.scratchStaff}/sso-unlink`, ok: [409] }),
  r('POST', '/api/admin/staff/:id/password', ADMIN, { url: (f) => `/api/admin/staff/${f.scratchStaff}/password`, ok: [400] }),
  r('GET', '/api/admin/settings', ADMIN),
  r('PUT', '/api/admin/settings', ADMIN),
  r('POST', '/api/admin/settings/sms-preview', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/settings/sms/test', ADMIN, { ok: [400] }),
  r('GET', '/api/admin/instances', ADMIN),
  r('GET', '/api/admin/instances/:id', ADMIN, { url: (f) => `/api/admin/instances/${f.app1}` }),
  // app1 has no incident: the admin is let through to a 404 naming the incident
  r('POST', '/api/admin/instances/:id/incidents/:key/retry', ADMIN, { url: (f) => `/api/admin/instances/${f.app1}/incidents/1/retry`, ok: [404] }),
  r('POST', '/api/admin/instances/:id/cancel', ADMIN, { url: (f) => `/api/admin/instances/${f.app3}/cancel`, ok: [200, 409] }),
  r('GET', '/api/admin/audit', ADMIN),
  r('GET', '/api/admin/reports/counts', ADMIN, { url: () => '/api/admin/reports/counts?from=2026-01-01&to=2026-12-31' }),
  r('GET', '/api/reports/visits', REPORT_READERS),
  r('GET', '/api/reports/approval-times', REPORT_READERS),
  r('GET', '/api/reports/refusals', REPORT_READERS),
  r('GET', '/api/reports/no-shows', REPORT_READERS),
  r('GET', '/api/reports/peak-hours', REPORT_READERS),
  r('GET', '/api/reports/export', REPORT_READERS, { url: () => '/api/reports/export?format=xlsx&report=all' }),
  r('GET', '/api/admin/watch-list', ADMIN),
  r('POST', '/api/admin/watch-list', ADMIN, { ok: [400] }),
  r('POST', '/api/admin/watch-list/import', ADMIN, { ok: [400] }),
  // no entry 1 in the fixture: the admin is let through to a 404 naming the entry
  r('POST', '/api/admin/watch-list/:id/deactivate', ADMIN, { url: () => '/api/admin/watch-list/1/deactivate', ok: [404] }),
  r('GET', '/api/admin/gates', ADMIN),
  r('POST', '/api/admin/gates', ADMIN, { ok: [400] }),
  r('PUT', '/api/admin/gates/:id', ADMIN, { url: (f) => `/api/admin/gates/${f.scratchGate}`, ok: [400] }),
  r('POST', '/api/admin/gates/:id/deactivate', ADMIN, { url: (f) => `/api/admin/gates/${f.scratchGate}/deactivate`, ok: [200] }),
  r('POST', '/api/admin/gates/:id/activate', ADMIN, { url: (f) => `/api/admin/gates/${f.scratchGate}/activate`, ok: [200] }),
];

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const key = (method: string, route: string) => `${method} ${route}`;

/** Every method + path the app's routers register, read from @koa/router's stacks (HEAD rides along with GET). */
function registeredRoutes(server: TestServer): string[] {
  const found = new Set<string>();
  for (const mw of createApp(server.services).middleware as Array<{ router?: Router }>) {
    for (const layer of mw.router?.stack ?? []) {
      for (const method of layer.methods) if (method !== 'HEAD') found.add(key(method, layer.path as string));
    }
  }
  return [...found].sort();
}

async function inviteAs(host: ApiClient): Promise<number> {
  const leaders = (await host.get('/api/invitations/options')).body.leaders;
  const res = await host.post('/api/invitations', {
    visitorMobile: '13912340000',
    visitDate: '2026-12-05',
    visitStartTime: '09:00',
    visitEndTime: '10:00',
    leaderStaffId: leaders[0].id,
  });
  if (res.status !== 201) throw new Error(`invitation: ${JSON.stringify(res.body)}`);
  return res.body.invitation.id;
}

async function fixture(server: TestServer) {
  const knex = server.db.knex;
  const a = await newVisitor(server, { name: '甲访客' });
  const b = await newVisitor(server, { name: '乙访客' });
  const fd = new FormData();
  fd.append('file', new Blob([new Uint8Array(tinyPng())], { type: 'image/png' }), 'a-health-code.png');
  const upload = await a.client.request('POST', '/api/uploads', fd);
  if (upload.status !== 201) throw new Error(`upload: ${JSON.stringify(upload.body)}`);

  const app1 = await submitApplication(server, a.client);
  const app3 = await submitApplication(server, a.client, { visitDate: '2026-12-04' });
  await knex('uploads').where({ id: upload.body.id }).update({ application_id: app1.id });
  const task1 = await knex('tasks').where({ application_id: app1.id, status: 'open' }).first();
  if (!task1) throw new Error('no host task on app1');

  // app2: approved with a pass, as the issue-pass worker leaves it, and a companion with his own pass
  const { application: app2, pass } = await approvedWithPass(server, a.visitor.id);
  const companionId = makeIdNumber('19950101');
  await knex.transaction(async (trx) => {
    const { fieldCrypto, companions, passes } = server.services;
    const checked = { position: 0, name: '丙同行', idNumber: companionId, idNumberBidx: fieldCrypto.blindIndex('id', companionId), mobile: makeMobile() };
    await companions.insert(trx, app2.id, [checked]);
    await passes.issueForCompanions(trx, app2.id);
  });
  server.clock.set('2026-12-01T07:00:00Z');

  // what the admin's writes may touch: a campus, a department and a staff member none of the others use
  const scratchCampus = await knex('campuses').where({ code: 'AGRI' }).first();
  const scratchDepartment = await knex('departments').where({ code: 'ART' }).first();
  const scratchStaff = await knex('staff').where({ username: 'host-pe' }).first();
  const now = server.clock.now();
  const [scratchGate] = await knex('gates').insert({ campus_id: scratchCampus.id, name: '试验门', created_at: now, updated_at: now }).returning('id');

  const clients: Record<Role, ApiClient> = {
    anonymous: new ApiClient(server.url),
    visitorA: a.client,
    visitorB: b.client,
    hostOther: (await staffClient(server, 'host-me')).client,
    hostDept: (await staffClient(server, 'host-cs')).client,
    leader: (await staffClient(server, 'leader-cs')).client,
    guard: (await staffClient(server, 'guard')).client,
    admin: (await staffClient(server, 'admin')).client,
  };
  const f: Fixture = {
    app1: app1.id,
    app2: app2.id,
    app3: app3.id,
    task1: task1.id,
    passId: pass.id,
    upload: upload.body.id,
    scratchCampus: scratchCampus.id,
    scratchDepartment: scratchDepartment.id,
    scratchStaff: scratchStaff.id,
    scratchGate: scratchGate.id,
    invitation: await inviteAs(clients.hostDept),
  };
  // Marks of A's data: none may reach a caller outside ENTITLED. Clear numbers reach nobody.
  const aMarks = [
    a.identity.name,
    a.visitor.idNumber, // masked; the masked mobile is left out, as 139****0002 is also the guard's
    app1.flowNumber,
    app2.flow_number,
    app3.flowNumber,
    pass.short_code,
    upload.body.id,
  ].filter((m): m is string => typeof m === 'string' && m.length > 0);
  const clearMarks = [a.identity.idNumber, a.identity.mobile, b.identity.idNumber, b.identity.mobile];
  return { clients, f, aMarks, clearMarks };
}

const text = (res: ApiResponse) => (typeof res.body === 'string' ? res.body : JSON.stringify(res.body));

/** Runs a column's rows with the logouts last, so that a caller's session lives through its own column. */
const columnOrder = [...ROWS].sort((x, y) => Number(x.route.endsWith('/logout')) - Number(y.route.endsWith('/logout')));
/** Deniers first; then the callers whose allowed writes change state, A last (A withdraws what admin may have cancelled). */
const ROLE_ORDER: Role[] = ['anonymous', 'visitorB', 'hostOther', 'leader', 'guard', 'hostDept', 'admin', 'visitorA'];

for (const kind of await testBackends()) {
  // One server and one set of callers per database; the CSRF test runs first, as the matrix changes state.
  let shared: Promise<{ server: TestServer; setup: Awaited<ReturnType<typeof fixture>> }> | undefined;
  const open = () => {
    shared ??= startTestServer(kind).then(async (server) => ({ server, setup: await fixture(server) }));
    return shared;
  };
  test.after.always(async () => {
    if (shared) await (await shared).server.close();
  });

  test.serial(`${kind}: every state-changing route refuses a request without the CSRF header, even with a valid session`, async (t) => {
    const { server, setup } = await open();
    const { clients, f } = setup;
    const before = await server.db.knex('audit_log').count({ n: '*' });
    const taskBefore = await server.db.knex('tasks').where({ id: f.task1 }).first();
    const refusals: string[] = [];
    for (const row of ROWS.filter((x) => STATE_CHANGING.has(x.method))) {
      // the caller who would be let through, with its cookies but no header
      const client = clients[row.allow.includes('admin') ? 'admin' : row.allow[row.allow.length - 1]];
      const cookie = ['vf_visitor', 'vf_staff', 'vf_csrf']
        .filter((n) => client.cookie(n))
        .map((n) => `${n}=${client.cookie(n)}`)
        .join('; ');
      for (const header of [undefined, 'wrong.token']) {
        const res = await fetch(server.url + row.url(f), {
          method: row.method,
          headers: { cookie, 'content-type': 'application/json', ...(header ? { 'x-csrf-token': header } : {}) },
          body: JSON.stringify(row.body ?? {}),
        });
        const body = await res.json().catch(() => null);
        if (res.status !== 403 || body?.error?.code !== 'CSRF_TOKEN_INVALID') {
          refusals.push(`${row.method} ${row.route} header=${header}: ${res.status} ${JSON.stringify(body)}`);
        }
      }
    }
    t.deepEqual(refusals, []);
    t.deepEqual(await server.db.knex('audit_log').count({ n: '*' }), before, 'nothing was written');
    t.deepEqual(await server.db.knex('tasks').where({ id: f.task1 }).first(), taskBefore, 'the task is as it was');
    t.is((await server.db.knex('applications').where({ id: f.app3 }).first()).status, 'pending');
  });

  test.serial(`${kind}: every registered route x every caller gets its expected allow or deny, never a 500, never another's data`, async (t) => {
    const { server, setup } = await open();
    const registered = registeredRoutes(server);
    const rows = ROWS.map((row) => key(row.method, row.route)).sort();
    t.deepEqual(
      registered.filter((k) => !rows.includes(k)),
      [],
      'a registered route without a row in the matrix: add one, with who may call it',
    );
    t.deepEqual(
      rows.filter((k) => !registered.includes(k)),
      [],
      'a row for a route that is no longer registered',
    );
    t.is(new Set(rows).size, rows.length, 'one row per route');

    const { clients, f, aMarks, clearMarks } = setup;
    t.true(aMarks.length >= 7, `A's marks: ${aMarks}`);
    const failures: string[] = [];
    for (const role of ROLE_ORDER) {
      for (const row of columnOrder) {
        const url = row.url(f);
        const res = await clients[role].request(row.method, url, row.method === 'GET' ? undefined : (row.body ?? {}));
        const cell = `${role.padEnd(9)} ${row.method} ${url} -> ${res.status} ${text(res).slice(0, 160)}`;
        const body = text(res);
        if (res.status >= 500) failures.push(`500: ${cell}`);
        if (row.claimedFor?.includes(role)) {
          if (res.status !== 409 || res.body?.error?.code !== 'TASK_ALREADY_CLAIMED') failures.push(`should say claimed: ${cell}`);
        } else if (row.allow.includes(role)) {
          if (!(row.ok ?? OK_WRITE).includes(res.status)) failures.push(`should allow: ${cell}`);
        } else {
          const code = res.body?.error?.code;
          if (![401, 403, 404].includes(res.status) || typeof code !== 'string' || !/^[A-Z][A-Z_]+$/.test(code)) {
            failures.push(`should deny: ${cell}`);
          }
          if (row.body !== undefined) {
            // access is decided before the body is read: a malformed body is refused the same way
            const bare = await clients[role].request(row.method, url, {});
            if (bare.status !== res.status || bare.body?.error?.code !== code) {
              failures.push(`should deny whatever the body: ${role} ${row.method} ${url} {} -> ${bare.status} ${text(bare).slice(0, 160)}`);
            }
          }
        }
        if (!ENTITLED.includes(role)) {
          for (const mark of aMarks) if (body.includes(mark)) failures.push(`A's data (${mark}) leaked: ${cell}`);
        }
        for (const mark of clearMarks) if (body.includes(mark)) failures.push(`a clear ID number or mobile: ${cell}`);
      }
    }
    t.deepEqual(failures, [], `${failures.length} cells wrong of ${ROWS.length * ROLES.length}`);
  });
}

