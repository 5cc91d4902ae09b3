import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import { AppError, badRequest, conflict, notFound } from '../errors.ts';
import { generateShortCode, normaliseShortCode, passClaims, signPassPayload, verifyPassPayload } from './pass-token.ts';
import type { WatchSubject, WatchWarning } from '../watchlist/watchlist.service.ts';
import { maskName } from './on-campus.service.ts';

export interface PassRow {
  id: number;
  application_id: number;
  short_code: string;
  campus_id: number;
  valid_from: Date;
  valid_until: Date;
  plate_number: string | null;
  status: 'active' | 'revoked';
  revoked_at: Date | null;
  created_at: Date;
  /** The companion of a group visit this pass is for; null: the applicant's own pass. */
  companion_id: number | null;
  /** SHA-256 of the token in a companion's SMS link (linkTokenHash); null for the applicant's pass. */
  link_token_hash: string | null;
}

/** A companion's pass just issued, with the token of its link: known only now, stored only as its hash. */
export interface IssuedCompanionPass {
  pass: PassRow;
  companionId: number;
  linkToken: string;
}

/** The hash a companion's link token is stored and looked up by (the token is random: no salt or stretching needed). */
export function linkTokenHash(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

/** 16 random bytes: unguessable, and short enough for an SMS link. */
export function newLinkToken(): string {
  return crypto.randomBytes(16).toString('base64url');
}

const LINK_TOKEN = /^[A-Za-z0-9_-]{22}$/;

export type PassEventKind = 'entry' | 'exit';

export type VerifyReason =
  | 'SIGNATURE_INVALID'
  | 'QR_EXPIRED'
  | 'NOT_YET_VALID'
  | 'EXPIRED'
  | 'WRONG_CAMPUS'
  | 'REVOKED'
  | 'UNKNOWN_CODE'
  | 'MALFORMED';

export interface GatePassDetails {
  id: number;
  visitorName: string;
  organisation: string;
  /** masked, e.g. 410***********123X */
  idNumber: string;
  /** masked, e.g. 138****5678 */
  mobile: string;
  plateNumber: string | null;
  validFrom: string;
  validUntil: string;
  campus: { id: number; name: string };
  flowNumber: string;
  /** Set on a companion's pass (group visit): the applicant he came with; the name above is the companion's. */
  companionOf?: string;
}

export interface PassEventView {
  id: number;
  passId: number;
  kind: PassEventKind;
  at: string;
  campusId: number | null;
  /** null: recorded before gates existed, or at a campus without gates (未知门岗) */
  gateId: number | null;
  guardId: number | null;
}

/** A row of pass_presence: the pass's latest event is an entry (the visitor is inside). */
export interface PresenceRow {
  pass_id: number;
  event_id: number;
  campus_id: number;
  gate_id: number | null;
  entered_at: Date;
  /** the pass's window end, copied at entry (a pass's window is fixed when it is issued) */
  valid_until: Date;
}

export interface VerifyResult {
  valid: boolean;
  reason?: VerifyReason;
  reasonText: string;
  /** The values in reasonText (campus, minutes), for a page that says it in another language. */
  reasonParams?: Record<string, string | number>;
  pass?: GatePassDetails;
  lastEvent?: { kind: PassEventKind; at: string };
  /** The visitor or the plate is on the watch list: the guard checks identity and calls the security office. */
  watchWarning?: WatchWarning;
}

export interface VisitorPassView {
  shortCode: string;
  /** null once the pass is revoked or past its window: there is nothing left to show at the gate */
  qr: { payload: string; expiresAt: string } | null;
  rotateSeconds: number;
  validFrom: string;
  validUntil: string;
  campus: { id: number; name: string };
  plateNumber: string | null;
  status: 'active' | 'expired' | 'revoked';
}

/** A companion's pass opened by the link in his SMS (no login): the pass, and whose it is (name masked). */
export interface LinkPassView extends VisitorPassView {
  holderName: string;
  flowNumber: string;
}

export interface RecordResult {
  event: PassEventView;
  /** set when the entry/exit sequence looks wrong; the event is recorded anyway (see record()) */
  warning?: { code: 'ENTRY_WITHOUT_EXIT' | 'EXIT_WITHOUT_ENTRY'; message: string };
}

export interface PassServiceOptions {
  knex: Knex;
  clock: Clock;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  /** how often the QR payload changes; default 30 */
  rotateSeconds?: number;
  /** how long before the window starts the gate already admits the visitor; default 30 */
  earlyEntryMinutes?: number;
  /** The watch-list check of the gate (server/watchlist); without it the gate shows no watch-list warning. */
  watchWarning?: (subject: WatchSubject) => Promise<WatchWarning | null>;
}

const REASON_TEXT: Record<VerifyReason, string> = {
  SIGNATURE_INVALID: '二维码签名无效，可能是伪造或被篡改的通行码，请勿放行',
  QR_EXPIRED: '二维码已失效（可能是截图），请访客在手机上刷新通行码后重新出示',
  NOT_YET_VALID: '未到通行时间',
  EXPIRED: '通行码已过期，已超出批准的到访时间',
  WRONG_CAMPUS: '该通行码不适用于本校区',
  REVOKED: '通行码已作废（申请已撤回或被取消），请勿放行',
  UNKNOWN_CODE: '通行码不存在，请核对后重新输入',
  MALFORMED: '无法识别的二维码，请扫描访客手机上的进校通行码',
};
const VALID_TEXT = '通行码有效，请核对访客身份后放行';

// Applications that can no longer lead to a visit: a pass issued for them (a late, retried job) is born revoked.
const CLOSED_APPLICATION_STATUSES = new Set(['withdrawn', 'refused', 'expired']);

const toDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));
const iso = (v: Date | string) => toDate(v).toISOString();

