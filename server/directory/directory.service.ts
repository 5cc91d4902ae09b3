import type { Knex } from 'knex';
import type { FieldCrypto } from '../crypto/field-crypto.ts';
import { maskMobile } from '../crypto/field-crypto.ts';
import { hashPassword } from '../crypto/password.ts';
import { normaliseMobile } from '../visitors/resident-id.ts';
import { Campus, Department, Staff, type StaffRole } from './directory.model.ts';

export interface StaffInput {
  username: string;
  name: string;
  mobile: string;
  departmentId: number | null;
  roles: StaffRole[];
  password: string;
  /** The keys staff single sign-on links by (e-mail kept lower-case). */
  staffNo?: string | null;
  email?: string | null;
}

/** Campuses, departments and staff: who can be visited, who reviews and who guards. */
export class DirectoryService {
  constructor(
    private readonly knex: Knex,
    private readonly crypto: FieldCrypto,
  ) {}

  listCampuses() {
    return Campus.query(this.knex).where({ active: true }).orderBy('id');
  }

  listDepartments(campusId?: number) {
    const q = Department.query(this.knex).where({ active: true }).orderBy('id');
    return campusId === undefined ? q : q.where({ campus_id: campusId });
  }

  /** listCampuses() and listDepartments() in one round trip, as plain rows (every application form shows both). */
  async activeCampusesAndDepartments(): Promise<{
    campuses: Array<Pick<Campus, 'id' | 'name' | 'opens_at' | 'closes_at'>>;
    departments: Array<Pick<Department, 'id' | 'campus_id' | 'name'>>;
  }> {
    const row = await this.knex
      .select(
        this.knex.raw("(select coalesce(json_agg(c order by c.id), '[]'::json) from campuses c where c.active) as campuses"),
        this.knex.raw("(select coalesce(json_agg(d order by d.id), '[]'::json) from departments d where d.active) as departments"),
      )
      .first();
    return { campuses: row.campuses, departments: row.departments };
  }

  findStaff(id: number) {
    return Staff.query(this.knex).findById(id);
  }

  findStaffByUsername(username: string) {
    return Staff.query(this.knex).findOne({ username });
  }

  /** Active staff of a department holding a role, e.g. the leaders a host may pick. */
  staffWithRole(departmentId: number, role: StaffRole, trx: Knex = this.knex): Promise<Staff[]> {
    // Plain rows: each new task and each host's task view reads them.
    return trx('staff')
      .where({ department_id: departmentId, active: true })
      .whereRaw('roles @> ?::jsonb', [JSON.stringify([role])])
      .orderBy('id');
  }

  /**
   * What a submission names, in one statement (a rush of submissions waits on each round trip): the campus, the
   * department and, among the department's active hosts, the first with that name and mobile (by its blind
   * index: numbers are stored encrypted). Plain rows; undefined for what does not exist.
   */
  async submissionTargets(campusId: number, departmentId: number, hostName: string, hostMobile: string) {
    const mobile = normaliseMobile(hostMobile);
    const id = (n: number) => (Number.isInteger(n) ? n : null);
    const row = await this.knex
      .select(
        this.knex.raw('(select to_json(c) from campuses c where c.id = ?) as campus', [id(campusId)]),
        this.knex.raw('(select to_json(d) from departments d where d.id = ?) as department', [id(departmentId)]),
        this.knex.raw(
          "(select to_json(s) from staff s where s.department_id = ? and s.active and s.roles @> '[\"host\"]'::jsonb and s.name = ? and s.mobile_bidx = ? order by s.id limit 1) as host",
          [id(departmentId), hostName.trim(), mobile ? this.crypto.blindIndex('mobile', mobile) : null],
        ),
      )
      .first();
    return {
      campus: (row?.campus ?? undefined) as Pick<Campus, 'id' | 'name' | 'opens_at' | 'closes_at' | 'active'> | undefined,
      department: (row?.department ?? undefined) as Pick<Department, 'id' | 'name' | 'campus_id' | 'active'> | undefined,
      host: (row?.host ?? undefined) as Pick<Staff, 'id' | 'name' | 'mobile_masked'> | undefined,
    };
  }

  async createStaff(input: StaffInput, trx: Knex = this.knex) {
    const mobile = normaliseMobile(input.mobile);
    if (!mobile) throw new Error(`invalid mobile for staff ${input.username}`);
    return Staff.query(trx).insertAndFetch({
      username: input.username,
      name: input.name,
      mobile_enc: this.crypto.encrypt(mobile),
      mobile_bidx: this.crypto.blindIndex('mobile', mobile),
      mobile_masked: maskMobile(mobile),
      department_id: input.departmentId,
      roles: input.roles,
      password_hash: await hashPassword(input.password),
      active: true,
      staff_no: input.staffNo || null,
      email: input.email ? input.email.toLowerCase() : null,
    });
  }
}

export function publicCampus(c: Campus) {
  return { id: c.id, code: c.code, name: c.name, opensAt: c.opens_at, closesAt: c.closes_at };
}

export function publicDepartment(d: Department) {
  return { id: d.id, campusId: d.campus_id, code: d.code, name: d.name };
}

export function publicStaff(s: Staff) {
  return {
    id: s.id,
    username: s.username,
    name: s.name,
    mobile: s.mobile_masked,
    departmentId: s.department_id,
    roles: s.roles,
  };
}
