import type { Knex } from 'knex';
import type { StaffPrincipal } from '../http/context.ts';

/** The candidate groups a staff member belongs to; tasks name groups, never people lists. */
export function staffGroups(staff: Pick<StaffPrincipal, 'departmentId' | 'roles'>): string[] {
  const groups = staff.roles.map((r) => `role-${r}`);
  if (staff.departmentId !== null) groups.push(`dept-${staff.departmentId}`);
  return groups;
}

/**
 * Who may see an application (and so its attachments): its visitor, admins, and staff who have or had a
 * task on it (assigned, claimed, completed, or still open in one of their groups).
 */
export class AccessService {
  constructor(private readonly knex: Knex) {}

  /**
   * Restricts a tasks query to the tasks a staff member may see. With groupClaimed, open tasks of their
   * groups that a colleague has claimed count too: the one who lost a claim race learns "claimed", not "gone".
   */
  visibleTasks(query: Knex.QueryBuilder, staff: StaffPrincipal, table = 'tasks', groupClaimed = false): Knex.QueryBuilder {
    const me = String(staff.id);
    return query.where((w) => {
      w.where(`${table}.assignee`, me)
        .orWhere(`${table}.claimed_by`, staff.id)
        .orWhere(`${table}.completed_by`, staff.id)
        .orWhere((open) => {
          open.where(`${table}.status`, 'open');
          if (!groupClaimed) open.whereNull(`${table}.claimed_by`);
          open.where((g) => {
              g.whereRaw(`${table}.candidate_groups \\?| ?::text[]`, [staffGroups(staff)]).orWhereRaw(
                `${table}.candidate_users \\? ?`,
                [me],
              );
            });
        });
    });
  }

  async staffCanSeeApplication(staff: StaffPrincipal, applicationId: number): Promise<boolean> {
    if (staff.roles.includes('admin')) return true;
    const row = await this.visibleTasks(this.knex('tasks').where('tasks.application_id', applicationId), staff)
      .first('tasks.id');
    return Boolean(row);
  }

  async visitorOwnsApplication(visitorId: number, applicationId: number): Promise<boolean> {
    return Boolean(await this.knex('applications').where({ id: applicationId, visitor_id: visitorId }).first('id'));
  }
}
