export type TaskStatus = 'open' | 'completed' | 'canceled';

/** A row of `tasks` as the database gives it (its jsonb columns already parsed): read with knex, no model. */
export interface Task {
  id: number;
  task_key: string;
  instance_key: string;
  application_id: number | null;
  element_id: string;
  name: string;
  form_key: string | null;
  assignee: string | null;
  candidate_groups: string[];
  candidate_users: string[];
  status: TaskStatus;
  claimed_by: number | null;
  claimed_at: Date | null;
  draft: Record<string, unknown> | null;
  result: Record<string, unknown> | null;
  completed_by: number | null;
  completed_at: Date | null;
  due_at: Date | null;
  campus_id: number | null;
  department_id: number | null;
  created_at: Date;
}
