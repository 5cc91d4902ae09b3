import { parse as parseCsv } from 'csv-parse/sync';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { SessionService } from '../auth/session.service.ts';
import type { FieldCrypto } from '../crypto/field-crypto.ts';
import { maskMobile } from '../crypto/field-crypto.ts';
import { hashPassword } from '../crypto/password.ts';
import { Campus, Department, Staff, STAFF_ROLES, type StaffRole } from '../directory/directory.model.ts';
import type { DirectoryService } from '../directory/directory.service.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { normaliseMobile } from '../visitors/resident-id.ts';
import type { Actor, AuditService } from './audit.service.ts';

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const CODE = /^[A-Za-z0-9_-]{1,32}$/;
const USERNAME = /^[A-Za-z0-9._-]{2,64}$/;
const MAX_CSV_ROWS = 2000;

const ROLE_NAMES: Record<string, StaffRole> = {
  host: 'host',
  接待人: 'host',
  leader: 'leader',
  领导: 'leader',
  主管领导: 'leader',
  admin: 'admin',
  管理员: 'admin',
  guard: 'guard',
  门卫: 'guard',
  security: 'security',
  保卫处: 'security',
};

export const campusInput = z
  .object({
    code: z.string().trim().regex(CODE, '校区代码只能包含字母、数字、短横线和下划线（最多 32 个字符）'),
    name: z.string().trim().min(1, '请填写校区名称').max(100, '校区名称不能超过 100 个字符'),
    opensAt: z.string().regex(TIME, '开放时间格式应为 HH:mm'),
    closesAt: z.string().regex(TIME, '关闭时间格式应为 HH:mm'),
  })
  .strict();

export const departmentInput = z
  .object({
    campusId: z.coerce.number({ error: '请选择校区' }).int().positive('请选择校区'),
    code: z.string().trim().regex(CODE, '单位代码只能包含字母、数字、短横线和下划线（最多 32 个字符）'),
    name: z.string().trim().min(1, '请填写单位名称').max(100, '单位名称不能超过 100 个字符'),
  })
  .strict();

const staffNo = z.string().trim().regex(/^[A-Za-z0-9._-]{1,64}$/, '工号只能包含字母、数字、点、短横线和下划线（最多 64 个字符）');
const email = z.email('邮箱格式不正确').max(254, '邮箱不能超过 254 个字符');
const password = z.string().min(8, '密码至少 8 个字符').max(128, '密码不能超过 128 个字符');
const roles = z.array(z.enum(STAFF_ROLES as [StaffRole, ...StaffRole[]], { error: '角色只能是 host、leader、admin、guard、security' })).min(1, '请至少选择一个角色');

export const staffCreateInput = z
  .object({
    username: z.string().trim().regex(USERNAME, '用户名应为 2-64 位字母、数字、点、短横线或下划线'),
    name: z.string().trim().min(1, '请填写姓名').max(100, '姓名不能超过 100 个字符'),
    mobile: z.string().trim().min(1, '请填写手机号'),
    departmentId: z.number().int().positive().nullable(),
    roles,
    password,
    /** What staff single sign-on links by (README "Staff single sign-on"); optional. */
    staffNo: staffNo.nullable().optional(),
    email: email.nullable().optional(),
  })
  .strict();

/** The openid WeChat gives the staff member under the campus official account (28 characters, e.g. oAbC...); null or '' clears it. */
const wechatOpenId = z
  .string()
  .trim()
  .regex(/^([A-Za-z0-9_-]{20,64})?$/, 'openid 应为 20-64 位字母、数字、短横线或下划线')
  .nullable()
  .optional();

export const staffUpdateInput = staffCreateInput.omit({ username: true, password: true }).partial().extend({ wechatOpenId }).strict();

const campusView = (c: any) => ({ id: c.id, code: c.code, name: c.name, opensAt: c.opens_at, closesAt: c.closes_at, active: c.active });
const departmentView = (d: any) => ({ id: d.id, campusId: d.campus_id, code: d.code, name: d.name, active: d.active });
const staffView = (s: any) => ({
  id: s.id,
  username: s.username,
  name: s.name,
  mobile: s.mobile_masked,
  departmentId: s.department_id,
  roles: s.roles,
  active: s.active,
  wechatOpenId: s.wechat_openid ?? null,
  staffNo: s.staff_no ?? null,
  email: s.email ?? null,
  ssoLinked: Boolean(s.sso_subject),
});