interface PassContext {
  pass: PassRow;
  campusName: string;
  visitorId: number;
  visitorName: string;
  organisation: string;
  idNumberBidx: string;
  idNumberMasked: string;
  mobileMasked: string;
  flowNumber: string;
  /** The applicant's name on a companion's pass (the name fields above are the companion's). */
  applicantName: string | null;
}

type Check = { reason: VerifyReason; text: string; params?: Record<string, string | number> } | null;

/**
 * Passes for approved applications and the gate check. The QR payload is signed with Ed25519 and rotates
 * with the clock; the short code is the typed fallback and is checked the same way minus the signature.
 */
export class PassService {
  private readonly knex: Knex;
  private readonly clock: Clock;
  private readonly privateKey: crypto.KeyObject;
  private readonly publicKey: crypto.KeyObject;
  readonly rotateSeconds: number;
  readonly earlyEntryMinutes: number;
  private readonly watchWarning?: PassServiceOptions['watchWarning'];

  constructor(opts: PassServiceOptions) {
    if (opts.privateKey.asymmetricKeyType !== 'ed25519' || opts.publicKey.asymmetricKeyType !== 'ed25519') {
      throw new Error('pass signing keys must be Ed25519');
    }
    this.knex = opts.knex;
    this.clock = opts.clock;
    this.privateKey = opts.privateKey;
    this.publicKey = opts.publicKey;
    this.rotateSeconds = opts.rotateSeconds ?? 30;
    this.earlyEntryMinutes = opts.earlyEntryMinutes ?? 30;
    this.watchWarning = opts.watchWarning;
  }

  /** SPKI PEM of the verification key, for a gate page that checks payloads offline. */
  passPublicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /**
   * Issues the pass of an application, or returns the one it already has: the issue-pass worker is
   * delivered at least once. Runs on the connection or transaction given. `skipWithdrawn`: a withdrawn
   * application gets none (undefined) instead of a revoked one.
   */
  async issue(trx: Knex, applicationId: number, options: { skipWithdrawn: true }): Promise<PassRow | undefined>;
  async issue(trx: Knex, applicationId: number): Promise<PassRow>;
  async issue(trx: Knex, applicationId: number, options?: { skipWithdrawn: true }): Promise<PassRow | undefined> {
    // One round trip on the usual path (no pass yet): the application and whether a pass exists.
    const app = await trx('applications')
      .where({ id: applicationId })
      .first(
        'id',
        'campus_id',
        'window_start',
        'window_end',
        'plate_number',
        'status',
        trx.raw('exists (select 1 from passes where passes.application_id = applications.id and passes.companion_id is null) as has_pass'),
      );
    if (app?.status === 'withdrawn' && options?.skipWithdrawn) return undefined;
    if (app?.has_pass) return trx('passes').where({ application_id: applicationId }).whereNull('companion_id').first();
    if (!app) throw notFound('APPLICATION_NOT_FOUND', '申请不存在');
    const now = this.clock.now();
    const closed = CLOSED_APPLICATION_STATUSES.has(app.status);
    for (let attempt = 0; attempt < 5; attempt++) {
      // ON CONFLICT DO NOTHING rather than catching a unique violation: an error would abort the caller's
      // transaction. Nothing inserted means either a concurrent issue won (returned below) or the random
      // code collided with another pass (try another one).
      const [row] = await trx('passes')
        .insert({
          application_id: applicationId,
          ...newPassFields(app, closed, now),
        })
        .onConflict()
        .ignore()
        .returning('*');
      if (row) return row;
      const raced = await trx('passes').where({ application_id: applicationId }).whereNull('companion_id').first();
      if (raced) return raced;
    }
    throw new Error(`could not find a free short code for application ${applicationId}`);
  }

