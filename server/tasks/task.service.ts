import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import { TaskNotFoundError, type UserTask, type UserTaskCanceled, type WorkflowEngine } from '../../engine-adapter/contract.ts';
import type { SettingsService } from '../admin/settings.service.ts';
import type { ApplicationService } from '../applications/application.service.ts';
import { type AccessService, staffGroups } from '../auth/access.service.ts';
import type { FieldCrypto } from '../crypto/field-crypto.ts';
import { writeTogether } from '../db/one-statement.ts';
import { type Staff, STAFF_ROLES } from '../directory/directory.model.ts';
import type { DirectoryService } from '../directory/directory.service.ts';
import { badRequest, conflict, notFound } from '../errors.ts';
import type { FormService } from '../forms/form.service.ts';
import { type FormComponent, type FormSchema, dataComponents, mapComponents, validateSubmission } from '../forms/form.validator.ts';
import type { StaffPrincipal } from '../http/context.ts';
import { type Application, applicationFromJson, applicationJsonColumn, dateString } from '../applications/application.model.ts';
import type { Task } from './task.model.ts';

export interface SmsOutbox {
  enqueue(knex: Knex, msg: SmsMessage): Promise<boolean>;
  /** The insert of enqueue, not yet run: for a caller that writes it together with its own changes. */
  enqueueInsert(knex: Knex, msg: SmsMessage): Knex.QueryBuilder;
}

/** The WeChat notice outbox (server/wechat/wechat.notifier.ts): an insert to write with the task's notices. */
export interface WechatOutbox {
  /** Whether WeChat sends this notice now (on, with a template); read from the current settings. */
  sends(notice: 'taskAssigned'): Promise<boolean>;
  enqueueInsert(
    knex: Knex,
    msg: { dedupeKey: string; staffId: number; openId: string; notice: 'taskAssigned'; params: Record<string, string | number | undefined>; applicationId?: number },
  ): Knex.QueryBuilder | undefined;
}

type SmsMessage = { dedupeKey: string; to: string; template: string; body: string; params?: Record<string, string | number | undefined>; applicationId?: number };

export interface TaskListQuery {
  list: 'mine' | 'unclaimed' | 'done';
  status?: 'open' | 'completed' | 'canceled';
  campusId?: number;
  departmentId?: number;
  from?: string;
  to?: string;
  q?: string;
  page: number;
  pageSize: number;
}

/** The columns of view(), on a tasks query that has joined its applications. */
const withListColumns = (q: Knex.QueryBuilder) =>
  q
    .leftJoin('campuses', 'campuses.id', 'applications.campus_id')
    .leftJoin('departments', 'departments.id', 'applications.department_id')
    .leftJoin('visitors', 'visitors.id', 'applications.visitor_id')
    .select(
      'tasks.*',
      'applications.flow_number',
      'applications.visit_date',
      'applications.visit_start',
      'applications.visit_end',
      'applications.status as application_status',
      'campuses.name as campus_name',
      'departments.name as department_name',
      'visitors.name as visitor_name',
      'visitors.organisation as visitor_organisation',
    );

/** A task row with the application columns the list view shows, from rows already read. */
const taskRow = (task: Task, app?: Application) => ({
  ...task,
  flow_number: app?.flow_number,
  visit_date: app?.visit_date,
  visit_start: app?.visit_start,
  visit_end: app?.visit_end,
  application_status: app?.status,
});

const DECISION_TEXT: Record<string, string> = { approve: '同意', refuse: '否决' };
const MAX_NOTIFIED = 20;

/** The applicant as a task view shows them: masked numbers only. */
interface ShownVisitor {
  name: string;
  organisation: string;
  idNumber: string;
  mobile: string;
  gender: string;
}

