import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { AuditService } from '../admin/audit.service.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import { MAX_ROW_ID } from '../http/id-param.ts';
import type { PassService } from './pass.service.ts';

/** What a row calls an entry recorded without a gate: before gates existed, or at a campus without any. */
export const UNKNOWN_GATE = '未知门岗';

/** Rows answered at most; the counts always cover everyone. More people than this inside one scope is a filter's job. */
export const ON_CAMPUS_ROW_LIMIT = 1000;

const id = (message: string) => z.coerce.number({ error: message }).int(message).positive(message).max(MAX_ROW_ID, message);

export const onCampusQuery = z.object({
  campusId: id('校区参数无效').optional(),
  /** A gate id, or `unknown` for entries recorded without a gate. */
  gateId: z.union([z.literal('unknown'), id('门岗参数无效')]).optional(),
  /** true: only overstays; false: only those whose window has not ended. */
  overstay: z.enum(['true', 'false'], { error: '超时参数应为 true 或 false' }).transform((v) => v === 'true').optional(),
});

export const onCampusExitSchema = z.object({
  gateId: id('请选择门岗').nullable().optional(),
});

export interface Viewer {
  id: number;
  name: string;
  roles: string[];
  departmentId: number | null;
}

export interface OnCampusRow {
  passId: number;
  applicationId: number;
  /** masked: the surname (first character) and stars */
  name: string;
  /** masked, e.g. 138****5678 */
  mobile: string;
  organisation: string;
  department: { id: number; name: string };
  campus: { id: number; name: string };
  /** id null: recorded without a gate (未知门岗) */
  gate: { id: number | null; name: string };
  enteredAt: string;
  plateNumber: string | null;
  validUntil: string;
  passStatus: 'active' | 'revoked';
  /** The pass window has ended and no exit is recorded. */
  overstay: boolean;
  /** Whole minutes since the window ended; null when not an overstay. */
  overstayMinutes: number | null;
}

export interface GateCount {
  id: number | null;
  name: string;
  active: boolean;
  total: number;
  overstays: number;
}

export interface CampusCount {
  id: number;
  name: string;
  total: number;
  overstays: number;
  gates: GateCount[];
}

export interface OnCampusAnswer {
  at: string;
  /** The campus a guard is limited to (their department's campus); null: every campus. */
  scope: { campusId: number | null };
  /** Everyone inside the scope and the campus filter (the gate and overstay filters narrow the rows only). */
  summary: { total: number; overstays: number; campuses: CampusCount[] };
  /** Rows matching every filter: overstays first (longest overdue first), then the latest entries. */
  visitors: OnCampusRow[];
  /** How many rows match (visitors holds at most ON_CAMPUS_ROW_LIMIT of them). */
  total: number;
  truncated: boolean;
}

