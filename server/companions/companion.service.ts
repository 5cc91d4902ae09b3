import type { Knex } from 'knex';
import type { Clock } from '../../engine-adapter/clock.ts';
import { DEFAULT_SETTINGS, type SettingsService } from '../admin/settings.service.ts';
import { type FieldCrypto, maskIdNumber, maskMobile } from '../crypto/field-crypto.ts';
import { dateString } from '../applications/application.model.ts';
import { AppError, badRequest, conflict, notFound } from '../errors.ts';
import type { FormComponent, FormSchema } from '../forms/form.validator.ts';
import { linkTokenHash, newLinkToken, type PassService } from '../passes/pass.service.ts';
import type { SmsOutbox } from '../tasks/task.service.ts';
import { normaliseMobile, parseResidentId, residentIdMessages } from '../visitors/resident-id.ts';
import type { Visitor } from '../visitors/visitor.model.ts';
import type { WatchHit } from '../watchlist/watchlist.model.ts';
import {
  type CheckedCompanion,
  COMPANION_FIELDS,
  COMPANIONS_GROUP,
  type CompanionRow,
  type CompanionView,
  MAX_COMPANIONS,
} from './companion.model.ts';

export interface CompanionDeps {
  knex: Knex;
  clock: Clock;
  fieldCrypto: FieldCrypto;
  passes: PassService;
  sms: SmsOutbox & { wake?(): void; canSend(template: string): Promise<boolean> };
  settings: SettingsService;
  /** The application's timeline (ApplicationService.addEvent), written in the caller's transaction. */
  addEvent: (trx: Knex, applicationId: number, event: { kind: string; title: string; actor?: string | null }) => Promise<void>;
  /** The watch-list check of the companions (server/watchlist); without it nobody is checked. */
  watchCheck?: (applicantId: number, companions: Array<{ index: number; name: string; idNumberBidx: string }>) => Promise<WatchHit | null>;
  renderTemplate: (template: string, vars: Record<string, string | number | undefined>) => string;
  publicUrl: string;
  universityName: string;
}

/** The group of an application as the applicant and staff see it: his pass's state and each companion's. */
export interface GroupView {
  applicantPass: CompanionView['pass'];
  companions: CompanionView[];
}

/**
 * How often the applicant may send a companion's link again: each send is an SMS the university pays for, and a
 * loop of them would be a nuisance to the companion's phone.
 */
export const LINK_RESEND = { minIntervalSeconds: 60, maxPerPass: 5 } as const;

/** A companion's link could not be sent again now: too soon after the last one, or too many already. */
export class LinkResendThrottledError extends AppError {
  constructor(code: 'COMPANION_LINK_TOO_SOON' | 'COMPANION_LINK_LIMIT', message: string, details: Record<string, number>) {
    super(429, code, message, details);
  }
}

/** The dedupe key of a companion link's SMS: the first send, and each one sent again (1, 2, ...). */
const linkSmsKey = (passId: number, resend?: number) => (resend ? `companion-pass:${passId}:resend:${resend}` : `companion-pass:${passId}`);

const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');

/**
 * The companions of a group visit: checked at submission like a visitor's registration (ID number with its check
 * digit, mobile), stored encrypted, checked against the watch list, and each given a pass and an SMS link to it
 * when the application is approved.
 */
export class CompanionService {
  constructor(private readonly deps: CompanionDeps) {}

  /** The form's companions grid, if the form (as the administrator left it) has one. */
  component(schema: FormSchema): FormComponent | undefined {
    let found: FormComponent | undefined;
    const walk = (components: FormComponent[] | undefined) => {
      for (const c of components ?? []) {
        if (found) return;
        if (c.type === 'datagrid' && (c.properties?.group === COMPANIONS_GROUP || c.key === COMPANIONS_GROUP)) found = c;
        else {
          walk(c.components);
          for (const col of c.columns ?? []) walk(col.components);
        }
      }
    };
    walk(schema.components);
    return found;
  }

  /**
   * The input with an empty companions list where none was sent: Form.io fills a missing grid with one blank row
   * and then requires its fields, so an applicant who comes alone would be refused (a grid added in the form
   * builder may lack the shipped form's `defaultValue: []`).
   */
  withoutMissingRows(schema: FormSchema, input: Record<string, unknown>): Record<string, unknown> {
    const grid = this.component(schema);
    return grid && (input[grid.key] === undefined || input[grid.key] === null) ? { ...input, [grid.key]: [] } : input;
  }

