import test from 'ava';
import type { Knex } from 'knex';
import { migrationSource } from '../../server/db/migrations/index.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import { approvedWithPass, newVisitor, staffClient } from '../helpers/flow.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * Who is on campus now (issue 15): gates recorded with entries and exits, the on-campus list with its counts per
 * campus and gate, overstays, the exit recorded from the list, and who may see it.
 */

const MORNING = '2026-12-01T07:00:00Z'; // 15:00 in Shanghai

/** An approved application of the visitor at a campus/department with the given window, and its pass. */
function approvedPass(server: TestServer, visitorId: number, opts: { campus: string; department: string; from: string; until: string; plate?: string }) {
  return approvedWithPass(server, visitorId, { campus: opts.campus, department: opts.department, plate: opts.plate, window: { start: opts.from, end: opts.until } });
}

async function campusIds(knex: Knex) {
  const rows = await knex('campuses').select('id', 'code');
  return Object.fromEntries(rows.map((r) => [r.code, r.id as number])) as Record<string, number>;
}

/** The presence the events say (latest event an entry), to check the kept table against. */
async function presenceFromEvents(knex: Knex) {
  const { rows } = await knex.raw(`
    select pass_id, id, gate_id from (
      select distinct on (pass_id) pass_id, id, kind, gate_id from pass_events order by pass_id, at desc, id desc
    ) last where kind = 'entry' order by pass_id`);
  return rows.map((r: any) => ({ pass_id: Number(r.pass_id), event_id: Number(r.id), gate_id: r.gate_id }));
}