/** The staff task list: a mirror of the engine's user tasks, with claims, drafts and completion. */
export class TaskService {
  constructor(
    private readonly deps: {
      knex: Knex;
      clock: Clock;
      logger: Logger;
      engine: WorkflowEngine;
      access: AccessService;
      forms: FormService;
      directory: DirectoryService;
      applications: ApplicationService;
      settings: SettingsService;
      sms: SmsOutbox;
      /** WeChat task notices beside the SMS, to staff with an openid, when WeChat is on. */
      wechat?: WechatOutbox;
      fieldCrypto: FieldCrypto;
      renderTemplate: (template: string, vars: Record<string, string | number | undefined>) => string;
      publicUrl: string;
      universityName: string;
    },
  ) {}

  /**
   * Engine event (at least once): store the task, tell the timeline, notify the assignee or the group.
   * No transaction: the task is stored first, then the timeline entry and the notices in one statement. A
   * redelivered event finds its task stored and writes that statement again, and the dedupe keys of the entry
   * and of each notice drop the copies, so a crash between the two loses nothing and sends nothing twice.
   */
  async onUserTaskCreated(task: UserTask): Promise<void> {
    const { knex, clock } = this.deps;
    const applicationId = Number(task.variables.applicationId) || null;
    const templates = await this.deps.settings.get('smsTemplates');
    const assigneeId = task.assignee && /^\d+$/.test(task.assignee) ? Number(task.assignee) : null;
    // The application and the assignee in one round trip: every flow makes two or three tasks, and a burst many.
    const read = await knex
      .select(
        applicationJsonColumn(knex, applicationId, 'application_row'),
        knex.raw('(select to_json(s) from staff s where s.id = ? and s.active) as assignee_row', [assigneeId]),
      )
      .first();
    const app = read?.application_row ? applicationFromJson(read.application_row) : undefined;
    const assignee: Staff | undefined = read?.assignee_row ?? undefined;
    const inserted = await knex('tasks')
      .insert({
        task_key: task.taskKey,
        instance_key: task.instanceKey,
        application_id: app?.id ?? null,
        element_id: task.elementId,
        name: task.name || task.elementId,
        form_key: task.formKey ?? null,
        assignee: task.assignee ?? null,
        candidate_groups: JSON.stringify(task.candidateGroups ?? []),
        candidate_users: JSON.stringify(task.candidateUsers ?? []),
        status: app && ['withdrawn'].includes(app.status) ? 'canceled' : 'open',
        // An assignee holds the task as if they had claimed it; unclaiming hands it to the candidate groups.
        claimed_by: assignee?.id ?? null,
        claimed_at: assignee ? clock.now() : null,
        due_at: task.dueDate ? new Date(task.dueDate) : null,
        campus_id: app?.campus_id ?? null,
        department_id: app?.department_id ?? null,
        created_at: clock.now(),
      })
      .onConflict('task_key')
      .ignore()
      .returning('id');
    if (!app) return; // a task of a process without application
    const taskId = inserted[0]?.id ?? (await knex('tasks').where({ task_key: task.taskKey }).first('id'))?.id;
    const writes = [
      this.deps.applications.eventInsert(knex, app.id, {
        kind: 'task-created',
        title: `待${task.name}${assignee ? `（${assignee.name}）` : ''}`,
        dedupeKey: `task-created:${task.taskKey}`,
      }),
    ];
    const recipients = assignee ? [assignee] : await this.groupMembers(knex, task.candidateGroups ?? [], task.candidateUsers ?? []);
    const wechatOn = (await this.deps.wechat?.sends('taskAssigned')) ?? false;
    for (const staff of recipients.slice(0, MAX_NOTIFIED)) {
      const params = {
        university: this.deps.universityName,
        staffName: staff.name,
        flowNumber: app.flow_number,
        visitDate: dateString(app.visit_date),
        link: `${this.deps.publicUrl}/staff/#/tasks/${taskId}`,
      };
      writes.push(
        this.deps.sms.enqueueInsert(knex, {
          dedupeKey: `task:${task.taskKey}:${staff.id}`,
          to: this.deps.fieldCrypto.decrypt(staff.mobile_enc),
          template: 'taskAssigned',
          body: this.deps.renderTemplate(templates.taskAssigned, params),
          params,
          applicationId: app.id,
        }),
      );
      const wechat =
        wechatOn &&
        staff.wechat_openid &&
        this.deps.wechat?.enqueueInsert(knex, {
          dedupeKey: `task:${task.taskKey}:${staff.id}`,
          staffId: staff.id,
          openId: staff.wechat_openid,
          notice: 'taskAssigned',
          params: { ...params, taskName: task.name || task.elementId, visitTime: `${String(app.visit_start).slice(0, 5)}-${String(app.visit_end).slice(0, 5)}` },
          applicationId: app.id,
        });
      if (wechat) writes.push(wechat);
    }
    await writeTogether(knex, writes);
  }