  /**
   * The companions of a validated submission, each checked; every problem is reported with its field path
   * (companions[1].idNumber) and the first one's code. Empty rows (added and left blank) are dropped.
   */
  check(schema: FormSchema, data: Record<string, unknown>, visitor: Pick<Visitor, 'id_number_bidx'>): CheckedCompanion[] {
    const grid = this.component(schema);
    if (!grid) return [];
    const raw = data[grid.key];
    if (raw === undefined || raw === null || raw === '') return [];
    if (!Array.isArray(raw)) throw badRequest('FORM_INVALID', '同行人员格式不正确', [{ field: grid.key, message: '同行人员格式不正确' }]);
    const rows = raw.map((r, index) => ({ index, row: r && typeof r === 'object' ? (r as Record<string, unknown>) : {} }));
    const filled = rows.filter(({ row }) => Object.values(COMPANION_FIELDS).some((k) => text(row[k]) !== ''));
    const formMax = Number(grid.validate?.maxLength);
    const limit = Number.isInteger(formMax) && formMax > 0 ? Math.min(formMax, MAX_COMPANIONS) : MAX_COMPANIONS;
    if (filled.length > limit) {
      const message = `同行人员最多${limit}人`;
      throw badRequest('COMPANIONS_TOO_MANY', message, [{ field: grid.key, message, max: limit }]);
    }
    const problems: Array<{ code: string; field: string; message: string }> = [];
    const problem = (code: string, index: number, field: string, message: string) =>
      problems.push({ code, field: `${grid.key}[${index}].${field}`, message });
    const checked: CheckedCompanion[] = [];
    const seen = new Map<string, number>();
    const now = this.deps.clock.now();
    for (const { index, row } of filled) {
      const name = text(row[COMPANION_FIELDS.name]).replace(/\s+/g, ' ');
      if (!name) problem('COMPANION_NAME_INVALID', index, COMPANION_FIELDS.name, '请填写同行人员姓名');
      else if ([...name].length > 50) problem('COMPANION_NAME_INVALID', index, COMPANION_FIELDS.name, '姓名不能超过50个字');
      const id = parseResidentId(text(row[COMPANION_FIELDS.idNumber]), now);
      let bidx: string | undefined;
      if (typeof id === 'string') {
        problem('COMPANION_ID_INVALID', index, COMPANION_FIELDS.idNumber, residentIdMessages[id]);
      } else {
        bidx = this.deps.fieldCrypto.blindIndex('id', id.value);
        if (bidx === visitor.id_number_bidx) {
          problem('COMPANION_IS_APPLICANT', index, COMPANION_FIELDS.idNumber, '同行人员不能是申请人本人');
        } else if (seen.has(bidx)) {
          problem('COMPANION_DUPLICATE', index, COMPANION_FIELDS.idNumber, `与第${seen.get(bidx)! + 1}位同行人员的身份证号重复`);
        } else {
          seen.set(bidx, index);
        }
      }
      const mobile = normaliseMobile(text(row[COMPANION_FIELDS.mobile]));
      if (!mobile) problem('COMPANION_MOBILE_INVALID', index, COMPANION_FIELDS.mobile, '请填写正确的11位手机号');
      if (name && [...name].length <= 50 && typeof id !== 'string' && bidx && mobile) {
        checked.push({ position: index, name, idNumber: id.value, idNumberBidx: bidx, mobile });
      }
    }
    if (problems.length) {
      const details = problems.map(({ field, message }) => ({ field, message }));
      throw badRequest(problems[0].code, problems[0].message, details);
    }
    // Positions are the rows as the form showed them, so that a later message can name "the 2nd companion".
    return checked.map((c, i) => ({ ...c, position: i }));
  }

  /** What the application's form data keeps of the companions: names and masked identifiers, never the clear ones. */
  maskedData(checked: CheckedCompanion[]) {
    return checked.map((c) => ({
      [COMPANION_FIELDS.name]: c.name,
      [COMPANION_FIELDS.idNumber]: maskIdNumber(c.idNumber),
      [COMPANION_FIELDS.mobile]: maskMobile(c.mobile),
    }));
  }