  /**
   * Issues a pass to each companion of a group visit who has none yet (at-least-once jobs: a second run issues
   * nothing), each with its own short code and link token. Call inside the transaction that also queues the
   * links' SMS: the tokens are returned once and only their hashes are kept. The window, campus and plate are
   * the application's, as for the applicant's pass; an application that can no longer lead to a visit gets
   * revoked passes, as issue() does.
   */
  async issueForCompanions(trx: Knex, applicationId: number): Promise<IssuedCompanionPass[]> {
    const app = await trx('applications').where({ id: applicationId }).first('id', 'campus_id', 'window_start', 'window_end', 'plate_number', 'status');
    if (!app || app.status === 'withdrawn') return [];
    const waiting: Array<{ id: number }> = await trx('application_companions as c')
      .where('c.application_id', applicationId)
      .whereNotExists(trx('passes').select(trx.raw('1')).whereRaw('passes.companion_id = c.id'))
      .orderBy('c.position')
      .select('c.id');
    const now = this.clock.now();
    const closed = CLOSED_APPLICATION_STATUSES.has(app.status);
    const issued: IssuedCompanionPass[] = [];
    for (const companion of waiting) {
      for (let attempt = 0; ; attempt++) {
        if (attempt === 5) throw new Error(`could not find a free short code for application ${applicationId}`);
        const linkToken = newLinkToken();
        const [row] = await trx('passes')
          .insert({
            application_id: applicationId,
            companion_id: companion.id,
            link_token_hash: linkTokenHash(linkToken),
            ...newPassFields(app, closed, now),
          })
          .onConflict()
          .ignore()
          .returning('*');
        if (row) {
          issued.push({ pass: row, companionId: companion.id, linkToken });
          break;
        }
        // A concurrent run issued this companion's pass (its token went with that run's SMS): nothing to add.
        if (await trx('passes').where({ companion_id: companion.id }).first('id')) break;
      }
    }
    return issued;
  }

  async revokeForApplication(trx: Knex, applicationId: number): Promise<void> {
    await trx('passes')
      .where({ application_id: applicationId, status: 'active' })
      .update({ status: 'revoked', revoked_at: this.clock.now() });
  }

  /** The visitor's own pass; anything else (no pass yet, someone else's application) looks the same. */
  async forVisitor(visitorId: number, applicationId: number): Promise<VisitorPassView> {
    const ctx = Number.isSafeInteger(applicationId) ? await this.load({ applicationId }) : undefined;
    if (!ctx || ctx.visitorId !== visitorId) throw notFound('PASS_NOT_AVAILABLE', '通行码尚未签发或不可用');
    return this.passView(ctx);
  }

  /** A companion's pass by the token of his SMS link; an unknown or malformed token looks like no pass. */
  async forLink(token: string): Promise<LinkPassView> {
    const ctx = LINK_TOKEN.test(token) ? await this.load({ linkTokenHash: linkTokenHash(token) }) : undefined;
    if (!ctx) throw notFound('PASS_LINK_INVALID', '通行码链接无效，请核对短信中的链接');
    return { ...this.passView(ctx), holderName: maskName(ctx.visitorName), flowNumber: ctx.flowNumber };
  }

  private passView(ctx: PassContext): VisitorPassView {
    const { pass } = ctx;
    const now = this.clock.now();
    const validUntil = toDate(pass.valid_until);
    const status = pass.status === 'revoked' ? 'revoked' : now >= validUntil ? 'expired' : 'active';
    let qr: VisitorPassView['qr'] = null;
    if (status === 'active') {
      const claims = passClaims(
        { id: pass.id, campusId: pass.campus_id, validFrom: toDate(pass.valid_from), validUntil },
        now,
        this.rotateSeconds,
      );
      qr = { payload: signPassPayload(claims, this.privateKey), expiresAt: new Date(claims.e * 1000).toISOString() };
    }
    return {
      shortCode: pass.short_code,
      qr,
      rotateSeconds: this.rotateSeconds,
      validFrom: iso(pass.valid_from),
      validUntil: iso(pass.valid_until),
      campus: { id: pass.campus_id, name: ctx.campusName },
      plateNumber: pass.plate_number,
      status,
    };
  }