  async onUserTaskCanceled(event: UserTaskCanceled): Promise<void> {
    await this.deps.knex('tasks').where({ task_key: event.taskKey, status: 'open' }).update({ status: 'canceled' });
  }

  private async groupMembers(trx: Knex, groups: string[], users: string[]): Promise<Staff[]> {
    const members = new Map<number, Staff>();
    for (const group of groups) {
      let rows: Staff[] = [];
      const dept = /^dept-(\d+)$/.exec(group);
      const role = /^role-(\w+)$/.exec(group);
      // A department group notifies its hosts; the leaders are reached by name when a host picks one.
      if (dept) rows = await this.deps.directory.staffWithRole(Number(dept[1]), 'host', trx);
      else if (role && STAFF_ROLES.includes(role[1] as any)) {
        rows = await trx('staff').where({ active: true }).whereRaw('roles @> ?::jsonb', [JSON.stringify([role[1]])]);
      }
      for (const s of rows) members.set(s.id, s);
    }
    for (const u of users.filter((x) => /^\d+$/.test(x))) {
      const s = await trx('staff').where({ id: Number(u), active: true }).first();
      if (s) members.set(s.id, s);
    }
    return [...members.values()];
  }

  private baseQuery(staff: StaffPrincipal, query: Omit<TaskListQuery, 'page' | 'pageSize'>, list: TaskListQuery['list'], withApplications = false) {
    const { knex } = this.deps;
    const q = knex('tasks');
    // A count that no filter asks the application of is answered from the task indexes alone.
    if (withApplications || query.from || query.to || query.q) q.leftJoin('applications', 'applications.id', 'tasks.application_id');
    if (list === 'mine') q.where('tasks.status', 'open').where((w) => w.where('tasks.claimed_by', staff.id));
    else if (list === 'unclaimed') {
      q.where('tasks.status', 'open')
        .whereNull('tasks.claimed_by')
        .where((g) =>
          g
            .whereRaw('tasks.candidate_groups \\?| ?::text[]', [staffGroups(staff)])
            .orWhereRaw('tasks.candidate_users \\? ?', [String(staff.id)])
            .orWhere('tasks.assignee', String(staff.id)),
        );
    } else q.where('tasks.completed_by', staff.id);
    if (query.status) q.where('tasks.status', query.status);
    if (query.campusId) q.where('tasks.campus_id', query.campusId);
    if (query.departmentId) q.where('tasks.department_id', query.departmentId);
    if (query.from) q.where('applications.visit_date', '>=', query.from);
    if (query.to) q.where('applications.visit_date', '<=', query.to);
    if (query.q) q.where('applications.flow_number', 'like', `%${query.q.replace(/[%_\\]/g, '')}%`);
    return q;
  }