  /** The watch-list check of every companion (throws the neutral refusal on a `refuse` hit). */
  async watch(applicantId: number, checked: CheckedCompanion[]): Promise<WatchHit | null> {
    if (!checked.length || !this.deps.watchCheck) return null;
    return this.deps.watchCheck(
      applicantId,
      checked.map((c) => ({ index: c.position, name: c.name, idNumberBidx: c.idNumberBidx })),
    );
  }

  /** Stores the companions of a new application, in the transaction that inserts it. */
  async insert(trx: Knex, applicationId: number, checked: CheckedCompanion[]): Promise<void> {
    if (!checked.length) return;
    const { fieldCrypto, clock } = this.deps;
    const now = clock.now();
    await trx('application_companions').insert(
      checked.map((c) => ({
        application_id: applicationId,
        position: c.position,
        name: c.name,
        id_number_enc: fieldCrypto.encrypt(c.idNumber),
        id_number_bidx: c.idNumberBidx,
        id_number_masked: maskIdNumber(c.idNumber),
        mobile_enc: fieldCrypto.encrypt(c.mobile),
        mobile_masked: maskMobile(c.mobile),
        created_at: now,
      })),
    );
  }

  /**
   * The group of an application as one column of another query (ApplicationService.view makes one round trip):
   * masked identifiers only, with each person's pass state.
   */
  column(knex: Knex, applicationId: number | Knex.Raw): Knex.Raw {
    const passState = (p: string, pp: string) =>
      `case when ${p}.id is null then null else json_build_object('status', ${p}.status, 'validUntil', ${p}.valid_until, 'onCampus', ${pp}.pass_id is not null) end`;
    return knex.raw(
      `json_build_object(
        'applicantPass', (select ${passState('p', 'pp')} from passes p left join pass_presence pp on pp.pass_id = p.id
                          where p.application_id = ? and p.companion_id is null),
        'companions', (select coalesce(json_agg(json_build_object('position', c.position, 'name', c.name, 'idNumber', c.id_number_masked,
                          'mobile', c.mobile_masked, 'pass', ${passState('p', 'pp')}) order by c.position), '[]'::json)
                       from application_companions c left join passes p on p.companion_id = c.id left join pass_presence pp on pp.pass_id = p.id
                       where c.application_id = ?))`,
      [applicationId, applicationId],
    );
  }

  /** The value of column() as the API shows it. */
  fromJson(value: unknown): GroupView {
    const parsed = (typeof value === 'string' ? JSON.parse(value) : value) as { applicantPass: any; companions: any[] } | null;
    const now = this.deps.clock.now().getTime();
    const pass = (p: any): CompanionView['pass'] =>
      p ? { status: p.status === 'revoked' ? 'revoked' : new Date(p.validUntil).getTime() <= now ? 'expired' : 'active', onCampus: Boolean(p.onCampus) } : null;
    return {
      applicantPass: pass(parsed?.applicantPass),
      companions: (parsed?.companions ?? []).map((c) => ({ position: c.position, name: c.name, idNumber: c.idNumber, mobile: c.mobile, pass: pass(c.pass) })),
    };
  }

  /**
   * After the applicant's pass (the issue-pass job): a pass for each companion and an SMS with the link to it, in
   * one transaction per run, since the link's token exists only until the SMS is queued. A job delivered again
   * finds every companion with a pass and sends nothing.
   */
  async issuePasses(applicationId: number): Promise<number> {
    const { knex, sms } = this.deps;
    // Every approval runs this and few are group visits: one indexed read decides before the settings read and the
    // transaction, which used to run for every approval.
    const waiting = await knex('application_companions as c')
      .where('c.application_id', applicationId)
      .whereNotExists(knex('passes').select(knex.raw('1')).whereRaw('passes.companion_id = c.id'))
      .first('c.id');
    if (!waiting) return 0;
    const templates = { ...DEFAULT_SETTINGS.smsTemplates, ...(await this.deps.settings.get('smsTemplates')) };
    const sent = await knex.transaction(async (trx) => {
      const issued = await this.deps.passes.issueForCompanions(trx, applicationId);
      const active = issued.filter((i) => i.pass.status === 'active');
      if (!active.length) return 0;
      await this.queueLinks(
        trx,
        applicationId,
        templates.companionPass,
        active.map(({ pass, companionId, linkToken }) => ({ companionId, linkToken, dedupeKey: linkSmsKey(pass.id) })),
      );
      return active.length;
    });
    if (sent) sms.wake?.();
    return sent;
  }

