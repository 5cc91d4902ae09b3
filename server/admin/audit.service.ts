import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { StaffPrincipal } from '../http/context.ts';
import { maskDeep } from './mask.ts';

export type Actor = Pick<StaffPrincipal, 'id' | 'name'>;

export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | number | null;
  before?: unknown;
  after?: unknown;
}

export interface AuditQuery {
  action?: string;
  targetType?: string;
  targetId?: string;
  actorId?: number;
  from?: Date;
  to?: Date;
  page: number;
  pageSize: number;
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(maskDeep(v)));

/** The admin audit log. Written in the transaction of the change it describes, so neither exists alone. */
export class AuditService {
  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
  ) {}

  async record(db: Knex, actor: Actor | null, entry: AuditEntry): Promise<void> {
    await db('audit_log').insert({
      at: this.clock.now(),
      actor_id: actor?.id ?? null,
      actor_name: actor?.name ?? null,
      action: entry.action,
      target_type: entry.targetType,
      target_id: entry.targetId === undefined || entry.targetId === null ? null : String(entry.targetId),
      before: json(entry.before),
      after: json(entry.after),
    });
  }

  async list(q: AuditQuery) {
    const base = this.knex('audit_log');
    if (q.action) base.where('action', 'like', `${q.action.replace(/[%_\\]/g, (c) => `\\${c}`)}%`);
    if (q.targetType) base.where({ target_type: q.targetType });
    if (q.targetId) base.where({ target_id: q.targetId });
    if (q.actorId) base.where({ actor_id: q.actorId });
    if (q.from) base.where('at', '>=', q.from);
    if (q.to) base.where('at', '<', q.to);
    const [{ n }] = await base.clone().count({ n: '*' });
    const rows = await base
      .orderBy('id', 'desc')
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize);
    return {
      entries: rows.map((r: any) => ({
        id: Number(r.id),
        at: r.at,
        actor: r.actor_id === null ? null : { id: r.actor_id, name: r.actor_name },
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        before: r.before,
        after: r.after,
      })),
      total: Number(n),
      page: q.page,
      pageSize: q.pageSize,
    };
  }
}