  async list(staff: StaffPrincipal, query: TaskListQuery) {
    // The three counts ride on the page's rows as uncorrelated subqueries (PostgreSQL runs each once): the list is
    // polled by every reviewer, and this makes it one round trip; a page without rows asks for them apart.
    const countOf = (list: TaskListQuery['list']) => this.baseQuery(staff, list === query.list ? query : { list }, list).count('*').as(`count_${list}`);
    const counts = [countOf('mine'), countOf('unclaimed'), countOf('done')];
    const found: any[] = await withListColumns(this.baseQuery(staff, query, query.list, true))
      .select(counts)
      // Open work is served oldest first (a queue); what I did, newest first.
      .orderBy(query.list === 'done' ? 'tasks.completed_at' : 'tasks.created_at', query.list === 'done' ? 'desc' : 'asc')
      .orderBy('tasks.id', query.list === 'done' ? 'desc' : 'asc')
      .limit(query.pageSize)
      .offset((query.page - 1) * query.pageSize);
    const n = found[0] ?? (await this.deps.knex.select(counts).first());
    const count = { mine: Number(n.count_mine), unclaimed: Number(n.count_unclaimed), done: Number(n.count_done) };
    return { tasks: found.map((r) => this.view(r)), total: count[query.list], page: query.page, pageSize: query.pageSize, counts: count };
  }

  private view(r: any) {
    return {
      id: r.id,
      name: r.name,
      elementId: r.element_id,
      formKey: r.form_key,
      status: r.status,
      assignee: r.assignee,
      claimedBy: r.claimed_by,
      createdAt: r.created_at,
      completedAt: r.completed_at,
      dueAt: r.due_at,
      result: r.result ?? null,
      application: r.application_id
        ? {
            id: r.application_id,
            flowNumber: r.flow_number,
            status: r.application_status,
            visitorName: r.visitor_name,
            organisation: r.visitor_organisation,
            campus: r.campus_name,
            department: r.department_name,
            visitDate: r.visit_date ? dateString(r.visit_date) : null,
            visitStartTime: r.visit_start,
            visitEndTime: r.visit_end,
          }
        : null,
    };
  }

  /** A task the staff member may see; anything else is "not found" (its existence is not revealed). */
  private async visibleTask(staff: StaffPrincipal, id: number, groupClaimed = false): Promise<Task> {
    const row = await this.visibleTaskQuery(staff, id, groupClaimed).first('tasks.*');
    if (!row) throw notFound('TASK_NOT_FOUND', '待办不存在');
    return row as Task;
  }

  /**
   * visibleTask with its application, read in the same statement (the task view and completion need both); with
   * `withVisitor`, also the applicant's shown (masked) fields, which the task view shows.
   */
  private async visibleTaskWithApplication(
    staff: StaffPrincipal,
    id: number,
    options: { groupClaimed?: boolean; withVisitor?: boolean } = {},
  ): Promise<{ task: Task; app?: Application; visitor?: ShownVisitor }> {
    const { knex } = this.deps;
    const columns = ['tasks.*', applicationJsonColumn(knex, knex.raw('??', ['tasks.application_id']), 'application_row')];
    if (options.withVisitor)
      columns.push(
        knex.raw(
          "(select json_build_object('name', v.name, 'organisation', v.organisation, 'idNumber', v.id_number_masked, 'mobile', v.mobile_masked, 'gender', v.gender) " +
            'from applications a join visitors v on v.id = a.visitor_id where a.id = tasks.application_id) as visitor_row',
        ),
      );
    const row = await this.visibleTaskQuery(staff, id, options.groupClaimed ?? false).first(...columns);
    if (!row) throw notFound('TASK_NOT_FOUND', '待办不存在');
    const { application_row: appRow, visitor_row: visitor, ...taskColumns } = row;
    return { task: taskColumns as Task, app: appRow ? applicationFromJson(appRow) : undefined, visitor: visitor ?? undefined };
  }

  private visibleTaskQuery(staff: StaffPrincipal, id: number, groupClaimed: boolean): Knex.QueryBuilder {
    if (!Number.isInteger(id) || id <= 0) throw notFound('TASK_NOT_FOUND', '待办不存在');
    const q = this.deps.knex('tasks').where('tasks.id', id);
    return staff.roles.includes('admin') ? q : this.deps.access.visibleTasks(q, staff, 'tasks', groupClaimed);
  }

