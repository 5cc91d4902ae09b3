import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { Actor, AuditService } from '../admin/audit.service.ts';
import { DEFAULT_SETTINGS, type SettingsService } from '../admin/settings.service.ts';
import { type Application, dateString } from '../applications/application.model.ts';
import type { ApplicationService } from '../applications/application.service.ts';
import { checkVisitWindow } from '../applications/visit-window.ts';
import type { Config } from '../config.ts';
import { type FieldCrypto, maskMobile } from '../crypto/field-crypto.ts';
import { Campus, Department, Staff } from '../directory/directory.model.ts';
import type { DirectoryService } from '../directory/directory.service.ts';
import { badRequest, conflict, forbidden, notFound } from '../errors.ts';
import { mapComponents } from '../forms/form.validator.ts';
import type { SmsOutbox } from '../tasks/task.service.ts';
import { normaliseMobile } from '../visitors/resident-id.ts';
import type { Visitor } from '../visitors/visitor.model.ts';

export type InvitationStatus = 'active' | 'used' | 'canceled' | 'expired';

export const INVITATION_STATUS_TEXT: Record<InvitationStatus, string> = {
  active: '待使用',
  used: '已使用',
  canceled: '已取消',
  expired: '已过期',
};

/** The form fields an invitation fixes (the default start form's keys; the application submit reads the same). */
const FIXED_KEYS = ['campusId', 'departmentId', 'hostName', 'hostMobile', 'visitDate', 'visitStartTime', 'visitEndTime'] as const;

export const invitationInput = z
  .object({
    visitorMobile: z.string({ error: '请填写访客手机号' }).max(20, '请输入正确的11位手机号'),
    visitorName: z.string().trim().max(50, '访客姓名最多 50 个字符').optional(),
    campusId: z.coerce.number().int().positive().optional(),
    departmentId: z.coerce.number().int().positive().optional(),
    visitDate: z.string({ error: '请选择到访日期' }).max(30),
    visitStartTime: z.string({ error: '请填写开始时间' }).max(10),
    visitEndTime: z.string({ error: '请填写结束时间' }).max(10),
    leaderStaffId: z.coerce.number({ error: '请选择审批的部门主管领导' }).int().positive('请选择审批的部门主管领导').max(2_147_483_647),
    note: z.string().trim().max(500, '备注最多 500 个字符').optional(),
  })
  .strict();

export const invitationListQuery = z.object({
  status: z.enum(['active', 'used', 'canceled', 'expired'], { error: '状态应为 active、used、canceled 或 expired' }).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
});

export const tokenBody = z.object({ token: z.string({ error: '邀请链接无效' }).max(200, '邀请链接无效') });
export const applyBody = tokenBody.extend({ data: z.record(z.string(), z.unknown(), { error: '申请内容格式不正确' }) });

interface InvitationRow {
  id: number;
  token_hash: string;
  host_staff_id: number;
  campus_id: number;
  department_id: number;
  leader_staff_id: number;
  visitor_mobile_enc: string;
  visitor_mobile_bidx: string;
  visitor_mobile_masked: string;
  visitor_name: string | null;
  visit_date: string | Date;
  visit_start: string;
  visit_end: string;
  window_start: Date;
  window_end: Date;
  note: string | null;
  status: 'active' | 'used' | 'canceled';
  used_at: Date | null;
  canceled_at: Date | null;
  created_at: Date;
}

const hashToken = (token: string) => crypto.createHash('sha256').update(token).digest('hex');
const invitationNotFound = () => notFound('INVITATION_NOT_FOUND', '邀请不存在或链接有误');

/**
 * Hosts' pre-invitations: a host names a visitor (by mobile), the window and the signing leader; the visitor
 * gets an SMS link, applies with the form fixed to the invitation, and the process skips the host review.
 * The link's token is 192 random bits, stored only as its hash, used once, dead at the window's end.
 */
export class InvitationService {
  constructor(
    private readonly deps: {
      knex: Knex;
      clock: Clock;
      config: Config;
      logger: Logger;
      fieldCrypto: FieldCrypto;
      directory: DirectoryService;
      applications: ApplicationService;
      settings: SettingsService;
      sms: SmsOutbox & { wake?(): void; canSend(template: string): Promise<boolean> };
      audit: AuditService;
      renderTemplate: (template: string, vars: Record<string, string | number | undefined>) => string;
      publicUrl: string;
      universityName: string;
    },
  ) {}

