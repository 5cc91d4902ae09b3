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

  findStaff(id: number) {
    return Staff.query(this.knex).findById(id);
  }

  findStaffByUsername(username: string) {
    return Staff.query(this.knex).findOne({ username });
  }

  /** Active staff of a department holding a role, e.g. the leaders a host may pick. */
  staffWithRole(departmentId: number, role: StaffRole, trx: Knex = this.knex) {
    return Staff.query(trx)
      .where({ department_id: departmentId, active: true })
      .whereRaw('roles @> ?::jsonb', [JSON.stringify([role])])
      .orderBy('id');
  }

  async findHostByNameAndMobile(departmentId: number, name: string, mobile: string) {
    const normalised = normaliseMobile(mobile);
    if (!normalised) return undefined;
    return (await this.staffWithRole(departmentId, 'host')).find(
      (s) => s.name === name.trim() && s.mobile_bidx === this.crypto.blindIndex('mobile', normalised),
    );
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