  private async formFor(task: Task, app: Application | undefined) {
    if (!task.form_key || !app?.process_definition_key) return { app, schema: null as FormSchema | null, leaders: [] as Staff[] };
    const form = await this.deps.forms.forProcess(app.process_definition_key, task.form_key);
    // Only a form that offers the department's leaders (the host's review) needs them read.
    const offersLeaders = dataComponents(form.schema.components).some((c) => c.properties?.source === 'leaders');
    const leaders = offersLeaders ? await this.deps.directory.staffWithRole(app.department_id, 'leader') : [];
    const schema: FormSchema = {
      ...form.schema,
      components: mapComponents(form.schema.components, (c: FormComponent) =>
        c.properties?.source === 'leaders'
          ? { ...c, dataSrc: 'values', data: { values: leaders.map((l) => ({ label: l.name, value: String(l.id) })) } }
          : c,
      ),
    };
    return { app, schema, leaders };
  }

  async get(staff: StaffPrincipal, id: number) {
    const { task, app: read, visitor } = await this.visibleTaskWithApplication(staff, id, { withVisitor: true });
    const { app, schema, leaders } = await this.formFor(task, read);
    const application = app ? await this.deps.applications.view(app, true) : null;
    const [notice, stockOpinions] = await Promise.all([
      this.deps.settings.get('reviewNotice'),
      this.deps.settings.get('stockOpinions'),
    ]);
    return {
      task: { ...this.view(taskRow(task, app)), draft: task.draft },
      form: schema,
      application: application && {
        ...application,
        watchHit: app?.watch_hit ?? null,
        visitor,
      },
      attachments: application && 'attachments' in application ? application.attachments : [],
      notice,
      stockOpinions,
      leaders: leaders.map((l) => ({ id: l.id, name: l.name })),
    };
  }

  /**
   * The short answer to claim, unclaim, draft and complete: the task as the list shows it, in one query (the
   * full task view costs a dozen and the pages reload it anyway).
   */
  async summary(staff: StaffPrincipal, id: number) {
    let q = withListColumns(this.deps.knex('tasks').leftJoin('applications', 'applications.id', 'tasks.application_id')).where('tasks.id', id);
    // Completed by me stays visible to me (the "done" list), as it does there.
    if (!staff.roles.includes('admin')) q = this.deps.access.visibleTasks(q, staff, 'tasks');
    const row = await q.first();
    if (!row) throw notFound('TASK_NOT_FOUND', '待办不存在');
    return { task: { ...this.view(row), draft: row.draft ?? null } };
  }

  async claim(staff: StaffPrincipal, id: number) {
    return this.take(staff, await this.visibleTask(staff, id, true));
  }

  private async take(staff: StaffPrincipal, task: Task) {
    if (task.status !== 'open') throw conflict('TASK_NOT_OPEN', '该待办已处理或已取消');
    if (task.claimed_by === staff.id) return task;
    // One statement decides the race: only a still unclaimed open task is taken.
    const now = this.deps.clock.now();
    const updated = await this.deps
      .knex('tasks')
      .where({ id: task.id, status: 'open' })
      .whereNull('claimed_by')
      .update({ claimed_by: staff.id, claimed_at: now });
    if (updated !== 1) throw conflict('TASK_ALREADY_CLAIMED', '该待办已被他人认领');
    task.claimed_by = staff.id;
    task.claimed_at = now;
    return task;
  }

  async unclaim(staff: StaffPrincipal, id: number) {
    const task = await this.visibleTask(staff, id);
    if (task.status !== 'open') throw conflict('TASK_NOT_OPEN', '该待办已处理或已取消');
    if (task.claimed_by !== staff.id) throw conflict('TASK_NOT_CLAIMED_BY_YOU', '只能退回自己认领的待办');
    await this.deps.knex('tasks').where({ id: task.id, claimed_by: staff.id }).update({ claimed_by: null, claimed_at: null });
  }