  private statusOf(row: Pick<InvitationRow, 'status' | 'window_end'>): InvitationStatus {
    if (row.status === 'active' && new Date(row.window_end).getTime() <= this.deps.clock.now().getTime()) return 'expired';
    return row.status;
  }

  /** What the host's invitation form offers: his department, its campus (with opening hours) and its leaders. */
  async options(staff: Actor & { departmentId: number | null }) {
    const { department, campus } = await this.ownDepartment(staff.departmentId);
    const leaders = await this.deps.directory.staffWithRole(department.id, 'leader');
    return {
      campus: { id: campus.id, name: campus.name, opensAt: campus.opens_at, closesAt: campus.closes_at },
      department: { id: department.id, name: department.name },
      leaders: leaders.map((l) => ({ id: l.id, name: l.name })),
    };
  }

  private async ownDepartment(departmentId: number | null) {
    const department = departmentId ? await Department.query(this.deps.knex).findById(departmentId) : undefined;
    const campus = department ? await Campus.query(this.deps.knex).findById(department.campus_id) : undefined;
    if (!department?.active || !campus?.active) {
      throw forbidden('INVITATION_DEPARTMENT_REQUIRED', '您的账号没有所属的有效单位，不能邀请访客');
    }
    return { department, campus };
  }

  async create(staff: Actor & { departmentId: number | null }, raw: unknown) {
    const { knex, clock, config, fieldCrypto } = this.deps;
    const input = invitationInput.parse(raw ?? {});
    const mobile = normaliseMobile(input.visitorMobile);
    if (!mobile) throw badRequest('INVITATION_MOBILE_INVALID', '请输入正确的11位访客手机号', [{ field: 'visitorMobile', message: '请输入正确的11位手机号' }]);
    // A host's review task is his because he is a host of the visited department: he invites to his own.
    const { department, campus } = await this.ownDepartment(staff.departmentId);
    if ((input.departmentId && input.departmentId !== department.id) || (input.campusId && input.campusId !== campus.id)) {
      throw badRequest('INVITATION_DEPARTMENT_NOT_OWN', '只能邀请访客到访您所在的单位', [{ field: 'departmentId', message: '只能邀请访客到访您所在的单位' }]);
    }
    const host = await Staff.query(knex).findById(staff.id);
    if (!host?.active || !host.roles.includes('host') || host.department_id !== department.id) {
      throw forbidden('ROLE_REQUIRED', '您没有执行此操作的权限');
    }
    const leaders = await this.deps.directory.staffWithRole(department.id, 'leader');
    const leader = leaders.find((l) => l.id === input.leaderStaffId);
    if (!leader) {
      throw badRequest('INVITATION_LEADER_INVALID', '请选择本单位的部门主管领导', [{ field: 'leaderStaffId', message: '请选择本单位的部门主管领导' }]);
    }
    const window = checkVisitWindow(campus, input, clock.now(), config.TIMEZONE);
    // Without a vendor template for it the visitor would never get the link: refuse now, not in the outbox.
    if (!(await this.deps.sms.canSend('invitation'))) {
      throw conflict('INVITATION_SMS_UNAVAILABLE', '短信服务未配置邀请短信模板，暂不能发送邀请，请联系管理员');
    }

    const token = crypto.randomBytes(24).toString('base64url');
    const now = clock.now();
    const templates = { ...DEFAULT_SETTINGS.smsTemplates, ...(await this.deps.settings.get('smsTemplates')) };
    const params = {
      university: this.deps.universityName,
      name: input.visitorName || '您好',
      hostName: host.name,
      campus: campus.name,
      department: department.name,
      visitDate: window.visitDate,
      visitTime: `${window.start}-${window.end}`,
      link: `${this.deps.publicUrl}/?invite=${token}`,
      // For a vendor template that holds the address itself (vendors refuse links in variables): only the token.
      token,
    };
    const row: InvitationRow = await knex.transaction(async (trx) => {
      const [inserted] = await trx('invitations')
        .insert({
          token_hash: hashToken(token),
          host_staff_id: host.id,
          campus_id: campus.id,
          department_id: department.id,
          leader_staff_id: leader.id,
          visitor_mobile_enc: fieldCrypto.encrypt(mobile),
          visitor_mobile_bidx: fieldCrypto.blindIndex('mobile', mobile),
          visitor_mobile_masked: maskMobile(mobile),
          visitor_name: input.visitorName || null,
          visit_date: window.visitDate,
          visit_start: window.start,
          visit_end: window.end,
          window_start: window.windowStart,
          window_end: window.windowEnd,
          note: input.note || null,
          status: 'active',
          created_at: now,
          updated_at: now,
        })
        .returning('*');
      await this.deps.sms.enqueue(trx, {
        dedupeKey: `invitation:${inserted.id}`,
        to: mobile,
        template: 'invitation',
        body: this.deps.renderTemplate(templates.invitation, params),
        params,
      });
      await this.deps.audit.record(trx, staff, {
        action: 'invitation.create',
        targetType: 'invitation',
        targetId: inserted.id,
        after: this.auditView(inserted),
      });
      return inserted;
    });
    this.deps.sms.wake?.();
    return (await this.views(this.listQuery(host.id).where('invitations.id', row.id)))[0];
  }