export interface RowError {
  /** Line of the CSV file as a spreadsheet shows it (the header is line 1). */
  row: number;
  field: string;
  message: string;
}

export interface ImportResult {
  dryRun: boolean;
  rows: number;
  imported: number;
  errors: RowError[];
}

const UNIQUE_VIOLATION = '23505';

/** Campuses, departments and staff as administrators keep them. Nothing referenced is ever deleted: it is deactivated. */
export class DirectoryAdminService {
  constructor(
    private readonly deps: {
      knex: Knex;
      directory: DirectoryService;
      fieldCrypto: FieldCrypto;
      sessions: SessionService;
      audit: AuditService;
    },
  ) {}

  // ---- campuses ---------------------------------------------------------------------------------------

  async listCampuses() {
    return (await Campus.query(this.deps.knex).orderBy('id')).map(campusView);
  }

  async campus(id: number) {
    const c = Number.isInteger(id) ? await Campus.query(this.deps.knex).findById(id) : undefined;
    if (!c) throw notFound('CAMPUS_NOT_FOUND', '校区不存在');
    return c;
  }

  private checkHours(opensAt: string, closesAt: string) {
    if (opensAt >= closesAt) throw badRequest('OPENING_HOURS_INVALID', '关闭时间应晚于开放时间', [{ field: 'closesAt', message: '关闭时间应晚于开放时间' }]);
  }

  async createCampus(actor: Actor, raw: unknown) {
    const input = campusInput.parse(raw);
    this.checkHours(input.opensAt, input.closesAt);
    return this.unique('CAMPUS_CODE_TAKEN', `校区代码 ${input.code} 已存在`, () =>
      this.deps.knex.transaction(async (trx) => {
        const c = await Campus.query(trx).insertAndFetch({ code: input.code, name: input.name, opens_at: input.opensAt, closes_at: input.closesAt, active: true });
        await this.deps.audit.record(trx, actor, { action: 'campus.create', targetType: 'campus', targetId: c.id, after: campusView(c) });
        return campusView(c);
      }),
    );
  }

  async updateCampus(actor: Actor, id: number, raw: unknown) {
    const input = campusInput.partial().strict().parse(raw);
    const before = await this.campus(id);
    this.checkHours(input.opensAt ?? before.opens_at, input.closesAt ?? before.closes_at);
    return this.unique('CAMPUS_CODE_TAKEN', `校区代码 ${input.code} 已存在`, () =>
      this.deps.knex.transaction(async (trx) => {
        const patch: Record<string, unknown> = { updated_at: new Date() };
        if (input.code !== undefined) patch.code = input.code;
        if (input.name !== undefined) patch.name = input.name;
        if (input.opensAt !== undefined) patch.opens_at = input.opensAt;
        if (input.closesAt !== undefined) patch.closes_at = input.closesAt;
        const after = await Campus.query(trx).patchAndFetchById(id, patch);
        await this.deps.audit.record(trx, actor, { action: 'campus.update', targetType: 'campus', targetId: id, before: campusView(before), after: campusView(after) });
        return campusView(after);
      }),
    );
  }

  async setCampusActive(actor: Actor, id: number, active: boolean) {
    const before = await this.campus(id);
    if (!active) {
      const open = await this.deps.knex('departments').where({ campus_id: id, active: true }).first('id');
      if (open) throw conflict('CAMPUS_HAS_ACTIVE_DEPARTMENTS', '请先停用该校区下的所有单位，再停用校区');
    }
    return this.deps.knex.transaction(async (trx) => {
      const after = await Campus.query(trx).patchAndFetchById(id, { active, updated_at: new Date() } as any);
      await this.deps.audit.record(trx, actor, {
        action: active ? 'campus.activate' : 'campus.deactivate',
        targetType: 'campus',
        targetId: id,
        before: campusView(before),
        after: campusView(after),
      });
      return campusView(after);
    });
  }