  /**
   * The gate check, in this order: format and signature, QR freshness, pass exists, revocation, campus,
   * window. A typed short code skips the first two. Details are shown (masked) only once the pass is known
   * from an authentic, fresh payload or an existing code.
   */
  async verify(input: { payload?: string; code?: string; campusId: number }): Promise<VerifyResult> {
    let ctx: PassContext | undefined;
    if (input.payload !== undefined && input.payload !== '') {
      const check = verifyPassPayload(input.payload, this.publicKey, this.clock.now(), this.rotateSeconds);
      if (!check.ok) return { valid: false, reason: check.reason, reasonText: REASON_TEXT[check.reason] };
      ctx = await this.load({ passId: check.claims.p });
      // A signed payload whose pass is gone (purged by retention) or no longer matches is treated as unknown.
      if (ctx && ctx.pass.campus_id !== check.claims.c) ctx = undefined;
    } else if (input.code !== undefined && input.code !== '') {
      const code = normaliseShortCode(input.code);
      ctx = code ? await this.load({ shortCode: code }) : undefined;
    } else {
      throw badRequest('PASS_INPUT_REQUIRED', '请扫描二维码或输入通行码');
    }
    if (!ctx) return { valid: false, reason: 'UNKNOWN_CODE', reasonText: REASON_TEXT.UNKNOWN_CODE };

    const [lastEvent, watchWarning] = await Promise.all([
      this.lastEvent(ctx.pass.id),
      this.watchWarning?.({ idNumberBidx: ctx.idNumberBidx, name: ctx.visitorName, organisation: ctx.organisation, plate: ctx.pass.plate_number }) ?? null,
    ]);
    const problem = this.checkUsable(ctx, input.campusId, this.clock.now());
    return {
      valid: problem === null,
      ...(problem ? { reason: problem.reason } : {}),
      reasonText: problem ? problem.text : VALID_TEXT,
      ...(problem?.params ? { reasonParams: problem.params } : {}),
      pass: this.gateDetails(ctx),
      ...(lastEvent ? { lastEvent: { kind: lastEvent.kind, at: lastEvent.at } } : {}),
      ...(watchWarning ? { watchWarning } : {}),
    };
  }

  /**
   * Records an entry or exit. Entry needs a pass usable right now at this campus (the verify rules). Exit
   * only needs the right campus: a visitor whose pass expired or was revoked while inside must still be let
   * out and recorded. A second entry without an exit (or an exit without an entry) is recorded with a
   * warning rather than refused: visitors leave by gates that do not record, and blocking a valid pass at
   * the gate over missing bookkeeping is worse than a flagged record; verify shows the last event.
   *
   * `gateId`: the gate of the campus the guard stands at (a campus without gates records none). The event and
   * the pass's presence row (pass_presence: inside while the latest event is an entry) are written together.
   * `onlyIfInside`: refuse (409 VISITOR_NOT_ON_CAMPUS) unless the visitor is inside, judged under the pass's
   * lock, so an exit recorded from the on-campus list cannot race a scan at the gate into an exit without entry.
   * `within` runs in the same transaction after the event is written (the audit entry of such an exit).
   */
  async record(
    passId: number,
    kind: PassEventKind,
    guardId: number,
    campusId: number,
    options: {
      gateId?: number | null;
      onlyIfInside?: boolean;
      within?: (trx: Knex.Transaction, result: RecordResult, inside: PresenceRow | undefined) => Promise<void>;
    } = {},
  ): Promise<RecordResult> {
    const ctx = Number.isSafeInteger(passId) ? await this.load({ passId }) : undefined;
    if (!ctx) throw notFound('PASS_NOT_FOUND', '通行码不存在');
    const gateId = options.gateId ?? null;
    if (gateId !== null) await this.checkGate(gateId, campusId);
    const now = this.clock.now();
    const problem =
      kind === 'entry' ? this.checkUsable(ctx, campusId, now) : this.checkCampus(ctx, campusId);
    if (problem) throw new AppError(409, 'PASS_NOT_VALID', problem.text, { reason: problem.reason, ...problem.params });

    return this.knex.transaction(async (trx) => {
      // Serialises events of one pass, so that two guards recording at once see each other's event.
      await trx('passes').where({ id: ctx.pass.id }).forUpdate().first('id');
      const inside: PresenceRow | undefined = await trx('pass_presence').where({ pass_id: ctx.pass.id }).first();
      if (options.onlyIfInside && !inside) throw conflict('VISITOR_NOT_ON_CAMPUS', '该访客已不在校内（可能已在门岗登记离校），请刷新列表');
      const last = await this.lastEvent(ctx.pass.id, trx);
      // The visited department rides along (reports count entries per department without joining back), and the
      // application keeps its first entry (the no-show report reads it from the application's own index).
      const [row] = await trx('pass_events')
        .insert({
          pass_id: ctx.pass.id,
          kind,
          guard_id: guardId,
          campus_id: campusId,
          gate_id: gateId,
          department_id: trx.raw('(select department_id from applications where id = ?)', [ctx.pass.application_id]),
          at: now,
        })
        .returning('*');
      await this.keepPresence(trx, ctx.pass.id);
      if (kind === 'entry') await trx('applications').where({ id: ctx.pass.application_id }).whereNull('entered_at').update({ entered_at: now });
      const result: RecordResult = { event: eventView(row) };
      if (kind === 'entry' && last?.kind === 'entry') {
        result.warning = { code: 'ENTRY_WITHOUT_EXIT', message: '该访客上次入校后未登记离校，已记录本次入校' };
      } else if (kind === 'exit' && last?.kind !== 'entry') {
        result.warning = { code: 'EXIT_WITHOUT_ENTRY', message: '该访客没有入校记录，已记录本次离校' };
      }
      if (options.within) await options.within(trx, result, inside);
      return result;
    });
  }