  private auditView(row: InvitationRow) {
    return {
      visitorMobile: row.visitor_mobile_masked,
      visitorName: row.visitor_name,
      campusId: row.campus_id,
      departmentId: row.department_id,
      leaderStaffId: row.leader_staff_id,
      visitDate: dateString(row.visit_date),
      visitStartTime: row.visit_start,
      visitEndTime: row.visit_end,
    };
  }

  private listQuery(hostId: number) {
    return this.deps
      .knex('invitations')
      .where('invitations.host_staff_id', hostId)
      .leftJoin('campuses', 'campuses.id', 'invitations.campus_id')
      .leftJoin('departments', 'departments.id', 'invitations.department_id')
      .leftJoin('staff as leader', 'leader.id', 'invitations.leader_staff_id')
      .leftJoin('applications', 'applications.invitation_id', 'invitations.id')
      .select(
        'invitations.*',
        'campuses.name as campus_name',
        'departments.name as department_name',
        'leader.name as leader_name',
        'applications.flow_number as application_flow_number',
        'applications.status as application_status',
      );
  }

  private async views(q: Knex.QueryBuilder) {
    const rows: Array<InvitationRow & Record<string, any>> = await q;
    return rows.map((r) => {
      const status = this.statusOf(r);
      return {
        id: r.id,
        status,
        statusText: INVITATION_STATUS_TEXT[status],
        visitorMobile: r.visitor_mobile_masked,
        visitorName: r.visitor_name,
        campus: { id: r.campus_id, name: r.campus_name },
        department: { id: r.department_id, name: r.department_name },
        leader: { id: r.leader_staff_id, name: r.leader_name },
        visitDate: dateString(r.visit_date),
        visitStartTime: r.visit_start,
        visitEndTime: r.visit_end,
        note: r.note,
        application: r.application_flow_number ? { flowNumber: r.application_flow_number, status: r.application_status } : null,
        createdAt: r.created_at,
        usedAt: r.used_at,
        canceledAt: r.canceled_at,
      };
    });
  }

  /** The visitor's view of an application made with an invitation. */
  view(app: Application) {
    return this.deps.applications.view(app, false);
  }

  /** A host's own invitations, newest first (nobody else's: another host's are not his business). */
  async list(staff: Actor, raw: unknown) {
    const q = invitationListQuery.parse(raw ?? {});
    const now = this.deps.clock.now();
    const filtered = () => {
      const base = this.listQuery(staff.id);
      if (q.status === 'expired') base.where('invitations.status', 'active').where('invitations.window_end', '<=', now);
      else if (q.status === 'active') base.where('invitations.status', 'active').where('invitations.window_end', '>', now);
      else if (q.status) base.where('invitations.status', q.status);
      return base;
    };
    const [{ n }] = await filtered().clearSelect().count({ n: '*' });
    const invitations = await this.views(
      filtered()
        .orderBy('invitations.id', 'desc')
        .limit(q.pageSize)
        .offset((q.page - 1) * q.pageSize),
    );
    return { invitations, total: Number(n), page: q.page, pageSize: q.pageSize };
  }