  // ---- departments ------------------------------------------------------------------------------------

  async listDepartments(campusId?: number) {
    const q = Department.query(this.deps.knex).orderBy('id');
    if (campusId !== undefined) q.where({ campus_id: campusId });
    return (await q).map(departmentView);
  }

  private async department(id: number, db: Knex = this.deps.knex) {
    const d = Number.isInteger(id) ? await Department.query(db).findById(id) : undefined;
    if (!d) throw notFound('DEPARTMENT_NOT_FOUND', '单位不存在');
    return d;
  }

  private async activeCampus(id: number, db: Knex = this.deps.knex) {
    const c = await Campus.query(db).findById(id);
    if (!c?.active) throw badRequest('CAMPUS_NOT_FOUND', '所选校区不存在或已停用', [{ field: 'campusId', message: '所选校区不存在或已停用' }]);
    return c;
  }

  async createDepartment(actor: Actor, raw: unknown) {
    const input = departmentInput.parse(raw);
    await this.activeCampus(input.campusId);
    return this.unique('DEPARTMENT_CODE_TAKEN', `单位代码 ${input.code} 已存在`, () =>
      this.deps.knex.transaction(async (trx) => {
        const d = await Department.query(trx).insertAndFetch({ campus_id: input.campusId, code: input.code, name: input.name, active: true });
        await this.deps.audit.record(trx, actor, { action: 'department.create', targetType: 'department', targetId: d.id, after: departmentView(d) });
        return departmentView(d);
      }),
    );
  }

  async updateDepartment(actor: Actor, id: number, raw: unknown) {
    const input = departmentInput.partial().strict().parse(raw);
    const before = await this.department(id);
    if (input.campusId !== undefined) await this.activeCampus(input.campusId);
    return this.unique('DEPARTMENT_CODE_TAKEN', `单位代码 ${input.code} 已存在`, () =>
      this.deps.knex.transaction(async (trx) => {
        const patch: Record<string, unknown> = { updated_at: new Date() };
        if (input.campusId !== undefined) patch.campus_id = input.campusId;
        if (input.code !== undefined) patch.code = input.code;
        if (input.name !== undefined) patch.name = input.name;
        const after = await Department.query(trx).patchAndFetchById(id, patch);
        await this.deps.audit.record(trx, actor, {
          action: 'department.update',
          targetType: 'department',
          targetId: id,
          before: departmentView(before),
          after: departmentView(after),
        });
        return departmentView(after);
      }),
    );
  }

  async setDepartmentActive(actor: Actor, id: number, active: boolean) {
    const before = await this.department(id);
    if (active) await this.activeCampus(before.campus_id);
    return this.deps.knex.transaction(async (trx) => {
      const after = await Department.query(trx).patchAndFetchById(id, { active, updated_at: new Date() } as any);
      await this.deps.audit.record(trx, actor, {
        action: active ? 'department.activate' : 'department.deactivate',
        targetType: 'department',
        targetId: id,
        before: departmentView(before),
        after: departmentView(after),
      });
      return departmentView(after);
    });
  }

  // ---- staff ------------------------------------------------------------------------------------------

