import zlib from 'node:zlib';
import { makeVisitor } from './identities.ts';
import { ApiClient, type TestServer } from './server.ts';

/** A real 1x1 PNG, so content sniffing sees an image. */
export function tinyPng(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  const idat = zlib.deflateSync(Buffer.from([0, 255, 0, 0]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export async function newVisitor(server: TestServer, overrides = {}) {
  const client = new ApiClient(server.url);
  const identity = makeVisitor(overrides);
  const res = await client.post('/api/visitors/register', identity);
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`);
  return { client, identity, visitor: res.body.visitor };
}

export async function staffClient(server: TestServer, username: string) {
  const client = new ApiClient(server.url);
  const res = await client.post('/api/staff/login', { username, password: 'Demo@2026' });
  if (res.status !== 200) throw new Error(`staff login ${username} failed: ${JSON.stringify(res.body)}`);
  return { client, staff: res.body.staff };
}

/** Form data for the default application form: computer science (主校区), host 王老师. */
export async function applicationData(client: ApiClient, overrides: Record<string, unknown> = {}) {
  const form = await client.get('/api/applications/form');
  if (form.status !== 200) throw new Error(`form failed: ${JSON.stringify(form.body)}`);
  const campus = form.body.campuses.find((c: any) => c.name === '主校区');
  const dept = form.body.departments.find((d: any) => d.name === '计算机学院');
  return {
    ...form.body.prefill,
    withVehicle: false,
    campusId: String(campus.id),
    departmentId: String(dept.id),
    hostName: '王老师',
    hostMobile: '13800001000',
    visitDate: '2026-12-03',
    visitStartTime: '09:00',
    visitEndTime: '11:00',
    remark: '学术交流',
    ...overrides,
  };
}

export async function submitApplication(server: TestServer, client: ApiClient, overrides: Record<string, unknown> = {}) {
  const res = await client.post('/api/applications', { data: await applicationData(client, overrides) });
  if (res.status !== 201) throw new Error(`submit failed: ${JSON.stringify(res.body)}`);
  await server.settle();
  return res.body.application;
}

export async function onlyTask(client: ApiClient, list = 'mine') {
  const res = await client.get(`/api/tasks?list=${list}`);
  if (res.status !== 200) throw new Error(`task list failed: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function smsTo(server: TestServer) {
  return server.db.knex('sms_outbox').orderBy('id');
}

let approvedSerial = 0;
/** The window of approvedWithPass: 2026-12-01 14:00-18:00 campus time (the test clock starts that day). */
export const PASS_WINDOW = { start: '2026-12-01T06:00:00Z', end: '2026-12-01T10:00:00Z', during: '2026-12-01T07:00:00Z' };

/**
 * An approved application with its pass, as the issue-pass worker leaves it, written straight to the database
 * (no flow run): for tests of what comes after approval (the pass, the gate, access to both).
 */
export async function approvedWithPass(
  server: TestServer,
  visitorId: number,
  opts: {
    plate?: string | null;
    campus?: string;
    department?: string;
    /** The host's username; by default host-cs, or the first staff member of `department` when it is given. */
    host?: string;
    /** The pass window (UTC ISO); by default PASS_WINDOW, 14:00-18:00 on 2026-12-01 in Shanghai. */
    window?: { start: string; end: string };
  } = {},
) {
  const knex = server.db.knex;
  const campus = await knex('campuses').where({ code: opts.campus ?? 'MAIN' }).first();
  const dept = await knex('departments').where({ code: opts.department ?? 'CS' }).first();
  const host = opts.host || !opts.department ? await knex('staff').where({ username: opts.host ?? 'host-cs' }).first() : await knex('staff').where({ department_id: dept.id }).first();
  const window = opts.window ?? PASS_WINDOW;
  const local = (iso: string) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
  const now = server.clock.now();
  const [application] = await knex('applications')
    .insert({
      flow_number: `T${process.pid}${String(++approvedSerial).padStart(5, '0')}${Math.floor(Math.random() * 1000)}`,
      visitor_id: visitorId,
      campus_id: campus.id,
      department_id: dept.id,
      host_staff_id: host.id,
      visit_date: new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date(window.start)),
      visit_start: local(window.start),
      visit_end: local(window.end),
      window_start: window.start,
      window_end: window.end,
      plate_number: opts.plate ?? null,
      data: JSON.stringify({}),
      status: 'approved',
      process_id: 'visit-pass',
      form_key: 'visit-application',
      form_version: 1,
      created_at: now,
      updated_at: now,
    })
    .returning('*');
  const pass = await knex.transaction((trx) => server.services.passes.issue(trx, application.id));
  return { application, pass, campusId: campus.id as number };
}

