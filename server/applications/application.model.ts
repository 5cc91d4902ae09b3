import { Model } from 'objection';
import type { Knex } from 'knex';
import type { WatchHit } from '../watchlist/watchlist.model.ts';

export type ApplicationStatus = 'submitted' | 'pending' | 'approved' | 'refused' | 'expired' | 'withdrawn';

export const STATUS_TEXT: Record<ApplicationStatus, string> = {
  submitted: '已提交，正在送审',
  pending: '审核中',
  approved: '已通过',
  refused: '未通过',
  expired: '已失效（超时未审核）',
  withdrawn: '已撤回',
};

/** Statuses set by the process through the application-status worker. */
export const FINAL_STATUSES: ApplicationStatus[] = ['approved', 'refused', 'expired'];

export class Application extends Model {
  static tableName = 'applications';
  static jsonAttributes = ['data', 'watch_hit'];
  id!: number;
  flow_number!: string;
  visitor_id!: number;
  campus_id!: number;
  department_id!: number;
  host_staff_id!: number;
  leader_staff_id!: number | null;
  visit_date!: string | Date;
  visit_start!: string;
  visit_end!: string;
  window_start!: Date;
  window_end!: Date;
  plate_number!: string | null;
  data!: Record<string, unknown>;
  /** The watch-list `review` entries the visitor or plate matched at apply (staff only; never shown to the visitor). */
  watch_hit!: WatchHit | null;
  /** The host's pre-invitation this application was made with (server/invitations), if any. */
  invitation_id!: number | null;
  status!: ApplicationStatus;
  process_id!: string;
  process_version!: number | null;
  process_definition_key!: string | null;
  instance_key!: string | null;
  form_key!: string;
  form_version!: number;
  last_opinion!: string | null;
  decided_at!: Date | null;
  created_at!: Date;
  updated_at!: Date;
}

const TIMESTAMPS = ['window_start', 'window_end', 'decided_at', 'created_at', 'updated_at', 'entered_at'] as const;

/** The application `id` (a value, or a column reference as Knex.Raw) as one JSON column `as` of another query. */
export function applicationJsonColumn(knex: Knex, id: number | null | Knex.Raw, as: string): Knex.Raw {
  return knex.raw('(select to_json(a) from applications a where a.id = ?) as ??', [id, as]);
}

/**
 * An application read as JSON inside another query (applicationJsonColumn: one round trip with its task):
 * timestamps come back as ISO text there, so they are made Dates again, as pg gives them in a row of its own.
 */
export function applicationFromJson(json: Record<string, any>): Application {
  const row: Record<string, any> = { ...json };
  for (const key of TIMESTAMPS) if (row[key] != null) row[key] = new Date(row[key]);
  return row as Application;
}

export function dateString(value: string | Date): string {
  if (typeof value === 'string') return value.slice(0, 10);
  // pg returns a DATE as a local-midnight Date; format it in local time so the calendar day is kept.
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
}