  /**
   * Makes the pass's presence row say what its latest event says (an entry: inside since then, at that gate;
   * an exit or none: not inside). Read back rather than assumed from the event just written: with a clock that
   * stepped back the new event is not the latest one.
   */
  private async keepPresence(trx: Knex.Transaction, passId: number): Promise<void> {
    const latest = await trx('pass_events')
      .where({ pass_id: passId })
      .orderBy([{ column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }])
      .first('id', 'kind', 'campus_id', 'gate_id', 'at');
    if (latest?.kind === 'entry') {
      const pass = await trx('passes').where({ id: passId }).first('campus_id', 'valid_until');
      await trx('pass_presence')
        .insert({
          pass_id: passId,
          event_id: latest.id,
          campus_id: latest.campus_id ?? pass.campus_id,
          gate_id: latest.gate_id ?? null,
          entered_at: latest.at,
          valid_until: pass.valid_until,
        })
        .onConflict('pass_id')
        .merge();
    } else {
      await trx('pass_presence').where({ pass_id: passId }).delete();
    }
  }

  /** The gate must be an active gate of the campus the event is recorded at. */
  private async checkGate(gateId: number, campusId: number): Promise<void> {
    const gate = Number.isSafeInteger(gateId) ? await this.knex('gates').where({ id: gateId }).first('campus_id', 'active') : undefined;
    if (!gate?.active) throw badRequest('GATE_NOT_FOUND', '所选门岗不存在或已停用', [{ field: 'gateId', message: '所选门岗不存在或已停用' }]);
    if (gate.campus_id !== campusId) {
      throw badRequest('GATE_NOT_IN_CAMPUS', '所选门岗不属于所在校区', [{ field: 'gateId', message: '所选门岗不属于所在校区' }]);
    }
  }

  private checkCampus(ctx: PassContext, campusId: number): Check {
    if (ctx.pass.campus_id !== campusId) {
      return { reason: 'WRONG_CAMPUS', text: `${REASON_TEXT.WRONG_CAMPUS}（适用校区：${ctx.campusName}）`, params: { campus: ctx.campusName } };
    }
    return null;
  }

  private checkUsable(ctx: PassContext, campusId: number, now: Date): Check {
    const { pass } = ctx;
    if (pass.status !== 'active') return { reason: 'REVOKED', text: REASON_TEXT.REVOKED };
    const campus = this.checkCampus(ctx, campusId);
    if (campus) return campus;
    const opensAt = toDate(pass.valid_from).getTime() - this.earlyEntryMinutes * 60_000;
    if (now.getTime() < opensAt) {
      return {
        reason: 'NOT_YET_VALID',
        text: `${REASON_TEXT.NOT_YET_VALID}（最早可提前${this.earlyEntryMinutes}分钟入校）`,
        params: { earlyMinutes: this.earlyEntryMinutes },
      };
    }
    if (now.getTime() >= toDate(pass.valid_until).getTime()) return { reason: 'EXPIRED', text: REASON_TEXT.EXPIRED };
    return null;
  }