  /** Queues the SMS with each companion's link, in the caller's transaction (the token exists only until then). */
  private async queueLinks(
    trx: Knex,
    applicationId: number,
    template: string,
    links: Array<{ companionId: number; linkToken: string; dedupeKey: string }>,
  ): Promise<void> {
    const { fieldCrypto, sms } = this.deps;
    const app = await trx('applications')
      .join('visitors', 'visitors.id', 'applications.visitor_id')
      .where('applications.id', applicationId)
      .first('applications.visit_date', 'applications.visit_start', 'applications.visit_end', 'applications.flow_number', 'visitors.name as applicant_name');
    const companions: CompanionRow[] = await trx('application_companions').whereIn(
      'id',
      links.map((l) => l.companionId),
    );
    const byId = new Map(companions.map((c) => [c.id, c]));
    for (const { companionId, linkToken, dedupeKey } of links) {
      const companion = byId.get(companionId)!;
      const params = {
        university: this.deps.universityName,
        name: companion.name,
        applicantName: app.applicant_name,
        visitDate: dateString(app.visit_date),
        visitTime: `${app.visit_start}-${app.visit_end}`,
        flowNumber: app.flow_number,
        link: `${this.deps.publicUrl}/?pass=${linkToken}`,
      };
      await sms.enqueue(trx, {
        dedupeKey,
        to: fieldCrypto.decrypt(companion.mobile_enc),
        template: 'companionPass',
        body: this.deps.renderTemplate(template, params),
        params,
        applicationId,
      });
    }
  }