  async listStaff(filter: { departmentId?: number; role?: string; q?: string; active?: boolean }) {
    const q = Staff.query(this.deps.knex).orderBy('id');
    if (filter.departmentId !== undefined) q.where({ department_id: filter.departmentId });
    if (filter.role) q.whereRaw('roles @> ?::jsonb', [JSON.stringify([filter.role])]);
    if (filter.active !== undefined) q.where({ active: filter.active });
    if (filter.q) {
      const like = `%${filter.q.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
      q.where((w) => w.where('name', 'like', like).orWhere('username', 'like', like));
    }
    return (await q).map(staffView);
  }

  private async staff(id: number, db: Knex = this.deps.knex) {
    const s = Number.isInteger(id) ? await Staff.query(db).findById(id) : undefined;
    if (!s) throw notFound('STAFF_NOT_FOUND', '工作人员不存在');
    return s;
  }

  private async checkStaffFields(input: { mobile?: string; departmentId?: number | null; roles?: StaffRole[]; staffNo?: string | null }, current?: Staff) {
    if (input.staffNo) {
      const other = await Staff.query(this.deps.knex).findOne({ staff_no: input.staffNo });
      if (other && other.id !== current?.id) throw conflict('STAFF_NO_TAKEN', `工号 ${input.staffNo} 已被其他工作人员使用`);
    }
    if (input.mobile !== undefined && !normaliseMobile(input.mobile)) {
      throw badRequest('MOBILE_INVALID', '手机号格式不正确', [{ field: 'mobile', message: '手机号格式不正确' }]);
    }
    const departmentId = input.departmentId !== undefined ? input.departmentId : (current?.department_id ?? null);
    const roleList = input.roles ?? current?.roles ?? [];
    if (input.departmentId !== undefined && input.departmentId !== null) {
      const d = await Department.query(this.deps.knex).findById(input.departmentId);
      if (!d?.active) throw badRequest('DEPARTMENT_NOT_FOUND', '所选单位不存在或已停用', [{ field: 'departmentId', message: '所选单位不存在或已停用' }]);
    }
    if (departmentId === null && roleList.some((r) => r === 'host' || r === 'leader')) {
      throw badRequest('DEPARTMENT_REQUIRED', '接待人和主管领导必须属于一个单位', [{ field: 'departmentId', message: '接待人和主管领导必须属于一个单位' }]);
    }
  }

  async createStaff(actor: Actor, raw: unknown) {
    const input = staffCreateInput.parse(raw);
    await this.checkStaffFields(input);
    return this.unique('USERNAME_TAKEN', `用户名 ${input.username} 已存在`, () =>
      this.deps.knex.transaction(async (trx) => {
        const s = await this.deps.directory.createStaff(input, trx);
        await this.deps.audit.record(trx, actor, { action: 'staff.create', targetType: 'staff', targetId: s.id, after: staffView(s) });
        return staffView(s);
      }),
    );
  }

  async updateStaff(actor: Actor, id: number, raw: unknown) {
    const input = staffUpdateInput.parse(raw);
    const before = await this.staff(id);
    await this.checkStaffFields(input, before);
    if (id === actor.id && input.roles && !input.roles.includes('admin')) {
      throw conflict('CANNOT_DEMOTE_SELF', '不能取消自己的管理员角色（请由其他管理员操作）');
    }
    const result = await this.deps.knex.transaction(async (trx) => {
      const patch: Record<string, unknown> = { updated_at: new Date() };
      if (input.name !== undefined) patch.name = input.name;
      if (input.departmentId !== undefined) patch.department_id = input.departmentId;
      if (input.roles !== undefined) patch.roles = JSON.stringify([...new Set(input.roles)]);
      if (input.wechatOpenId !== undefined) patch.wechat_openid = input.wechatOpenId || null;
      if (input.staffNo !== undefined) patch.staff_no = input.staffNo || null;
      if (input.email !== undefined) patch.email = input.email ? input.email.toLowerCase() : null;
      if (input.mobile !== undefined) {
        const mobile = normaliseMobile(input.mobile)!;
        Object.assign(patch, {
          mobile_enc: this.deps.fieldCrypto.encrypt(mobile),
          mobile_bidx: this.deps.fieldCrypto.blindIndex('mobile', mobile),
          mobile_masked: maskMobile(mobile),
        });
      }
      await trx('staff').where({ id }).update(patch);
      const after = await this.staff(id, trx);
      await this.deps.audit.record(trx, actor, { action: 'staff.update', targetType: 'staff', targetId: id, before: staffView(before), after: staffView(after) });
      return staffView(after);
    });
    // Their next request, here too, sees the new roles (the other processes hear it from the database).
    this.deps.sessions.subjectChanged('staff', id);
    return result;
  }

  async setStaffActive(actor: Actor, id: number, active: boolean) {
    const before = await this.staff(id);
    if (!active && id === actor.id) throw conflict('CANNOT_DEACTIVATE_SELF', '不能停用自己的账号');
    const result = await this.deps.knex.transaction(async (trx) => {
      await trx('staff').where({ id }).update({ active, updated_at: new Date() });
      const after = await this.staff(id, trx);
      await this.deps.audit.record(trx, actor, {
        action: active ? 'staff.activate' : 'staff.deactivate',
        targetType: 'staff',
        targetId: id,
        before: staffView(before),
        after: staffView(after),
      });
      return staffView(after);
    });
    if (!active) await this.deps.sessions.destroyAllFor('staff', id);
    else this.deps.sessions.subjectChanged('staff', id);
    return result;
  }

  /**
   * Forgets the single sign-on account linked to a staff member (staff.sso_subject): their next SSO sign-in
   * links again by staff number or e-mail, so a wrong or replaced provider account can be corrected. Their
   * sessions end (those of the unlinked account among them), unless it is the admin's own. Audited with the
   * subject that was linked.
   */
  async unlinkSso(actor: Actor, id: number) {
    const before = await this.staff(id);
    if (!before.sso_subject) throw conflict('SSO_NOT_LINKED', '该工作人员尚未关联统一身份认证账号');
    const result = await this.deps.knex.transaction(async (trx) => {
      const n = await trx('staff').where({ id, sso_subject: before.sso_subject }).update({ sso_subject: null, updated_at: new Date() });
      if (!n) throw conflict('SSO_NOT_LINKED', '该工作人员尚未关联统一身份认证账号');
      await this.deps.audit.record(trx, actor, {
        action: 'staff.sso.unlink',
        targetType: 'staff',
        targetId: id,
        before: { subject: before.sso_subject },
        after: { subject: null },
      });
      return staffView(await this.staff(id, trx));
    });
    if (id !== actor.id) await this.deps.sessions.destroyAllFor('staff', id);
    return result;
  }

  /** Sets a new password and signs the person out everywhere. */
  async resetPassword(actor: Actor, id: number, raw: unknown) {
    const input = z.object({ password }).strict().parse(raw);
    await this.staff(id);
    const hash = await hashPassword(input.password);
    await this.deps.knex.transaction(async (trx) => {
      await trx('staff').where({ id }).update({ password_hash: hash, updated_at: new Date() });
      await this.deps.audit.record(trx, actor, { action: 'staff.password-reset', targetType: 'staff', targetId: id, after: { passwordReset: true } });
    });
    if (id !== actor.id) await this.deps.sessions.destroyAllFor('staff', id);
  }

  // ---- CSV import -------------------------------------------------------------------------------------

  /**
   * All or nothing: every row is checked first and one bad row imports none, so a fixed file can simply be
   * sent again (no half-imported directory to reconcile). dryRun answers the report without writing.
   */
  async importStaff(actor: Actor, csv: unknown, dryRun: boolean): Promise<ImportResult> {
    const records = readCsv(csv, {
      username: ['username', '用户名', '账号'],
      name: ['name', '姓名'],
      mobile: ['mobile', '手机号', '手机'],
      department: ['department', 'departmentcode', '单位代码', '部门代码', '单位'],
      roles: ['roles', '角色'],
      password: ['password', '初始密码', '密码'],
      staffNo: ['staffno', 'staffnumber', '工号', '职工号'],
      email: ['email', 'e-mail', '邮箱', '电子邮箱'],
    }, ['staffNo', 'email']);
    const { knex } = this.deps;
    const takenNumbers = new Set((await knex('staff').whereNotNull('staff_no').select('staff_no')).map((r: any) => String(r.staff_no)));
    const numbersInFile = new Map<string, number>();
    const departments = new Map((await Department.query(knex)).map((d) => [d.code.toLowerCase(), d]));
    const existing = new Set((await knex('staff').select('username')).map((r: any) => String(r.username).toLowerCase()));
    const errors: RowError[] = [];
    const inputs: Array<z.infer<typeof staffCreateInput>> = [];
    const inFile = new Map<string, number>();
    for (const { row, values } of records) {
      const err = (field: string, message: string) => errors.push({ row, field, message });
      const username = values.username ?? '';
      if (!username) err('username', '请填写用户名');
      else if (!USERNAME.test(username)) err('username', '用户名应为 2-64 位字母、数字、点、短横线或下划线');
      else if (existing.has(username.toLowerCase())) err('username', `用户名 ${username} 已存在`);
      else if (inFile.has(username.toLowerCase())) err('username', `用户名 ${username} 与第 ${inFile.get(username.toLowerCase())} 行重复`);
      else inFile.set(username.toLowerCase(), row);
      const name = values.name ?? '';
      if (!name) err('name', '请填写姓名');
      else if (name.length > 100) err('name', '姓名不能超过 100 个字符');
      const mobile = normaliseMobile(values.mobile ?? '');
      if (!values.mobile) err('mobile', '请填写手机号');
      else if (!mobile) err('mobile', '手机号格式不正确');
      let departmentId: number | null = null;
      if (values.department) {
        const d = departments.get(values.department.toLowerCase());
        if (!d) err('department', `单位代码 ${values.department} 不存在`);
        else if (!d.active) err('department', `单位 ${d.name} 已停用`);
        else departmentId = d.id;
      }
      const roleNames = (values.roles ?? '').split(/[|;；、\s]+/).filter(Boolean);
      const roleList = roleNames.map((r) => ROLE_NAMES[r.toLowerCase()] ?? ROLE_NAMES[r]);
      if (!roleNames.length) err('roles', '请填写角色（接待人/主管领导/管理员/门卫，或 host/leader/admin/guard）');
      else if (roleList.some((r) => !r)) err('roles', `无法识别的角色：${roleNames.filter((_, i) => !roleList[i]).join('、')}`);
      else if (!values.department && roleList.some((r) => r === 'host' || r === 'leader')) err('department', '接待人和主管领导必须填写单位代码');
      const pwd = values.password ?? '';
      if (!pwd) err('password', '请填写初始密码');
      else if (pwd.length < 8) err('password', '初始密码至少 8 个字符');
      const number = values.staffNo || null;
      if (number && !staffNo.safeParse(number).success) err('staffNo', '工号只能包含字母、数字、点、短横线和下划线（最多 64 个字符）');
      else if (number && takenNumbers.has(number)) err('staffNo', `工号 ${number} 已被其他工作人员使用`);
      else if (number && numbersInFile.has(number)) err('staffNo', `工号 ${number} 与第 ${numbersInFile.get(number)} 行重复`);
      else if (number) numbersInFile.set(number, row);
      const mail = values.email || null;
      if (mail && !email.safeParse(mail).success) err('email', '邮箱格式不正确');
      inputs.push({ username, name, mobile: mobile ?? '', departmentId, roles: [...new Set(roleList)], password: pwd, staffNo: number, email: mail });
    }
    if (errors.length && !dryRun) throw csvInvalid(errors);
    if (dryRun) return { dryRun, rows: records.length, imported: 0, errors };
    await this.unique('USERNAME_TAKEN', '导入的用户名已存在（可能刚被其他管理员创建），请重试', () =>
      knex.transaction(async (trx) => {
        for (const input of inputs) {
          const s = await this.deps.directory.createStaff(input, trx);
          await this.deps.audit.record(trx, actor, { action: 'staff.create', targetType: 'staff', targetId: s.id, after: { ...staffView(s), source: 'csv' } });
        }
      }),
    );
    return { dryRun, rows: records.length, imported: inputs.length, errors };
  }

  /** Departments from CSV (campus code, department code, name), with the same all-or-nothing policy. */
  async importDepartments(actor: Actor, csv: unknown, dryRun: boolean): Promise<ImportResult> {
    const records = readCsv(csv, {
      campus: ['campus', 'campuscode', '校区代码', '校区'],
      code: ['code', '单位代码', '部门代码'],
      name: ['name', '单位名称', '部门名称', '名称'],
    });
    const { knex } = this.deps;
    const campuses = new Map((await Campus.query(knex)).map((c) => [c.code.toLowerCase(), c]));
    const existing = new Set((await knex('departments').select('code')).map((r: any) => String(r.code).toLowerCase()));
    const errors: RowError[] = [];
    const rows: Array<{ campus_id: number; code: string; name: string }> = [];
    const inFile = new Map<string, number>();
    for (const { row, values } of records) {
      const err = (field: string, message: string) => errors.push({ row, field, message });
      const campus = values.campus ? campuses.get(values.campus.toLowerCase()) : undefined;
      if (!values.campus) err('campus', '请填写校区代码');
      else if (!campus?.active) err('campus', `校区代码 ${values.campus} 不存在或已停用`);
      const code = values.code ?? '';
      if (!code) err('code', '请填写单位代码');
      else if (!CODE.test(code)) err('code', '单位代码只能包含字母、数字、短横线和下划线（最多 32 个字符）');
      else if (existing.has(code.toLowerCase())) err('code', `单位代码 ${code} 已存在`);
      else if (inFile.has(code.toLowerCase())) err('code', `单位代码 ${code} 与第 ${inFile.get(code.toLowerCase())} 行重复`);
      else inFile.set(code.toLowerCase(), row);
      if (!values.name) err('name', '请填写单位名称');
      else if (values.name.length > 100) err('name', '单位名称不能超过 100 个字符');
      rows.push({ campus_id: campus?.id ?? 0, code, name: values.name ?? '' });
    }
    if (errors.length && !dryRun) throw csvInvalid(errors);
    if (dryRun) return { dryRun, rows: records.length, imported: 0, errors };
    await this.unique('DEPARTMENT_CODE_TAKEN', '导入的单位代码已存在，请重试', () =>
      knex.transaction(async (trx) => {
        for (const r of rows) {
          const [d] = await trx('departments').insert({ ...r, active: true }).returning('*');
          await this.deps.audit.record(trx, actor, { action: 'department.create', targetType: 'department', targetId: d.id, after: { ...departmentView(d), source: 'csv' } });
        }
      }),
    );
    return { dryRun, rows: records.length, imported: rows.length, errors };
  }

  private async unique<T>(code: string, message: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err: any) {
      if (err?.code === UNIQUE_VIOLATION || err?.nativeError?.code === UNIQUE_VIOLATION) throw conflict(code, message);
      throw err;
    }
  }
}

function csvInvalid(errors: RowError[]) {
  const rows = new Set(errors.map((e) => e.row)).size;
  return badRequest('CSV_INVALID', `CSV 中有 ${rows} 行存在问题，未导入任何数据（第 ${errors[0].row} 行：${errors[0].message}）`, errors);
}

/** Parses a CSV with a header row into named fields (English or Chinese headers); rows keep their file line. */
/** `optional`: columns a file may leave out (added after files were written without them: 工号, 邮箱). */
function readCsv(
  csv: unknown,
  fields: Record<string, string[]>,
  optional: string[] = [],
): Array<{ row: number; values: Record<string, string | undefined> }> {
  if (typeof csv !== 'string' || !csv.trim()) throw badRequest('CSV_REQUIRED', '请提供 CSV 文件内容');
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parseCsv(csv, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true }) as any;
  } catch (err: any) {
    throw badRequest('CSV_UNREADABLE', `CSV 文件无法解析（第 ${err.lines ?? '?'} 行）：${err.message}`);
  }
  if (records.length < 2) throw badRequest('CSV_EMPTY', 'CSV 文件没有数据行（第 1 行应为表头）');
  if (records.length - 1 > MAX_CSV_ROWS) throw badRequest('CSV_TOO_LARGE', `一次最多导入 ${MAX_CSV_ROWS} 行`);
  const header = records[0].record.map((h) => h.trim().toLowerCase().replace(/[\s_]/g, ''));
  const index: Record<string, number> = {};
  for (const [field, names] of Object.entries(fields)) {
    const i = header.findIndex((h) => names.some((n) => n.toLowerCase() === h));
    if (i >= 0) index[field] = i;
  }
  const missing = Object.entries(fields).filter(([field]) => index[field] === undefined && !optional.includes(field));
  if (missing.length) {
    throw badRequest(
      'CSV_HEADER_INVALID',
      `CSV 表头缺少列：${missing.map(([, names]) => `${names[0]}（${names.find((n) => /[\u4e00-\u9fff]/.test(n)) ?? names[0]}）`).join('、')}`,
      missing.map(([field]) => ({ row: 1, field, message: `缺少列 ${field}` })),
    );
  }
  return records.slice(1).map(({ record, info }) => ({
    row: info.lines,
    values: Object.fromEntries(Object.entries(index).map(([field, i]) => [field, record[i]?.trim() || undefined])),
  }));
}
