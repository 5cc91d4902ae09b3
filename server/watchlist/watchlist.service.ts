import { parse as parseCsv } from 'csv-parse/sync';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { Actor, AuditService } from '../admin/audit.service.ts';
import { type FieldCrypto, maskIdNumber } from '../crypto/field-crypto.ts';
import { AppError, badRequest, notFound } from '../errors.ts';
import { parseResidentId, residentIdMessages } from '../visitors/resident-id.ts';
import { WATCH_MODES, WatchEntry, type WatchHit, type WatchKind } from './watchlist.model.ts';

const text = (max: number, missing: string) => z.string({ error: missing }).trim().min(1, missing).max(max, `不能超过${max}个字`);

export const watchEntryInput = z.object({
  kind: z.enum(['id_number', 'plate', 'name'], { error: '请选择名单类型（身份证号、车牌号或姓名）' }),
  idNumber: z.string().max(40, '身份证号应为18位').optional(),
  plate: z.string().max(20, '车牌号不能超过20个字符').optional(),
  name: z.string().max(50, '姓名不能超过50个字').optional(),
  organisation: z.string().max(100, '单位名称不能超过100个字').optional(),
  reason: text(500, '请填写列入名单的原因'),
  mode: z.enum(WATCH_MODES, { error: '请选择处理方式（转安全审核或直接拒绝）' }),
});

export const watchListQuery = z.object({
  page: z.coerce.number().int('页码应为整数').min(1, '页码应为正整数').default(1),
  pageSize: z.coerce.number().int('每页条数应为整数').min(1).max(100, '每页最多 100 条').default(20),
  active: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
});

/** Upper case, no spaces or separators: 京A 12345, 京a·12345 and 京A-12345 are one plate. */
export function normalisePlate(raw: string): string {
  return raw.replace(/[\s·.-]/g, '').toUpperCase();
}

const normaliseName = (raw: string) => raw.trim().replace(/\s+/g, ' ');

/** The neutral refusal a listed visitor sees: the reason stays with the security office (see README). */
export const WATCH_REFUSED_MESSAGE = '您的申请暂不能受理，如有疑问请联系到访单位';

export interface WatchSubject {
  idNumberBidx?: string | null;
  name?: string | null;
  organisation?: string | null;
  plate?: string | null;
}

export interface WatchWarning {
  code: 'WATCH_LIST_HIT';
  message: string;
  entries: Array<{ id: number; kind: WatchKind; reason: string; mode: string }>;
}

const KIND_TEXT: Record<WatchKind, string> = { id_number: '身份证号', plate: '车牌号', name: '姓名' };

/** The watch list (deny list) kept by admins, and the checks at apply and at the gate. */
export class WatchListService {
  constructor(
    private readonly deps: { knex: Knex; clock: Clock; fieldCrypto: FieldCrypto; audit: AuditService },
  ) {}