  async saveDraft(staff: StaffPrincipal, id: number, data: Record<string, unknown>) {
    const { task, app } = await this.visibleTaskWithApplication(staff, id);
    if (task.status !== 'open') throw conflict('TASK_NOT_OPEN', '该待办已处理或已取消');
    const { schema } = await this.formFor(task, app);
    const keys = new Set(schema ? dataComponents(schema.components).map((c) => c.key) : []);
    const draft = Object.fromEntries(Object.entries(data ?? {}).filter(([k]) => keys.has(k)));
    await this.deps.knex('tasks').where({ id: task.id }).update({ draft: JSON.stringify(draft) });
  }

  async complete(staff: StaffPrincipal, id: number, input: Record<string, unknown>) {
    const { knex, clock, engine } = this.deps;
    const visible = await this.visibleTaskWithApplication(staff, id, { groupClaimed: true });
    let task = visible.task;
    if (task.status !== 'open') throw conflict('TASK_NOT_OPEN', '该待办已处理或已取消');
    if (task.claimed_by !== null && task.claimed_by !== staff.id) throw conflict('TASK_ALREADY_CLAIMED', '该待办已被他人认领');
    if (task.claimed_by === null) task = await this.take(staff, task);

    const { app, schema } = await this.formFor(task, visible.app);
    let data: Record<string, unknown> = {};
    if (schema) {
      const result = validateSubmission(schema, input ?? {});
      if (result.errors.length) throw badRequest('FORM_INVALID', result.errors[0].message, result.errors);
      data = result.data;
      // Options that come from the directory must be one of those offered (never trust the browser).
      for (const c of dataComponents(schema.components)) {
        if (!c.properties?.source || data[c.key] === undefined || data[c.key] === '') continue;
        const allowed = (c.data?.values ?? []).map((v) => String(v.value));
        if (!allowed.includes(String(data[c.key]))) {
          const leader = c.properties.source === 'leaders';
          throw badRequest(leader ? 'LEADER_NOT_ALLOWED' : 'OPTION_NOT_ALLOWED', leader ? '只能选择本单位的主管领导' : `${c.label ?? c.key}不是可选的值`, [
            { field: c.key, message: leader ? '只能选择本单位的主管领导' : '不是可选的值' },
          ]);
        }
        data[c.key] = String(data[c.key]);
      }
    }
    try {
      await engine.completeUserTask(task.task_key, data);
    } catch (err) {
      if (err instanceof TaskNotFoundError) {
        await knex('tasks').where({ id: task.id, status: 'open' }).update({ status: 'canceled' });
        throw conflict('TASK_NOT_OPEN', '该待办已处理或已取消');
      }
      throw err;
    }
    // The task, the timeline and the chosen leader change together: one statement, no transaction round trips.
    const writes = [
      knex('tasks')
        .where({ id: task.id })
        .update({ status: 'completed', completed_by: staff.id, completed_at: clock.now(), result: JSON.stringify(data), draft: null }),
    ];
    if (app) {
      const decision = typeof data.decision === 'string' ? DECISION_TEXT[data.decision] ?? data.decision : '已处理';
      writes.push(
        this.deps.applications.eventInsert(knex, app.id, {
          kind: 'task-completed',
          title: `${task.name}：${decision}`,
          actor: staff.name,
          opinion: typeof data.opinion === 'string' ? data.opinion : null,
          dedupeKey: `task-completed:${task.task_key}`,
        }),
      );
      if (data.leaderStaffId) writes.push(knex('applications').where({ id: app.id }).update({ leader_staff_id: Number(data.leaderStaffId) }));
    }
    await writeTogether(knex, writes);
  }
}
