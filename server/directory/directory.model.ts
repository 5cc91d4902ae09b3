import { Model } from 'objection';

export class Campus extends Model {
  static tableName = 'campuses';
  id!: number;
  code!: string;
  name!: string;
  opens_at!: string;
  closes_at!: string;
  active!: boolean;
}

export class Department extends Model {
  static tableName = 'departments';
  id!: number;
  campus_id!: number;
  code!: string;
  name!: string;
  active!: boolean;
}

// security: the security office (保卫处), who reviews applications that hit the watch list.
export type StaffRole = 'host' | 'leader' | 'admin' | 'guard' | 'security';
export const STAFF_ROLES: StaffRole[] = ['host', 'leader', 'admin', 'guard', 'security'];

export class Staff extends Model {
  static tableName = 'staff';
  static jsonAttributes = ['roles'];
  id!: number;
  username!: string;
  name!: string;
  mobile_enc!: string;
  mobile_bidx!: string;
  mobile_masked!: string;
  department_id!: number | null;
  roles!: StaffRole[];
  password_hash!: string;
  active!: boolean;
  /** The staff member's openid under the campus official account (WeChat task notices); set by an administrator. */
  wechat_openid?: string | null;
  staff_no!: string | null;
  email!: string | null;
  sso_subject!: string | null;
}