  /**
   * The applicant sends a companion's pass link again (the SMS was lost or deleted, or the mobile was mistyped):
   * a new link, to the mobile given at submission or to `newMobile`, which then replaces it (stored as at
   * submission, the application's masked copy too); the old link stops opening the pass, so that only one usable
   * link exists at a time. At most once a minute and five times per pass (LINK_RESEND), counted from the outbox's
   * rows of this pass.
   */
  async resendLink(
    visitorId: number,
    applicationId: number,
    position: number,
    newMobile?: string,
  ): Promise<{ name: string; mobile: string; retryAfterSeconds: number }> {
    const { knex, clock, sms, fieldCrypto } = this.deps;
    let mobile: string | undefined;
    if (newMobile !== undefined && newMobile.trim() !== '') {
      mobile = normaliseMobile(newMobile.trim()) ?? undefined;
      if (!mobile) throw badRequest('COMPANION_MOBILE_INVALID', '请填写正确的11位手机号', [{ field: 'mobile', message: '请填写正确的11位手机号' }]);
    }
    // A position that is no row's (not a small whole number) still asks whose application it is: a stranger gets
    // the same answer for any position.
    const row = Number.isInteger(position) && position >= 0 && position < MAX_COMPANIONS ? position : -1;
    const found = await knex('applications as a')
      .leftJoin('application_companions as c', (j) => j.on('c.application_id', 'a.id').andOnVal('c.position', row))
      .leftJoin('passes as p', 'p.companion_id', 'c.id')
      .where({ 'a.id': applicationId, 'a.visitor_id': visitorId })
      .first('c.id as companion_id', 'c.name', 'c.mobile_enc', 'c.mobile_masked', 'p.id as pass_id', 'p.status as pass_status', 'p.valid_until');
    if (!found) throw notFound('APPLICATION_NOT_FOUND', '申请不存在');
    if (!found.companion_id) throw notFound('COMPANION_NOT_FOUND', '该申请没有这位同行人员');
    if (!found.pass_id) throw conflict('COMPANION_PASS_NOT_ISSUED', '申请审批通过后，才会向同行人员发送通行码链接');
    const now = clock.now();
    if (found.pass_status === 'revoked') throw conflict('COMPANION_PASS_NOT_VALID', '该同行人员的通行码已作废，不能重发链接');
    if (new Date(found.valid_until).getTime() <= now.getTime()) {
      throw conflict('COMPANION_PASS_NOT_VALID', '该同行人员的通行码已过期，不能重发链接');
    }
    if (!(await sms.canSend('companionPass'))) {
      throw conflict('COMPANION_LINK_SMS_UNAVAILABLE', '短信暂不能发送通行码链接，请联系到访单位');
    }
    const templates = { ...DEFAULT_SETTINGS.smsTemplates, ...(await this.deps.settings.get('smsTemplates')) };
    const corrected = mobile && mobile !== fieldCrypto.decrypt(found.mobile_enc) ? mobile : undefined;
    await knex.transaction(async (trx) => {
      // The pass row's lock puts two presses of the button (two tabs, two server processes) one after the other.
      await trx('passes').where({ id: found.pass_id }).forUpdate().first('id');
      const sent: Array<{ dedupe_key: string; created_at: Date }> = await trx('sms_outbox')
        .where({ application_id: applicationId, template: 'companionPass' })
        .where((q) => q.where('dedupe_key', linkSmsKey(found.pass_id)).orWhereLike('dedupe_key', `${linkSmsKey(found.pass_id)}:resend:%`))
        .select('dedupe_key', 'created_at');
      const resends = sent.filter((m) => m.dedupe_key !== linkSmsKey(found.pass_id)).length;
      if (resends >= LINK_RESEND.maxPerPass) {
        throw new LinkResendThrottledError(
          'COMPANION_LINK_LIMIT',
          `该同行人员的通行码链接已重发${LINK_RESEND.maxPerPass}次，不能再重发；如仍收不到短信，请联系到访单位`,
          { max: LINK_RESEND.maxPerPass },
        );
      }
      const last = Math.max(0, ...sent.map((m) => new Date(m.created_at).getTime()));
      const wait = Math.ceil((last + LINK_RESEND.minIntervalSeconds * 1000 - now.getTime()) / 1000);
      if (wait > 0) {
        throw new LinkResendThrottledError('COMPANION_LINK_TOO_SOON', `通行码链接刚刚发送过，请${wait}秒后再重发`, { retryAfterSeconds: wait });
      }
      const linkToken = newLinkToken();
      await trx('passes').where({ id: found.pass_id }).update({ link_token_hash: linkTokenHash(linkToken) });
      if (corrected) await this.correctMobile(trx, applicationId, { ...found, position: row }, corrected);
      await this.queueLinks(trx, applicationId, templates.companionPass, [
        { companionId: found.companion_id, linkToken, dedupeKey: linkSmsKey(found.pass_id, resends + 1) },
      ]);
      const title = corrected
        ? `已更正同行人员${found.name}的手机号（${maskMobile(corrected)}）并重发通行码链接`
        : `已向同行人员${found.name}重发通行码链接`;
      await this.deps.addEvent(trx, applicationId, { kind: 'companion-link', title });
    });
    sms.wake?.();
    return { name: found.name, mobile: corrected ? maskMobile(corrected) : found.mobile_masked, retryAfterSeconds: LINK_RESEND.minIntervalSeconds };
  }

  /**
   * A companion's new mobile, stored as at submission; the application's form data keeps its masked copy in the
   * companions grid row of the same position (the grid's key is the form's: the row is found by it).
   */
  private async correctMobile(
    trx: Knex,
    applicationId: number,
    companion: { companion_id: number; position: number; name: string; mobile_masked: string },
    mobile: string,
  ) {
    const { fieldCrypto } = this.deps;
    await trx('application_companions')
      .where({ id: companion.companion_id })
      .update({ mobile_enc: fieldCrypto.encrypt(mobile), mobile_masked: maskMobile(mobile) });
    const app = await trx('applications').where({ id: applicationId }).forUpdate().first('data');
    const data = (typeof app.data === 'string' ? JSON.parse(app.data) : app.data) as Record<string, unknown>;
    for (const value of Object.values(data)) {
      const row = Array.isArray(value) ? (value[companion.position] as Record<string, unknown> | undefined) : undefined;
      if (row && row[COMPANION_FIELDS.name] === companion.name && row[COMPANION_FIELDS.mobile] === companion.mobile_masked) {
        row[COMPANION_FIELDS.mobile] = maskMobile(mobile);
        await trx('applications').where({ id: applicationId }).update({ data: JSON.stringify(data) });
        return;
      }
    }
  }
}
