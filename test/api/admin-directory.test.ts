import test from 'ava';
import { adminClient, ok } from '../helpers/admin.ts';
import { testBackends } from '../helpers/database.ts';
import { newVisitor, staffClient } from '../helpers/flow.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

const STAFF_CSV = `用户名,姓名,手机号,单位代码,角色,初始密码
host-cs2,钱老师,13811112222,CS,接待人,Start@2026
leader-cs2,孙主任,13811113333,CS,leader,Start@2026
bad-row,周老师,1381111,NOPE,接待人|超人,short
guard2,门卫二,13811114444,,门卫,Start@2026
`;

for (const kind of await testBackends()) {
  test(`${kind}: staff CSV import is all or nothing with a per-row report; the fixed file imports`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const dry = await ok(admin.post('/api/admin/staff/import', { csv: STAFF_CSV, dryRun: true }));
      t.is(dry.rows, 4);
      t.is(dry.imported, 0);
      t.deepEqual(
        dry.errors.map((e: any) => [e.row, e.field]),
        [
          [4, 'mobile'],
          [4, 'department'],
          [4, 'roles'],
          [4, 'password'],
        ],
      );
      t.regex(dry.errors.find((e: any) => e.field === 'roles').message, /超人/);
      t.regex(dry.errors.find((e: any) => e.field === 'department').message, /NOPE/);

      const refused = await admin.post('/api/admin/staff/import', { csv: STAFF_CSV });
      t.is(refused.status, 400);
      t.is(refused.body.error.code, 'CSV_INVALID');
      t.regex(refused.body.error.message, /1 行存在问题，未导入任何数据（第 4 行/);
      t.is(refused.body.error.details.length, 4);
      t.falsy(await server.db.knex('staff').where({ username: 'host-cs2' }).first(), 'nothing was imported');

      const fixed = STAFF_CSV.split('\n').filter((l) => !l.startsWith('bad-row')).join('\n');
      const imported = await ok(admin.post('/api/admin/staff/import', { csv: fixed }));
      t.is(imported.imported, 3);
      const row = await server.db.knex('staff').where({ username: 'host-cs2' }).first();
      t.deepEqual(row.roles, ['host']);
      t.is(row.mobile_masked, '138****2222');
      t.false(row.mobile_enc.includes('13811112222'), 'the mobile is stored encrypted');
      const login = await new ApiClient(server.url).post('/api/staff/login', { username: 'leader-cs2', password: 'Start@2026' });
      t.is(login.status, 200);
      const again = await admin.post('/api/admin/staff/import', { csv: fixed });
      t.is(again.body.error.details[0].message, '用户名 host-cs2 已存在');

      const audit = await ok(admin.get('/api/admin/audit?action=staff.create'));
      t.is(audit.total, 3);
      t.false(JSON.stringify(audit).includes('13811112222'), 'the audit log never holds a clear mobile');

      const depts = await ok(admin.post('/api/admin/departments/import', { csv: 'campusCode,code,name\nMAIN,SEC,保卫处\nMARS,X1,火星办\n', dryRun: true }));
      t.deepEqual(depts.errors, [{ row: 3, field: 'campus', message: '校区代码 MARS 不存在或已停用' }]);
      t.is((await admin.post('/api/admin/departments/import', { csv: 'campus\nMAIN\n' })).body.error.code, 'CSV_HEADER_INVALID');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: campuses, departments and staff: create, edit with audit, deactivate instead of delete`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const admin = await adminClient(server);
      const bad = await admin.post('/api/admin/campuses', { code: 'WEST', name: '西校区', opensAt: '22:00', closesAt: '07:00' });
      t.is(bad.status, 400);
      t.is(bad.body.error.code, 'OPENING_HOURS_INVALID');
      t.is((await admin.post('/api/admin/campuses', { code: 'WEST', name: '西校区', opensAt: '7:00', closesAt: '23:00' })).body.error.code, 'VALIDATION_FAILED');
      const { campus } = await ok(admin.post('/api/admin/campuses', { code: 'WEST', name: '西校区', opensAt: '08:00', closesAt: '20:00' }));
      t.is((await admin.post('/api/admin/campuses', { code: 'WEST', name: '又一个', opensAt: '08:00', closesAt: '20:00' })).body.error.code, 'CAMPUS_CODE_TAKEN');
      const edited = await ok(admin.request('PUT', `/api/admin/campuses/${campus.id}`, { closesAt: '21:30' }));
      t.is(edited.campus.closesAt, '21:30');
      const { department } = await ok(admin.post('/api/admin/departments', { campusId: campus.id, code: 'WLAB', name: '西区实验室' }));
      t.is((await admin.post(`/api/admin/campuses/${campus.id}/deactivate`)).body.error.code, 'CAMPUS_HAS_ACTIVE_DEPARTMENTS');

      const created = await ok(
        admin.post('/api/admin/staff', { username: 'west-host', name: '冯老师', mobile: '13912345678', departmentId: department.id, roles: ['host'], password: 'Start@2026' }),
      );
      t.is(created.staff.mobile, '139****5678');
      t.is((await admin.post('/api/admin/staff', { username: 'no-dept', name: '无', mobile: '13912345679', departmentId: null, roles: ['leader'], password: 'Start@2026' })).body.error.code, 'DEPARTMENT_REQUIRED');
      const moved = await ok(admin.request('PUT', `/api/admin/staff/${created.staff.id}`, { mobile: '13987654321', roles: ['host', 'leader'] }));
      t.is(moved.staff.mobile, '139****4321');

      const { client: host } = await staffClient(server, 'host-cs');
      const hostRow = await server.db.knex('staff').where({ username: 'host-cs' }).first();
      await ok(admin.post(`/api/admin/staff/${hostRow.id}/password`, { password: 'Changed@2026' }));
      t.is((await host.get('/api/tasks?list=mine')).status, 401, 'a password reset signs the person out');
      t.is((await new ApiClient(server.url).post('/api/staff/login', { username: 'host-cs', password: 'Changed@2026' })).status, 200);

      await ok(admin.post(`/api/admin/staff/${created.staff.id}/deactivate`));
      t.is((await new ApiClient(server.url).post('/api/staff/login', { username: 'west-host', password: 'Start@2026' })).status, 401);
      const me = await server.db.knex('staff').where({ username: 'admin' }).first();
      t.is((await admin.post(`/api/admin/staff/${me.id}/deactivate`)).body.error.code, 'CANNOT_DEACTIVATE_SELF');
      t.is((await admin.request('PUT', `/api/admin/staff/${me.id}`, { roles: ['guard'] })).body.error.code, 'CANNOT_DEMOTE_SELF');

      await ok(admin.post(`/api/admin/departments/${department.id}/deactivate`));
      await ok(admin.post(`/api/admin/campuses/${campus.id}/deactivate`));
      const { client: visitor } = await newVisitor(server);
      const form = await ok(visitor.get('/api/applications/form'));
      t.false(form.campuses.some((c: any) => c.name === '西校区'), 'a deactivated campus is no longer offered');
      t.truthy(await server.db.knex('campuses').where({ code: 'WEST' }).first(), 'but it is kept');
      const all = await ok(admin.get('/api/admin/campuses'));
      t.false(all.campuses.find((c: any) => c.code === 'WEST').active);

      const audit = await ok(admin.get(`/api/admin/audit?targetType=campus&targetId=${campus.id}`));
      t.deepEqual(audit.entries.map((e: any) => e.action), ['campus.deactivate', 'campus.update', 'campus.create']);
      const update = audit.entries[1];
      t.is(update.before.closesAt, '20:00');
      t.is(update.after.closesAt, '21:30');
      const staffAudit = await ok(admin.get(`/api/admin/audit?targetType=staff&targetId=${created.staff.id}`));
      const staffUpdate = staffAudit.entries.find((e: any) => e.action === 'staff.update');
      t.is(staffUpdate.before.mobile, '139****5678');
      t.is(staffUpdate.after.mobile, '139****4321');
      t.false(JSON.stringify(staffAudit).includes('13987654321'));
    } finally {
      await server.close();
    }
  });
}