for (const kind of await testBackends()) {
  test(`${kind}: entry at a gate without exit = on campus; exit = gone; window ended = overstay; counts per campus and gate; exit from the list`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const ids = await campusIds(knex);
      server.clock.set(MORNING); // staff sessions last 8 hours: log in on the day, not at the server's start
      const admin = (await staffClient(server, 'admin')).client;
      const guard = (await staffClient(server, 'guard')).client;

      // The admin names the gates: two at the main campus, one at the east campus.
      const mk = async (campus: string, name: string) => {
        const res = await admin.post('/api/admin/gates', { campusId: ids[campus], name });
        t.is(res.status, 201, JSON.stringify(res.body));
        return res.body.gate.id as number;
      };
      const front = await mk('MAIN', '正门');
      const eastGate = await mk('MAIN', '东门');
      const north = await mk('EAST', '北门');
      const old = await mk('MAIN', '旧西门');
      t.is((await admin.post(`/api/admin/gates/${old}/deactivate`)).status, 200);
      const offered = (await guard.get('/api/gate/gates')).body.gates;
      t.deepEqual(
        offered.map((g: any) => [g.name, g.campusId]),
        [
          ['正门', ids.MAIN],
          ['东门', ids.MAIN],
          ['北门', ids.EAST],
        ],
        'the gate page is offered the active gates only',
      );

      const a = await newVisitor(server, { name: '张三丰', organisation: '某科技公司' });
      const b = await newVisitor(server, { name: '李四' });
      const c = await newVisitor(server, { name: '王五', organisation: '某设计院' });
      const d = await newVisitor(server, { name: '赵六' });
      const pa = await approvedPass(server, a.visitor.id, { campus: 'MAIN', department: 'CS', from: '2026-12-01T06:00:00Z', until: '2026-12-01T10:00:00Z', plate: '京A12345' });
      const pb = await approvedPass(server, b.visitor.id, { campus: 'MAIN', department: 'ME', from: '2026-12-01T06:00:00Z', until: '2026-12-01T10:00:00Z' });
      const pc = await approvedPass(server, c.visitor.id, { campus: 'EAST', department: 'FL', from: '2026-12-01T06:00:00Z', until: '2026-12-01T08:00:00Z' });
      const pd = await approvedPass(server, d.visitor.id, { campus: 'MAIN', department: 'LIB', from: '2026-12-01T06:00:00Z', until: '2026-12-01T10:00:00Z' });
      server.clock.set(MORNING);

      const enter = (p: { pass: any; campusId: number }, body: Record<string, unknown> = {}) =>
        guard.post(`/api/gate/passes/${p.pass.id}/entry`, { campusId: p.campusId, ...body });
      // A gate of another campus, a deactivated one or an unknown one is refused, and nothing is recorded.
      const wrong = await enter(pa, { gateId: north });
      t.is(wrong.status, 400);
      t.is(wrong.body.error.code, 'GATE_NOT_IN_CAMPUS');
      t.is((await enter(pa, { gateId: old })).body.error.code, 'GATE_NOT_FOUND');
      t.is((await enter(pa, { gateId: 999_999 })).body.error.code, 'GATE_NOT_FOUND');
      t.is(Number((await knex('pass_events').count({ n: '*' }))[0].n), 0);

      const ea = await enter(pa, { gateId: front });
      t.is(ea.status, 200, JSON.stringify(ea.body));
      t.is(ea.body.event.gateId, front);
      t.is((await enter(pb, { gateId: eastGate })).status, 200);
      server.clock.advance(60_000);
      t.is((await enter(pc, { gateId: north })).status, 200);
      // A gate page from before gates existed sends no gate: recorded, and shown as the unknown gate.
      const ed = await enter(pd);
      t.is(ed.status, 200);
      t.is(ed.body.event.gateId, null);

      const list = async (client: ApiClient, query = '') => {
        const res = await client.get(`/api/gate/on-campus${query}`);
        t.is(res.status, 200, JSON.stringify(res.body));
        return res.body;
      };
      let now = await list(admin);
      t.is(now.total, 4);
      t.like(now.summary, { total: 4, overstays: 0 });
      const main = now.summary.campuses.find((x: any) => x.id === ids.MAIN);
      t.deepEqual(
        main.gates.map((g: any) => [g.name, g.total]),
        [
          ['正门', 1],
          ['东门', 1],
          ['未知门岗', 1],
        ],
        'per gate of entry; the deactivated gate with nobody inside is left out; no gate = 未知门岗',
      );
      t.like(main, { total: 3, overstays: 0 });
      t.like(now.summary.campuses.find((x: any) => x.id === ids.EAST), { total: 1, gates: [{ id: north, name: '北门', total: 1 }] });
      t.like(now.summary.campuses.find((x: any) => x.name === '南校区'), { total: 0, overstays: 0, gates: [] }, 'an empty campus shows with 0');
      const rowA = now.visitors.find((r: any) => r.passId === pa.pass.id);
      t.like(rowA, {
        applicationId: pa.application.id,
        name: '张**',
        organisation: '某科技公司',
        department: { name: '计算机学院' },
        campus: { id: ids.MAIN, name: '主校区' },
        gate: { id: front, name: '正门' },
        enteredAt: '2026-12-01T07:00:00.000Z',
        plateNumber: '京A12345',
        validUntil: '2026-12-01T10:00:00.000Z',
        passStatus: 'active',
        overstay: false,
        overstayMinutes: null,
      });
      t.regex(rowA.mobile, /^1\d\d\*{4}\d{4}$/);
      t.is(rowA.mobile, a.visitor.mobile, 'the masked mobile the visitor sees');
      t.like(now.visitors.find((r: any) => r.passId === pd.pass.id), { name: '赵*', gate: { id: null, name: '未知门岗' } });
      const text = JSON.stringify(now);
      for (const v of [a, b, c, d]) {
        for (const clear of [v.identity.idNumber, v.identity.mobile, v.identity.name]) t.false(text.includes(clear), `no clear ${clear}`);
      }
      t.false(text.includes(a.visitor.idNumber), 'not even the masked ID number: the list does not need it');

      // B leaves by the east gate: gone from the list and the counts.
      server.clock.advance(60_000);
      const exit = await guard.post(`/api/gate/passes/${pb.pass.id}/exit`, { campusId: pb.campusId, gateId: eastGate });
      t.is(exit.status, 200);
      t.is(exit.body.event.gateId, eastGate);
      now = await list(guard);
      t.is(now.total, 3);
      t.false(now.visitors.some((r: any) => r.passId === pb.pass.id));
      t.deepEqual(
        now.summary.campuses.find((x: any) => x.id === ids.MAIN).gates.map((g: any) => [g.name, g.total]),
        [
          ['正门', 1],
          ['东门', 0],
          ['未知门岗', 1],
        ],
      );

      // 16:30 in Shanghai: C's window ended at 16:00 with no exit -> an overstay of 30 minutes.
      server.clock.set('2026-12-01T08:30:00Z');
      now = await list(admin);
      t.like(now.summary, { total: 3, overstays: 1 });
      t.like(now.visitors[0], { passId: pc.pass.id, overstay: true, overstayMinutes: 30, gate: { name: '北门' }, organisation: '某设计院' });
      t.like(now.summary.campuses.find((x: any) => x.id === ids.EAST), { total: 1, overstays: 1 });
      t.true(now.visitors.slice(1).every((r: any) => r.overstay === false));

      // Filters: overstays only, a campus, a gate, the unknown gate. The counts stay those of the campus filter.
      const only = await list(admin, '?overstay=true');
      t.deepEqual(only.visitors.map((r: any) => r.passId), [pc.pass.id]);
      t.is(only.summary.total, 3, 'the counts are not narrowed by the overstay filter');
      t.deepEqual((await list(admin, '?overstay=false')).visitors.map((r: any) => r.passId).sort(), [pa.pass.id, pd.pass.id].sort());
      const east = await list(admin, `?campusId=${ids.EAST}`);
      t.deepEqual(east.visitors.map((r: any) => r.passId), [pc.pass.id]);
      t.deepEqual(east.summary.campuses.map((x: any) => x.id), [ids.EAST]);
      t.deepEqual((await list(admin, `?gateId=${front}`)).visitors.map((r: any) => r.passId), [pa.pass.id]);
      t.deepEqual((await list(admin, '?gateId=unknown')).visitors.map((r: any) => r.passId), [pd.pass.id]);
      t.deepEqual((await list(admin, `?campusId=${ids.MAIN}&overstay=true`)).visitors, []);
      for (const bad of ['?campusId=abc', '?gateId=x', '?overstay=yes', '?campusId=99999999999', '?gateId=0']) {
        const res = await admin.get(`/api/gate/on-campus${bad}`);
        t.is(res.status, 400, bad);
        t.is(res.body.error.code, 'VALIDATION_FAILED', bad);
      }

      // 18:45: everyone left is overdue; the longest overdue first.
      server.clock.set('2026-12-01T10:45:00Z');
      now = await list(admin);
      t.like(now.summary, { total: 3, overstays: 3 });
      t.deepEqual(
        now.visitors.map((r: any) => [r.passId, r.overstayMinutes]),
        [
          [pc.pass.id, 165],
          [pd.pass.id, 45],
          [pa.pass.id, 45],
        ],
        'overstays by time overdue, then the latest entry first',
      );

      // The guard records C's exit from the list, at the east campus's north gate: audited, C is gone.
      const wrongGate = await guard.post(`/api/gate/on-campus/${pc.pass.id}/exit`, { gateId: front });
      t.is(wrongGate.status, 400);
      t.is(wrongGate.body.error.code, 'GATE_NOT_IN_CAMPUS');
      const out = await guard.post(`/api/gate/on-campus/${pc.pass.id}/exit`, { gateId: north });
      t.is(out.status, 200, JSON.stringify(out.body));
      t.like(out.body.event, { passId: pc.pass.id, kind: 'exit', campusId: ids.EAST, gateId: north, at: '2026-12-01T10:45:00.000Z' });
      t.is(out.body.warning, undefined);
      const again = await guard.post(`/api/gate/on-campus/${pc.pass.id}/exit`, { gateId: north });
      t.is(again.status, 409);
      t.is(again.body.error.code, 'VISITOR_NOT_ON_CAMPUS');
      t.is((await guard.post('/api/gate/on-campus/999999/exit', {})).status, 404);
      const audit = await knex('audit_log').where({ action: 'pass.exit.from_list' });
      t.is(audit.length, 1);
      const guardRow = await knex('staff').where({ username: 'guard' }).first();
      t.like(audit[0], { actor_id: guardRow.id, target_type: 'pass', target_id: String(pc.pass.id) });
      const after = typeof audit[0].after === 'string' ? JSON.parse(audit[0].after) : audit[0].after;
      t.like(after, { gateId: north, overstayMinutes: 165, exitEventId: out.body.event.id });
      now = await list(guard);
      t.deepEqual(now.visitors.map((r: any) => r.passId).sort(), [pa.pass.id, pd.pass.id].sort());
      t.is(now.summary.campuses.find((x: any) => x.id === ids.EAST).total, 0);

      // A scan at the gate later still says the right thing: C's last event is the exit.
      const verify = await guard.post('/api/gate/verify', { code: pc.pass.short_code, campusId: ids.EAST });
      t.is(verify.body.lastEvent.kind, 'exit');

      // The kept presence is what the events say.
      t.deepEqual(
        (await knex('pass_presence').orderBy('pass_id').select('pass_id', 'event_id', 'gate_id')).map((r) => ({ ...r, event_id: Number(r.event_id) })),
        await presenceFromEvents(knex),
      );
    } finally {
      await server.close();
    }
  });

  test(`${kind}: only guards and admins see who is on campus; a guard with a department sees that campus only`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const ids = await campusIds(knex);
      const admin = (await staffClient(server, 'admin')).client;
      const fl = await knex('departments').where({ code: 'FL' }).first(); // 外国语学院, east campus
      const created = await admin.post('/api/admin/staff', { username: 'guard-east', name: '东区门卫', mobile: '13900000077', departmentId: fl.id, roles: ['guard'], password: 'Guard@2026x' });
      t.is(created.status, 201, JSON.stringify(created.body));
      const eastGuard = new ApiClient(server.url);
      t.is((await eastGuard.post('/api/staff/login', { username: 'guard-east', password: 'Guard@2026x' })).status, 200);
      const guard = (await staffClient(server, 'guard')).client;

      const v1 = await newVisitor(server, { name: '钱七' });
      const v2 = await newVisitor(server, { name: '孙八' });
      const pm = await approvedPass(server, v1.visitor.id, { campus: 'MAIN', department: 'CS', from: '2026-12-01T06:00:00Z', until: '2026-12-01T10:00:00Z' });
      const pe = await approvedPass(server, v2.visitor.id, { campus: 'EAST', department: 'FL', from: '2026-12-01T06:00:00Z', until: '2026-12-01T10:00:00Z' });
      server.clock.set(MORNING);
      t.is((await guard.post(`/api/gate/passes/${pm.pass.id}/entry`, { campusId: pm.campusId })).status, 200);
      t.is((await guard.post(`/api/gate/passes/${pe.pass.id}/entry`, { campusId: pe.campusId })).status, 200);

      const mine = await eastGuard.get('/api/gate/on-campus');
      t.is(mine.status, 200, JSON.stringify(mine.body));
      t.deepEqual(mine.body.scope, { campusId: ids.EAST });
      t.deepEqual(mine.body.visitors.map((r: any) => r.passId), [pe.pass.id]);
      t.deepEqual(mine.body.summary.campuses.map((c: any) => c.id), [ids.EAST]);
      t.is(mine.body.summary.total, 1);
      t.is((await eastGuard.get(`/api/gate/on-campus?campusId=${ids.EAST}`)).status, 200);
      const other = await eastGuard.get(`/api/gate/on-campus?campusId=${ids.MAIN}`);
      t.is(other.status, 403);
      t.is(other.body.error.code, 'CAMPUS_NOT_IN_SCOPE');
      const otherExit = await eastGuard.post(`/api/gate/on-campus/${pm.pass.id}/exit`, {});
      t.is(otherExit.status, 403);
      t.is(otherExit.body.error.code, 'CAMPUS_NOT_IN_SCOPE');
      t.is((await knex('pass_presence').where({ pass_id: pm.pass.id })).length, 1, 'still inside');

      // The demo guard has no department: every campus, as the gate page lets them stand at any.
      const all = await guard.get('/api/gate/on-campus');
      t.deepEqual(all.body.scope, { campusId: null });
      t.is(all.body.total, 2);

      const host = (await staffClient(server, 'host-cs')).client;
      const leader = (await staffClient(server, 'leader-cs')).client;
      for (const [who, client, status, code] of [
        ['anonymous', new ApiClient(server.url), 401, 'STAFF_LOGIN_REQUIRED'],
        ['visitor', v1.client, 401, 'STAFF_LOGIN_REQUIRED'],
        ['host', host, 403, 'ROLE_REQUIRED'],
        ['leader', leader, 403, 'ROLE_REQUIRED'],
      ] as const) {
        for (const [method, path] of [
          ['GET', '/api/gate/on-campus'],
          ['GET', '/api/gate/gates'],
          ['POST', `/api/gate/on-campus/${pm.pass.id}/exit`],
          ['GET', '/api/admin/gates'],
          ['POST', '/api/admin/gates'],
        ] as const) {
          const res = await client.request(method, path, method === 'POST' ? {} : undefined);
          t.is(res.status, path.startsWith('/api/admin/') && who !== 'anonymous' && who !== 'visitor' ? 403 : status, `${who} ${method} ${path}`);
          t.is(res.body.error.code, code, `${who} ${method} ${path}`);
          t.false(JSON.stringify(res.body).includes('钱'), 'nothing of the visitor');
        }
      }
      // Guards do not keep the gates: that is the admin's directory.
      t.is((await guard.get('/api/admin/gates')).status, 403);
      t.is((await knex('pass_presence')).length, 2);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: admins keep the gates of each campus (audited); a name is unique per campus; a gate never moves`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const knex = server.db.knex;
      const ids = await campusIds(knex);
      const admin = (await staffClient(server, 'admin')).client;
      const made = await admin.post('/api/admin/gates', { campusId: ids.MAIN, name: ' 正门 ' });
      t.is(made.status, 201);
      t.like(made.body.gate, { campusId: ids.MAIN, name: '正门', active: true });
      const gateId = made.body.gate.id;
      const dup = await admin.post('/api/admin/gates', { campusId: ids.MAIN, name: '正门' });
      t.is(dup.status, 409);
      t.is(dup.body.error.code, 'GATE_NAME_TAKEN');
      t.is((await admin.post('/api/admin/gates', { campusId: ids.EAST, name: '正门' })).status, 201, 'another campus may have its own 正门');
      const missing = await admin.post('/api/admin/gates', { campusId: 999_999, name: '侧门' });
      t.is(missing.status, 400);
      t.is(missing.body.error.code, 'CAMPUS_NOT_FOUND');
      t.is((await admin.post('/api/admin/gates', { campusId: ids.MAIN, name: '' })).body.error.code, 'VALIDATION_FAILED');
      t.is((await admin.post('/api/admin/gates', { campusId: ids.MAIN, name: 'x'.repeat(51) })).body.error.code, 'VALIDATION_FAILED');

      const renamed = await admin.request('PUT', `/api/admin/gates/${gateId}`, { name: '南大门' });
      t.is(renamed.status, 200);
      t.is(renamed.body.gate.name, '南大门');
      const move = await admin.request('PUT', `/api/admin/gates/${gateId}`, { name: '南大门', campusId: ids.EAST });
      t.is(move.status, 400, 'a gate stays on its campus');
      t.is((await admin.request('PUT', '/api/admin/gates/999999', { name: 'x' })).status, 404);
      t.is((await admin.post(`/api/admin/gates/${gateId}/deactivate`)).body.gate.active, false);
      t.false((await admin.get('/api/gate/gates')).body.gates.some((g: any) => g.id === gateId));
      t.is((await admin.post(`/api/admin/gates/${gateId}/activate`)).body.gate.active, true);
      const listed = await admin.get(`/api/admin/gates?campusId=${ids.MAIN}`);
      t.deepEqual(listed.body.gates.map((g: any) => g.name), ['南大门']);
      t.is((await admin.get('/api/admin/gates')).body.gates.length, 2);

      const actions = (await knex('audit_log').where('target_type', 'gate').orderBy('id')).map((r) => r.action);
      t.deepEqual(actions, ['gate.create', 'gate.create', 'gate.update', 'gate.deactivate', 'gate.activate']);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: migration 014 fills the presence from the events recorded before it; those events show the unknown gate`, async (t) => {
    const db = await createTestDatabase(kind, { migrate: false });
    try {
      const knex = db.knex;
      const before014 = {
        ...migrationSource,
        getMigrations: async () => (await migrationSource.getMigrations([])).filter((m) => migrationSource.getMigrationName(m) < '014'),
      };
      await knex.migrate.latest({ migrationSource: before014 });
      const now = new Date('2026-12-01T07:00:00Z');
      const [campus] = await knex('campuses').insert({ code: 'MAIN', name: '主校区' }).returning('id');
      const [dept] = await knex('departments').insert({ campus_id: campus.id, code: 'CS', name: '计算机学院' }).returning('id');
      const [host] = await knex('staff')
        .insert({ username: 'h', name: '王老师', mobile_enc: 'x', mobile_bidx: 'x', mobile_masked: '138****0000', department_id: dept.id, roles: JSON.stringify(['host']), password_hash: 'x' })
        .returning('id');
      const passIds: number[] = [];
      for (let i = 0; i < 3; i++) {
        const [v] = await knex('visitors')
          .insert({ name: `访客${i}`, organisation: '个人', id_number_enc: 'x', id_number_bidx: `b${i}`, id_number_masked: 'm', mobile_enc: 'x', mobile_bidx: `m${i}`, mobile_masked: 'm', gender: 'M', birth_date: '1990-01-01', password_hash: 'x' })
          .returning('id');
        const [app] = await knex('applications')
          .insert({ flow_number: `F${i}`, visitor_id: v.id, campus_id: campus.id, department_id: dept.id, host_staff_id: host.id, visit_date: '2026-12-01', visit_start: '14:00', visit_end: '18:00', window_start: now, window_end: new Date('2026-12-01T10:00:00Z'), data: '{}', status: 'approved', process_id: 'visit-pass', form_key: 'f', form_version: 1, created_at: now, updated_at: now })
          .returning('id');
        const [pass] = await knex('passes')
          .insert({ application_id: app.id, short_code: `CODE${i}`, campus_id: campus.id, valid_from: now, valid_until: new Date('2026-12-01T10:00:00Z'), status: 'active', created_at: now })
          .returning('id');
        passIds.push(pass.id);
      }
      const at = (m: number) => new Date(now.getTime() + m * 60_000);
      // pass 0: entry (inside); pass 1: entry then exit (gone); pass 2: entry, exit, entry again (inside since the second)
      await knex('pass_events').insert([
        { pass_id: passIds[0], kind: 'entry', campus_id: campus.id, at: at(0) },
        { pass_id: passIds[1], kind: 'entry', campus_id: campus.id, at: at(1) },
        { pass_id: passIds[1], kind: 'exit', campus_id: campus.id, at: at(2) },
        { pass_id: passIds[2], kind: 'entry', campus_id: campus.id, at: at(3) },
        { pass_id: passIds[2], kind: 'exit', campus_id: campus.id, at: at(4) },
        { pass_id: passIds[2], kind: 'entry', campus_id: null, at: at(5) },
      ]);
      await knex.migrate.latest({ migrationSource });
      const presence = await knex('pass_presence').orderBy('pass_id');
      t.deepEqual(
        presence.map((p) => [p.pass_id, p.campus_id, p.gate_id, new Date(p.entered_at).toISOString()]),
        [
          [passIds[0], campus.id, null, at(0).toISOString()],
          [passIds[2], campus.id, null, at(5).toISOString()],
        ],
        'the visitors inside, from their latest entry; an event without a campus takes the pass campus',
      );
      t.true((await knex('pass_events')).every((e) => e.gate_id === null));
    } finally {
      await db.close();
    }
  });
}