  async list(q: z.infer<typeof watchListQuery>) {
    const base = WatchEntry.query(this.deps.knex);
    if (q.active !== undefined) base.where({ active: q.active });
    const [{ n }] = (await base.clone().count({ n: '*' })) as any;
    const rows = await base
      .orderBy('id', 'desc')
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize);
    return { entries: rows.map(view), total: Number(n), page: q.page, pageSize: q.pageSize };
  }

  async add(actor: Actor, body: unknown) {
    const row = this.toRow(actor, watchEntryInput.parse(body ?? {}));
    const entry = await this.deps.knex.transaction(async (trx) => {
      const inserted = await WatchEntry.query(trx).insertAndFetch(row);
      await this.deps.audit.record(trx, actor, { action: 'watchlist.add', targetType: 'watch_list', targetId: inserted.id, after: view(inserted) });
      return inserted;
    });
    return view(entry);
  }

  /**
   * CSV with a header row: kind (类型: 身份证号/车牌号/姓名 or id_number/plate/name), value (值), organisation
   * (单位, optional), reason (原因), mode (处理方式: 转安全审核/直接拒绝 or review/refuse). All or nothing, as the
   * directory import: one bad row imports none; dryRun only reports.
   */
  async importCsv(actor: Actor, csv: string, dryRun: boolean) {
    let records: string[][];
    try {
      records = parseCsv(csv, { bom: true, skip_empty_lines: true, trim: true, relax_column_count: true }) as string[][];
    } catch (err: any) {
      throw badRequest('CSV_UNREADABLE', `CSV 文件无法解析：${err.message}`);
    }
    if (records.length < 2) throw badRequest('CSV_EMPTY', 'CSV 文件没有数据行（第 1 行应为表头）');
    if (records.length > 2001) throw badRequest('CSV_TOO_LARGE', '一次最多导入 2000 行');
    const names: Record<string, string[]> = {
      kind: ['kind', '类型'],
      value: ['value', '值', '号码'],
      organisation: ['organisation', 'organization', '单位'],
      reason: ['reason', '原因'],
      mode: ['mode', '处理方式'],
    };
    const header = records[0].map((h) => h.trim().toLowerCase());
    const col = Object.fromEntries(Object.entries(names).map(([f, n]) => [f, header.findIndex((h) => n.includes(h))]));
    const missing = ['kind', 'value', 'reason', 'mode'].filter((f) => col[f] < 0);
    if (missing.length) throw badRequest('CSV_HEADER_INVALID', `CSV 表头缺少列：${missing.map((f) => `${f}（${names[f][1]}）`).join('、')}`);
    const KIND: Record<string, string> = { 身份证号: 'id_number', 车牌号: 'plate', 姓名: 'name' };
    const MODE: Record<string, string> = { 转安全审核: 'review', 直接拒绝: 'refuse' };
    const errors: Array<{ row: number; field: string; message: string }> = [];
    const rows: Array<Partial<WatchEntry>> = [];
    records.slice(1).forEach((r, i) => {
      const get = (f: string) => (col[f] >= 0 ? (r[col[f]] ?? '').trim() : '');
      const kind = KIND[get('kind')] ?? get('kind');
      const value = get('value');
      const field = kind === 'id_number' ? 'idNumber' : kind === 'plate' ? 'plate' : 'name';
      const body = { kind, reason: get('reason'), mode: MODE[get('mode')] ?? get('mode'), [field]: value, organisation: get('organisation') || undefined };
      try {
        rows.push(this.toRow(actor, watchEntryInput.parse(body)));
      } catch (err: any) {
        const message = err instanceof AppError ? err.message : (err?.issues?.[0]?.message ?? String(err));
        errors.push({ row: i + 2, field: err?.issues?.[0]?.path?.join('.') ?? 'value', message });
      }
    });
    if (errors.length && !dryRun) {
      throw badRequest('CSV_INVALID', `CSV 中有 ${errors.length} 行存在问题，未导入任何数据（第 ${errors[0].row} 行：${errors[0].message}）`, errors);
    }
    if (dryRun) return { dryRun, rows: rows.length + errors.length, imported: 0, errors };
    await this.deps.knex.transaction(async (trx) => {
      for (const row of rows) {
        const inserted = await WatchEntry.query(trx).insertAndFetch(row);
        await this.deps.audit.record(trx, actor, { action: 'watchlist.add', targetType: 'watch_list', targetId: inserted.id, after: { ...view(inserted), source: 'csv' } });
      }
    });
    return { dryRun, rows: rows.length, imported: rows.length, errors };
  }

  private toRow(actor: Actor, input: z.infer<typeof watchEntryInput>): Partial<WatchEntry> {
    const row: Partial<WatchEntry> = {
      kind: input.kind,
      reason: input.reason,
      mode: input.mode,
      active: true,
      created_by: actor.id,
      created_by_name: actor.name,
      created_at: this.deps.clock.now(),
    };
    if (input.kind === 'id_number') {
      const id = parseResidentId(input.idNumber ?? '', this.deps.clock.now());
      if (typeof id === 'string') throw badRequest(id, residentIdMessages[id], [{ field: 'idNumber', message: residentIdMessages[id] }]);
      row.id_number_bidx = this.deps.fieldCrypto.blindIndex('id', id.value);
      row.id_number_masked = maskIdNumber(id.value);
    } else if (input.kind === 'plate') {
      const plate = normalisePlate(input.plate ?? '');
      if (plate.length < 5 || plate.length > 10) {
        throw badRequest('PLATE_INVALID', '请填写正确的车牌号', [{ field: 'plate', message: '请填写正确的车牌号' }]);
      }
      row.plate = plate;
    } else {
      const name = normaliseName(input.name ?? '');
      if (!name) throw badRequest('VALIDATION_FAILED', '请填写姓名', [{ field: 'name', message: '请填写姓名' }]);
      row.name = name;
      row.organisation = input.organisation?.trim() ? input.organisation.trim() : null;
    }
    return row;
  }

  async deactivate(actor: Actor, id: number) {
    const entry = await this.deps.knex.transaction(async (trx) => {
      const before = await WatchEntry.query(trx).findById(id).forUpdate();
      if (!before) throw notFound('WATCH_ENTRY_NOT_FOUND', '名单条目不存在');
      if (!before.active) return before;
      const after = await WatchEntry.query(trx).patchAndFetchById(id, { active: false, deactivated_by: actor.id, deactivated_at: this.deps.clock.now() });
      await this.deps.audit.record(trx, actor, {
        action: 'watchlist.deactivate',
        targetType: 'watch_list',
        targetId: id,
        before: view(before),
        after: view(after),
      });
      return after;
    });
    return view(entry);
  }

  /** The active entries a visitor (and plate) matches; one indexed query. */
  async match(subject: WatchSubject, db: Knex = this.deps.knex): Promise<WatchEntry[]> {
    const plate = subject.plate ? normalisePlate(subject.plate) : null;
    const name = subject.name ? normaliseName(subject.name) : null;
    if (!subject.idNumberBidx && !plate && !name) return [];
    // Plain rows: every submission asks.
    return db('watch_list')
      .where({ active: true })
      .where((w) => {
        if (subject.idNumberBidx) w.orWhere({ kind: 'id_number', id_number_bidx: subject.idNumberBidx });
        if (plate) w.orWhere({ kind: 'plate', plate });
        if (name) {
          w.orWhere((n) =>
            n
              .where({ kind: 'name', name })
              .where((o) => o.whereNull('organisation').orWhere('organisation', (subject.organisation ?? '').trim())),
          );
        }
      })
      .orderBy('id');
  }

  /**
   * The check at apply. A `refuse` hit refuses with a neutral message (the visitor does not learn they are
   * listed) and an audit entry for the security office; `review` hits are returned for the application to keep.
   */
  async checkApplication(visitor: { id: number; name: string; organisation: string; id_number_bidx: string }, plate: string | null): Promise<WatchHit | null> {
    const hits = await this.match({ idNumberBidx: visitor.id_number_bidx, name: visitor.name, organisation: visitor.organisation, plate });
    if (!hits.length) return null;
    const entries = hits.map((e) => ({ id: e.id, kind: e.kind, reason: e.reason, mode: e.mode }));
    if (hits.some((e) => e.mode === 'refuse')) {
      await this.deps.audit.record(this.deps.knex, null, {
        action: 'watchlist.refused',
        targetType: 'visitor',
        targetId: visitor.id,
        after: { entries, plate },
      });
      throw new AppError(403, 'APPLICATION_NOT_ACCEPTED', WATCH_REFUSED_MESSAGE);
    }
    return { entries };
  }

  /**
   * The check at apply for the companions of a group visit, each like the applicant (ID number by its blind index,
   * name): one `refuse` hit refuses the whole application with the same neutral message; `review` hits come back
   * tagged with the companion they concern (name and row, no identifier).
   */
  async checkCompanions(applicantId: number, companions: Array<{ index: number; name: string; idNumberBidx: string }>): Promise<WatchHit | null> {
    const entries: WatchHit['entries'] = [];
    for (const c of companions) {
      // A companion has no organisation of his own: a name entry limited to an organisation does not match him.
      const hits = await this.match({ idNumberBidx: c.idNumberBidx, name: c.name, organisation: null });
      for (const e of hits) entries.push({ id: e.id, kind: e.kind, reason: e.reason, mode: e.mode, person: { role: 'companion', name: c.name, index: c.index } });
    }
    if (!entries.length) return null;
    if (entries.some((e) => e.mode === 'refuse')) {
      await this.deps.audit.record(this.deps.knex, null, {
        action: 'watchlist.refused',
        targetType: 'visitor',
        targetId: applicantId,
        after: { entries },
      });
      throw new AppError(403, 'APPLICATION_NOT_ACCEPTED', WATCH_REFUSED_MESSAGE);
    }
    return { entries };
  }

  /** The check at the gate: a warning for the guard, or null. */
  async gateWarning(subject: WatchSubject): Promise<WatchWarning | null> {
    const hits = await this.match(subject);
    if (!hits.length) return null;
    const kinds = [...new Set(hits.map((e) => KIND_TEXT[e.kind]))].join('、');
    return {
      code: 'WATCH_LIST_HIT',
      message: `注意：该访客（${kinds}）在关注名单中，请核实身份并联系保卫处`,
      entries: hits.map((e) => ({ id: e.id, kind: e.kind, reason: e.reason, mode: e.mode })),
    };
  }
}

function view(e: WatchEntry) {
  return {
    id: e.id,
    kind: e.kind,
    idNumber: e.id_number_masked,
    plate: e.plate,
    name: e.name,
    organisation: e.organisation,
    reason: e.reason,
    mode: e.mode,
    active: e.active,
    createdBy: e.created_by === null ? null : { id: e.created_by, name: e.created_by_name },
    createdAt: e.created_at,
    deactivatedAt: e.deactivated_at,
  };
}
