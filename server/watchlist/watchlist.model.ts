import { Model } from 'objection';

export const WATCH_KINDS = ['id_number', 'plate', 'name'] as const;
export type WatchKind = (typeof WATCH_KINDS)[number];
export const WATCH_MODES = ['review', 'refuse'] as const;
/** `review`: the application is accepted and flagged for the staff who review it; `refuse`: refused at once. */
export type WatchMode = (typeof WATCH_MODES)[number];

/** One watch-list entry. An ID number is kept only as its blind index and a masked form, never in clear. */
export class WatchEntry extends Model {
  static tableName = 'watch_list';
  id!: number;
  kind!: WatchKind;
  id_number_bidx!: string | null;
  id_number_masked!: string | null;
  plate!: string | null;
  name!: string | null;
  organisation!: string | null;
  reason!: string;
  mode!: WatchMode;
  active!: boolean;
  created_by!: number | null;
  created_by_name!: string | null;
  created_at!: Date;
  deactivated_by!: number | null;
  deactivated_at!: Date | null;
}

/** What an application that hit `review` entries keeps (applications.watch_hit), and what staff see. */
export interface WatchHit {
  /** `person`: set when the hit is a companion of a group visit (his name and place in the form; never his ID number). */
  entries: Array<{ id: number; kind: WatchKind; reason: string; mode: WatchMode; person?: WatchPerson }>;
}

export interface WatchPerson {
  role: 'companion';
  name: string;
  /** 0-based row of the companion in the application form */
  index: number;
}