/** '张三' -> '张*', '欧阳娜娜' -> '欧***': enough for a guard to call out a visitor already identified by the rest. */
export function maskName(name: string): string {
  const chars = Array.from(name.trim());
  if (!chars.length) return '';
  return chars[0] + '*'.repeat(Math.max(1, chars.length - 1));
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();
const time = (v: Date | string) => (v instanceof Date ? v : new Date(v)).getTime();

/**
 * Who is on campus now: visitors whose pass's latest event is an entry (the pass_presence rows PassService keeps
 * with every event), per campus and gate of entry, with overstays (the pass window ended, no exit recorded).
 * Admins see every campus. A guard whose directory entry has a department sees that department's campus only;
 * a guard without one (the usual case: guards are not in a visited department) sees every campus, as the gate
 * page lets them stand at any. The model has no other link between a guard and a campus.
 */
export class OnCampusService {
  constructor(private readonly deps: { knex: Knex; clock: Clock; passes: PassService; audit: AuditService }) {}

  async scopeOf(viewer: Viewer): Promise<number | null> {
    if (viewer.roles.includes('admin') || viewer.departmentId === null) return null;
    const dept = await this.deps.knex('departments').where({ id: viewer.departmentId }).first('campus_id');
    return dept?.campus_id ?? null;
  }

  async list(viewer: Viewer, q: z.infer<typeof onCampusQuery>): Promise<OnCampusAnswer> {
    const { knex } = this.deps;
    const scope = await this.scopeOf(viewer);
    if (scope !== null && q.campusId !== undefined && q.campusId !== scope) {
      throw forbidden('CAMPUS_NOT_IN_SCOPE', '您只能查看本校区的在校访客');
    }
    const campusId = scope ?? q.campusId;
    const now = this.deps.clock.now();

    // Everything is decided on pass_presence alone (its size is the people inside, whatever the history); only
    // the page of rows kept is then joined to the pass, application, visitor and department.
    const counts = await knex('pass_presence')
      .modify((b) => {
        if (campusId !== undefined) b.where('campus_id', campusId);
      })
      .groupBy('campus_id', 'gate_id')
      .select('campus_id', 'gate_id', knex.raw('count(*) as total'), knex.raw('count(*) filter (where valid_until <= ?) as overstays', [now]));
    const campuses = await knex('campuses')
      .modify((b) => {
        if (campusId !== undefined) b.where({ id: campusId });
      })
      .orderBy('id')
      .select('id', 'name', 'active');
    const gates = await knex('gates')
      .modify((b) => {
        if (campusId !== undefined) b.where({ campus_id: campusId });
      })
      .orderBy('id')
      .select('id', 'campus_id', 'name', 'active');
    const summary = summarise(campuses, gates, counts);

    const matching = knex('pass_presence').modify((b) => {
      if (campusId !== undefined) b.where('campus_id', campusId);
      if (q.gateId === 'unknown') b.whereNull('gate_id');
      else if (q.gateId !== undefined) b.where('gate_id', q.gateId);
      if (q.overstay === true) b.where('valid_until', '<=', now);
      if (q.overstay === false) b.where('valid_until', '>', now);
    });
    const [{ n }] = await matching.clone().count({ n: '*' });
    // Overstays first, the longest overdue first; then the latest entries.
    const order = (t: string) =>
      [`case when ${t}.valid_until <= ? then 0 else 1 end`, `case when ${t}.valid_until <= ? then ${t}.valid_until end asc`, `${t}.entered_at desc`, `${t}.pass_id desc`].join(', ');
    const page = matching.clone().select('*').orderByRaw(order('pass_presence'), [now, now]).limit(ON_CAMPUS_ROW_LIMIT);
    const found = await knex
      .from(page.as('pp'))
      .join('passes', 'passes.id', 'pp.pass_id')
      .join('applications', 'applications.id', 'passes.application_id')
      .join('visitors', 'visitors.id', 'applications.visitor_id')
      // A companion's pass (group visit) is that person inside, under his own name.
      .leftJoin('application_companions as companions', 'companions.id', 'passes.companion_id')
      .join('departments', 'departments.id', 'applications.department_id')
      .join('campuses', 'campuses.id', 'pp.campus_id')
      .leftJoin('gates', 'gates.id', 'pp.gate_id')
      .orderByRaw(order('pp'), [now, now])
      // Masked identifier columns only: the clear mobile is never read on this path.
      .select(
        'pp.pass_id',
        'pp.entered_at',
        'pp.campus_id',
        'pp.gate_id',
        'pp.valid_until',
        'gates.name as gate_name',
        'campuses.name as campus_name',
        'passes.plate_number',
        'passes.status as pass_status',
        'applications.id as application_id',
        'departments.id as department_id',
        'departments.name as department_name',
        knex.raw('coalesce(companions.name, visitors.name) as visitor_name'),
        'visitors.organisation',
        knex.raw('coalesce(companions.mobile_masked, visitors.mobile_masked) as mobile_masked'),
      );
    const visitors = found.map((r: any): OnCampusRow => {
      const overdueMs = now.getTime() - time(r.valid_until);
      const overstay = overdueMs >= 0;
      return {
        passId: r.pass_id,
        applicationId: r.application_id,
        name: maskName(r.visitor_name),
        mobile: r.mobile_masked,
        organisation: r.organisation,
        department: { id: r.department_id, name: r.department_name },
        campus: { id: r.campus_id, name: r.campus_name },
        gate: { id: r.gate_id ?? null, name: r.gate_name ?? UNKNOWN_GATE },
        enteredAt: iso(r.entered_at),
        plateNumber: r.plate_number ?? null,
        validUntil: iso(r.valid_until),
        passStatus: r.pass_status,
        overstay,
        overstayMinutes: overstay ? Math.floor(overdueMs / 60_000) : null,
      };
    });
    return { at: now.toISOString(), scope: { campusId: scope }, summary, visitors, total: Number(n), truncated: Number(n) > visitors.length };
  }

  /**
   * Records the exit of a visitor still listed as inside (the guard knows they left, e.g. by a gate that does
   * not record), at the campus they entered and the guard's gate if given. Audited, in the event's transaction.
   */
  async recordExit(viewer: Viewer, passId: number, gateId: number | null) {
    const { knex } = this.deps;
    const pass = await knex('passes').where({ id: passId }).first('id', 'campus_id', 'valid_until');
    if (!pass) throw notFound('PASS_NOT_FOUND', '通行码不存在');
    const inside = await knex('pass_presence').where({ pass_id: passId }).first();
    if (!inside) throw conflict('VISITOR_NOT_ON_CAMPUS', '该访客已不在校内（可能已在门岗登记离校），请刷新列表');
    const scope = await this.scopeOf(viewer);
    if (scope !== null && inside.campus_id !== scope) throw forbidden('CAMPUS_NOT_IN_SCOPE', '您只能登记本校区在校访客的离校');
    return this.deps.passes.record(passId, 'exit', viewer.id, inside.campus_id, {
      gateId,
      onlyIfInside: true,
      within: async (trx, result, before) => {
        const overdueMs = time(result.event.at) - time(pass.valid_until);
        await this.deps.audit.record(trx, viewer, {
          action: 'pass.exit.from_list',
          targetType: 'pass',
          targetId: passId,
          before: before ? { enteredAt: iso(before.entered_at), entryEventId: Number(before.event_id), campusId: before.campus_id, gateId: before.gate_id } : null,
          after: {
            exitEventId: result.event.id,
            at: result.event.at,
            gateId: result.event.gateId,
            validUntil: iso(pass.valid_until),
            overstayMinutes: overdueMs >= 0 ? Math.floor(overdueMs / 60_000) : null,
          },
        });
      },
    });
  }
}

function summarise(
  campuses: Array<{ id: number; name: string; active: boolean }>,
  gates: Array<{ id: number; campus_id: number; name: string; active: boolean }>,
  counts: Array<{ campus_id: number; gate_id: number | null; total: number | string; overstays: number | string }>,
): OnCampusAnswer['summary'] {
  const byCampus = new Map<number, CampusCount>();
  const gateIndex = new Map<number, GateCount>();
  for (const c of campuses) byCampus.set(c.id, { id: c.id, name: c.name, total: 0, overstays: 0, gates: [] });
  // Every gate of the campus shows, an empty one with 0; an inactive gate only while someone who entered by it is inside.
  const active = new Set(campuses.filter((c) => c.active).map((c) => c.id));
  const seen = new Set(counts.map((c) => c.gate_id));
  for (const g of gates) {
    const campus = byCampus.get(g.campus_id);
    if (!campus || (!(g.active && active.has(g.campus_id)) && !seen.has(g.id))) continue;
    const entry: GateCount = { id: g.id, name: g.name, active: g.active, total: 0, overstays: 0 };
    campus.gates.push(entry);
    gateIndex.set(g.id, entry);
  }
  let total = 0;
  let overstays = 0;
  for (const c of counts) {
    const campus = byCampus.get(c.campus_id);
    if (!campus) continue;
    const n = Number(c.total);
    const late = Number(c.overstays);
    campus.total += n;
    campus.overstays += late;
    total += n;
    overstays += late;
    let gate = c.gate_id === null ? undefined : gateIndex.get(c.gate_id);
    if (!gate) {
      gate = { id: c.gate_id, name: UNKNOWN_GATE, active: true, total: 0, overstays: 0 };
      campus.gates.push(gate);
      if (c.gate_id !== null) gateIndex.set(c.gate_id, gate);
    }
    gate.total += n;
    gate.overstays += late;
  }
  // An inactive campus only shows while someone is inside it.
  const list = [...byCampus.values()].filter((c) => active.has(c.id) || c.total > 0);
  for (const c of list) c.gates.sort((a, b) => (a.id === null ? 1 : b.id === null ? -1 : a.id - b.id));
  return { total, overstays, campuses: list };
}