  /**
   * Cancels one of the host's own unused invitations (its link stops working at once) and tells the visitor, who
   * holds its SMS: `notice` says what became of it.
   * - `stopped`: the invitation's SMS had not left the outbox: it is deleted with its link, nothing else is sent;
   * - `sms`: the SMS `invitationCanceled` is queued in the same transaction;
   * - `unavailable`: the visitor has the invitation but the SMS vendor has no template for the cancellation
   *   (the host is told to let the visitor know himself);
   * - `none`: the invitation's SMS failed for good: the visitor never had it.
   */
  async cancel(staff: Actor, id: number) {
    const { knex, clock } = this.deps;
    const canNotify = await this.deps.sms.canSend('invitationCanceled');
    const templates = { ...DEFAULT_SETTINGS.smsTemplates, ...(await this.deps.settings.get('smsTemplates')) };
    const notice = await knex.transaction(async (trx): Promise<'stopped' | 'sms' | 'unavailable' | 'none'> => {
      const row: InvitationRow | undefined = await trx('invitations').where({ id, host_staff_id: staff.id }).forUpdate().first();
      if (!row) throw invitationNotFound();
      const status = this.statusOf(row);
      if (status !== 'active') throw conflict('INVITATION_NOT_CANCELABLE', `该邀请${INVITATION_STATUS_TEXT[status]}，不能取消`);
      const now = clock.now();
      await trx('invitations').where({ id }).update({ status: 'canceled', canceled_at: now, updated_at: now });
      await this.deps.audit.record(trx, staff, { action: 'invitation.cancel', targetType: 'invitation', targetId: id, before: this.auditView(row) });
      // A row being sent ('sending') is the sender's: the visitor may get it, so he is told.
      const stopped = await trx('sms_outbox').where({ dedupe_key: `invitation:${id}`, status: 'pending' }).delete();
      if (stopped) return 'stopped';
      const invitationSms = await trx('sms_outbox').where({ dedupe_key: `invitation:${id}` }).first('status');
      if (!invitationSms || invitationSms.status === 'failed') return 'none';
      if (!canNotify) return 'unavailable';
      const { hostName, campus, department, visitDate, visitStartTime, visitEndTime } = await this.summary(row, trx);
      const params = {
        university: this.deps.universityName,
        name: row.visitor_name || '您好',
        hostName: hostName ?? '',
        campus: campus?.name ?? '',
        department: department?.name ?? '',
        visitDate,
        visitTime: `${visitStartTime}-${visitEndTime}`,
      };
      await this.deps.sms.enqueue(trx, {
        dedupeKey: `invitation-canceled:${id}`,
        to: this.deps.fieldCrypto.decrypt(row.visitor_mobile_enc),
        template: 'invitationCanceled',
        body: this.deps.renderTemplate(templates.invitationCanceled, params),
        params,
      });
      return 'sms';
    });
    if (notice === 'sms') this.deps.sms.wake?.();
    return { invitation: (await this.views(this.listQuery(staff.id).where('invitations.id', id)))[0], notice };
  }

