import type { Knex } from 'knex';
import type { StaffRole } from './directory.model.ts';
import type { DirectoryService } from './directory.service.ts';

export const DEMO_STAFF_PASSWORD = 'Demo@2026';

const CAMPUSES = [
  { code: 'MAIN', name: '主校区' },
  { code: 'EAST', name: '东校区' },
  { code: 'SOUTH', name: '南校区' },
  { code: 'NORTH', name: '北校区' },
  { code: 'AGRI', name: '农学院' },
];

const DEPARTMENTS: Array<[campus: string, code: string, name: string]> = [
  ['MAIN', 'CS', '计算机学院'],
  ['MAIN', 'ME', '机械工程学院'],
  ['MAIN', 'LIB', '图书馆'],
  ['MAIN', 'PRES', '校长办公室'],
  ['EAST', 'FL', '外国语学院'],
  ['EAST', 'EM', '经济管理学院'],
  ['SOUTH', 'MED', '医学院'],
  ['SOUTH', 'CHEM', '化学化工学院'],
  ['NORTH', 'PE', '体育学院'],
  ['NORTH', 'ART', '艺术学院'],
  ['AGRI', 'AGR', '农学系'],
  ['AGRI', 'ANI', '动物科学系'],
];

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙'];

export interface DemoLogin {
  role: string;
  username: string;
  password: string;
  name: string;
  department?: string;
  mobile?: string;
}

const hostMobile = (i: number) => `1380000${String(1000 + i * 2)}`;
const leaderMobile = (i: number) => `1380000${String(1001 + i * 2)}`;

/** The demo logins, in the order they are printed at start-up. */
export function demoLogins(): DemoLogin[] {
  const logins: DemoLogin[] = DEPARTMENTS.flatMap(([, code, name], i) => [
    { role: 'host', username: `host-${code.toLowerCase()}`, password: DEMO_STAFF_PASSWORD, name: `${SURNAMES[i]}老师`, department: name, mobile: hostMobile(i) },
    { role: 'leader', username: `leader-${code.toLowerCase()}`, password: DEMO_STAFF_PASSWORD, name: `${SURNAMES[i]}主任`, department: name, mobile: leaderMobile(i) },
  ]);
  logins.push(
    { role: 'admin', username: 'admin', password: DEMO_STAFF_PASSWORD, name: '系统管理员', mobile: '13900000001' },
    { role: 'guard', username: 'guard', password: DEMO_STAFF_PASSWORD, name: '门卫值班', mobile: '13900000002' },
    { role: 'security', username: 'security', password: DEMO_STAFF_PASSWORD, name: '保卫处审核', mobile: '13900000003' },
  );
  return logins;
}

/**
 * Fills an empty directory with the demo university of visit-flow.md. Returns false when the directory
 * already had data (a restart never duplicates it).
 */
export async function seedDemoData(knex: Knex, directory: DirectoryService): Promise<boolean> {
  const [{ n }] = await knex('campuses').count({ n: '*' });
  if (Number(n) > 0) return false;
  const logins = demoLogins();
  await knex.transaction(async (trx) => {
    const campusIds = new Map<string, number>();
    for (const c of CAMPUSES) {
      const [row] = await trx('campuses').insert({ ...c, opens_at: '07:00', closes_at: '23:00' }).returning('id');
      campusIds.set(c.code, row.id);
    }
    for (const [campus, code, name] of DEPARTMENTS) {
      const [dept] = await trx('departments')
        .insert({ campus_id: campusIds.get(campus), code, name })
        .returning('id');
      for (const login of logins.filter((l) => l.department === name)) {
        await directory.createStaff(
          { username: login.username, name: login.name, mobile: login.mobile!, departmentId: dept.id, roles: [login.role as StaffRole], password: login.password },
          trx,
        );
      }
    }
    for (const login of logins.filter((l) => !l.department)) {
      await directory.createStaff(
        { username: login.username, name: login.name, mobile: login.mobile!, departmentId: null, roles: [login.role as StaffRole], password: login.password },
        trx,
      );
    }
  });
  return true;
}