  private gateDetails(ctx: PassContext): GatePassDetails {
    return {
      id: ctx.pass.id,
      visitorName: ctx.visitorName,
      organisation: ctx.organisation,
      idNumber: ctx.idNumberMasked,
      mobile: ctx.mobileMasked,
      plateNumber: ctx.pass.plate_number,
      validFrom: iso(ctx.pass.valid_from),
      validUntil: iso(ctx.pass.valid_until),
      campus: { id: ctx.pass.campus_id, name: ctx.campusName },
      flowNumber: ctx.flowNumber,
      ...(ctx.applicantName !== null ? { companionOf: ctx.applicantName } : {}),
    };
  }

  private async lastEvent(passId: number, db: Knex = this.knex) {
    const row = await db('pass_events').where({ pass_id: passId }).orderBy([{ column: 'at', order: 'desc' }, { column: 'id', order: 'desc' }]).first();
    return row ? { kind: row.kind as PassEventKind, at: iso(row.at) } : undefined;
  }

  // Only masked identifier columns are selected: the clear values are never decrypted on this path. A companion's
  // pass (group visit) carries the companion's name and identifiers; the organisation is the applicant's.
  private async load(by: { passId?: number; applicationId?: number; shortCode?: string; linkTokenHash?: string }): Promise<PassContext | undefined> {
    const k = this.knex;
    const q = k('passes')
      .join('applications', 'applications.id', 'passes.application_id')
      .join('visitors', 'visitors.id', 'applications.visitor_id')
      .join('campuses', 'campuses.id', 'passes.campus_id')
      .leftJoin('application_companions as companions', 'companions.id', 'passes.companion_id')
      .first(
        'passes.*',
        'campuses.name as campus_name',
        'applications.visitor_id as visitor_id_',
        'applications.flow_number as flow_number_',
        k.raw('coalesce(companions.name, visitors.name) as visitor_name_'),
        'visitors.organisation as organisation_',
        k.raw('coalesce(companions.id_number_masked, visitors.id_number_masked) as id_number_masked_'),
        k.raw('coalesce(companions.id_number_bidx, visitors.id_number_bidx) as id_number_bidx_'),
        k.raw('coalesce(companions.mobile_masked, visitors.mobile_masked) as mobile_masked_'),
        k.raw('case when companions.id is null then null else visitors.name end as applicant_name_'),
      );
    if (by.passId !== undefined) q.where('passes.id', by.passId);
    else if (by.applicationId !== undefined) q.where('passes.application_id', by.applicationId).whereNull('passes.companion_id');
    else if (by.shortCode !== undefined) q.where('passes.short_code', by.shortCode);
    else if (by.linkTokenHash !== undefined) q.where('passes.link_token_hash', by.linkTokenHash);
    else return undefined;
    const row = await q;
    if (!row) return undefined;
    const {
      campus_name,
      visitor_id_,
      flow_number_,
      visitor_name_,
      organisation_,
      id_number_masked_,
      id_number_bidx_,
      mobile_masked_,
      applicant_name_,
      ...pass
    } = row;
    return {
      pass: pass as PassRow,
      campusName: campus_name,
      visitorId: visitor_id_,
      visitorName: visitor_name_,
      organisation: organisation_,
      idNumberMasked: id_number_masked_,
      idNumberBidx: id_number_bidx_,
      mobileMasked: mobile_masked_,
      flowNumber: flow_number_,
      applicantName: applicant_name_ ?? null,
    };
  }
}

function eventView(row: any): PassEventView {
  return {
    id: Number(row.id),
    passId: row.pass_id,
    kind: row.kind,
    at: iso(row.at),
    campusId: row.campus_id ?? null,
    gateId: row.gate_id ?? null,
    guardId: row.guard_id ?? null,
  };
}

/**
 * The columns every new pass takes from its application (the applicant's and each companion's alike): a new
 * short code, the campus, the window and the plate; revoked at once when the application can no longer lead to
 * a visit.
 */
function newPassFields(
  app: { campus_id: number; window_start: Date | string; window_end: Date | string; plate_number?: string | null },
  closed: boolean,
  now: Date,
) {
  return {
    short_code: generateShortCode(),
    campus_id: app.campus_id,
    valid_from: app.window_start,
    valid_until: app.window_end,
    plate_number: app.plate_number ?? null,
    status: closed ? 'revoked' : 'active',
    revoked_at: closed ? now : null,
    created_at: now,
  };
}