  /** The invitation a link's token opens, if it can still be used; the same refusal for every wrong token. */
  private async usable(token: unknown, knex: Knex = this.deps.knex): Promise<InvitationRow> {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{16,100}$/.test(token)) throw invitationNotFound();
    const row: InvitationRow | undefined = await knex('invitations').where({ token_hash: hashToken(token) }).first();
    if (!row) throw invitationNotFound();
    const status = this.statusOf(row);
    if (status === 'used') throw conflict('INVITATION_USED', '该邀请已使用，申请已提交；请在“我的申请”中查看进度');
    if (status === 'canceled') throw conflict('INVITATION_CANCELED', '该邀请已被接待人取消');
    if (status === 'expired') throw conflict('INVITATION_EXPIRED', '该邀请已过期（到访时间已过）');
    return row;
  }

  /** Who invites, where and when; `db` is the caller's transaction where it has one (PGlite has one connection). */
  private async summary(row: InvitationRow, db: Knex = this.deps.knex) {
    const [campus, department, host] = await Promise.all([
      Campus.query(db).findById(row.campus_id),
      Department.query(db).findById(row.department_id),
      Staff.query(db).findById(row.host_staff_id),
    ]);
    return {
      visitorMobile: row.visitor_mobile_masked,
      visitorName: row.visitor_name,
      hostName: host?.name ?? null,
      campus: campus ? { id: campus.id, name: campus.name } : null,
      department: department ? { id: department.id, name: department.name } : null,
      visitDate: dateString(row.visit_date),
      visitStartTime: row.visit_start,
      visitEndTime: row.visit_end,
      note: row.note,
    };
  }

  /** What the link shows before anyone logs in: who invites, where and when, and to which (masked) mobile. */
  async preview(raw: unknown) {
    const { token } = tokenBody.parse(raw ?? {});
    return { invitation: await this.summary(await this.usable(token)) };
  }

  private checkMobile(row: InvitationRow, visitor: Visitor) {
    if (visitor.mobile_bidx !== row.visitor_mobile_bidx) {
      throw forbidden(
        'INVITATION_MOBILE_MISMATCH',
        `该邀请发给手机号 ${row.visitor_mobile_masked}，请退出后用该手机号登记或登录`,
      );
    }
  }

  /** The values the invitation fixes on the form (the host's clear mobile only to pass the form's own check). */
  private async fixed(row: InvitationRow): Promise<{ fixed: Record<string, string>; shown: Record<string, string> }> {
    const host = await Staff.query(this.deps.knex).findById(row.host_staff_id);
    if (!host?.active) throw conflict('INVITATION_HOST_UNAVAILABLE', '邀请您的接待人已不能接待来访，请联系接待人重新邀请');
    const common = {
      campusId: String(row.campus_id),
      departmentId: String(row.department_id),
      hostName: host.name,
      visitDate: dateString(row.visit_date),
      visitStartTime: row.visit_start,
      visitEndTime: row.visit_end,
    };
    return {
      fixed: { ...common, hostMobile: this.deps.fieldCrypto.decrypt(host.mobile_enc) },
      shown: { ...common, hostMobile: host.mobile_masked },
    };
  }

  /** The start form for the invited visitor: the invitation's fields filled in and locked. */
  async form(visitor: Visitor, raw: unknown) {
    const { token } = tokenBody.parse(raw ?? {});
    const row = await this.usable(token);
    this.checkMobile(row, visitor);
    const { shown } = await this.fixed(row);
    const start = await this.deps.applications.startForm(visitor);
    const locked = new Set<string>(FIXED_KEYS);
    const form = {
      ...start.form,
      components: mapComponents(start.form.components, (c) =>
        // The server sets these whatever is sent: no browser-side rule may block the submission on them.
        locked.has(c.key) ? { ...c, defaultValue: shown[c.key], disabled: true, validate: {} } : c,
      ),
    };
    return { ...start, form, prefill: { ...start.prefill, ...shown }, invitation: await this.summary(row) };
  }

  /** Applies with the invitation: one application per invitation, host review skipped, the chosen leader signs. */
  async apply(visitor: Visitor, raw: unknown) {
    const { token, data } = applyBody.parse(raw ?? {});
    const row = await this.usable(token);
    this.checkMobile(row, visitor);
    const leaders = await this.deps.directory.staffWithRole(row.department_id, 'leader');
    if (!leaders.some((l) => l.id === row.leader_staff_id)) {
      throw conflict('INVITATION_LEADER_UNAVAILABLE', '邀请中指定的审批领导已不能审批，请联系接待人重新邀请');
    }
    const { fixed } = await this.fixed(row);
    const { clock } = this.deps;
    return this.deps.applications.submitInvited(visitor, data, {
      id: row.id,
      leaderStaffId: row.leader_staff_id,
      fixed,
      event: { kind: 'invited', title: '接待人预先邀请，免接待人审核', actor: fixed.hostName },
      claim: async (trx) => {
        const now = clock.now();
        // The conditional update is the single use: of two submissions with one token, the second finds no row.
        const claimed = await trx('invitations')
          .where({ id: row.id, status: 'active' })
          .where('window_end', '>', now)
          .update({ status: 'used', used_at: now, updated_at: now });
        if (!claimed) throw conflict('INVITATION_USED', '该邀请已使用，申请已提交；请在“我的申请”中查看进度');
      },
    });
  }
}
