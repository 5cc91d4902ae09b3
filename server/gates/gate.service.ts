import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { Actor, AuditService } from '../admin/audit.service.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import { MAX_ROW_ID } from '../http/id-param.ts';

const gateName = z.string({ error: '请填写门岗名称' }).trim().min(1, '请填写门岗名称').max(50, '门岗名称不能超过 50 个字符');

export const gateCreateInput = z
  .object({
    campusId: z.coerce.number({ error: '请选择校区' }).int('请选择校区').positive('请选择校区').max(MAX_ROW_ID, '所选校区不存在或已停用'),
    name: gateName,
  })
  .strict();

/** Only the name: a gate stays on its campus (its recorded events say where they happened); make a new one instead. */
export const gateUpdateInput = z.object({ name: gateName }).strict();

export const gateListQuery = z.object({
  campusId: z.coerce.number().int().positive().max(MAX_ROW_ID).optional(),
});

export interface GateView {
  id: number;
  campusId: number;
  name: string;
  active: boolean;
}

const view = (g: any): GateView => ({ id: g.id, campusId: g.campus_id, name: g.name, active: g.active });
const UNIQUE_VIOLATION = '23505';

/**
 * The gates (门岗) of each campus, kept by administrators on the directory page. A guard picks one on the gate
 * page and every entry or exit is recorded with it. Gates are never deleted (events refer to them): deactivated.
 */
export class GateService {
  constructor(private readonly deps: { knex: Knex; clock: Clock; audit: AuditService }) {}

  async list(campusId?: number): Promise<GateView[]> {
    const q = this.deps.knex('gates').orderBy([{ column: 'campus_id' }, { column: 'id' }]);
    if (campusId !== undefined) q.where({ campus_id: campusId });
    return (await q).map(view);
  }

  /** What the gate page offers: active gates of active campuses. */
  async listActive(): Promise<GateView[]> {
    const rows = await this.deps.knex('gates')
      .join('campuses', 'campuses.id', 'gates.campus_id')
      .where({ 'gates.active': true, 'campuses.active': true })
      .orderBy([{ column: 'gates.campus_id' }, { column: 'gates.id' }])
      .select('gates.*');
    return rows.map(view);
  }

  private async gate(id: number, db: Knex = this.deps.knex) {
    const g = await db('gates').where({ id }).first();
    if (!g) throw notFound('GATE_NOT_FOUND', '门岗不存在');
    return g;
  }

  async create(actor: Actor, raw: unknown): Promise<GateView> {
    const input = gateCreateInput.parse(raw ?? {});
    const campus = await this.deps.knex('campuses').where({ id: input.campusId }).first('active');
    if (!campus?.active) throw badRequest('CAMPUS_NOT_FOUND', '所选校区不存在或已停用', [{ field: 'campusId', message: '所选校区不存在或已停用' }]);
    return this.unique(input.name, () =>
      this.deps.knex.transaction(async (trx) => {
        const now = this.deps.clock.now();
        const [row] = await trx('gates').insert({ campus_id: input.campusId, name: input.name, active: true, created_at: now, updated_at: now }).returning('*');
        await this.deps.audit.record(trx, actor, { action: 'gate.create', targetType: 'gate', targetId: row.id, after: view(row) });
        return view(row);
      }),
    );
  }

  async update(actor: Actor, id: number, raw: unknown): Promise<GateView> {
    const input = gateUpdateInput.parse(raw ?? {});
    const before = await this.gate(id);
    return this.unique(input.name, () =>
      this.deps.knex.transaction(async (trx) => {
        const [after] = await trx('gates').where({ id }).update({ name: input.name, updated_at: this.deps.clock.now() }).returning('*');
        await this.deps.audit.record(trx, actor, { action: 'gate.update', targetType: 'gate', targetId: id, before: view(before), after: view(after) });
        return view(after);
      }),
    );
  }

  async setActive(actor: Actor, id: number, active: boolean): Promise<GateView> {
    const before = await this.gate(id);
    if (active) {
      const campus = await this.deps.knex('campuses').where({ id: before.campus_id }).first('active');
      if (!campus?.active) throw badRequest('CAMPUS_NOT_FOUND', '该门岗所在校区已停用，请先启用校区', [{ field: 'campusId', message: '所在校区已停用' }]);
    }
    return this.deps.knex.transaction(async (trx) => {
      const [after] = await trx('gates').where({ id }).update({ active, updated_at: this.deps.clock.now() }).returning('*');
      await this.deps.audit.record(trx, actor, {
        action: active ? 'gate.activate' : 'gate.deactivate',
        targetType: 'gate',
        targetId: id,
        before: view(before),
        after: view(after),
      });
      return view(after);
    });
  }

  private async unique<T>(name: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err: any) {
      if (err?.code === UNIQUE_VIOLATION || err?.nativeError?.code === UNIQUE_VIOLATION) {
        throw conflict('GATE_NAME_TAKEN', `该校区已有名为“${name}”的门岗`);
      }
      throw err;
    }
  }
}
