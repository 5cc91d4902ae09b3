import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { CompanionService } from '../companions/companion.service.ts';
import type { WorkflowEngine } from '../../engine-adapter/contract.ts';
import type { DeploymentService } from '../admin/deployment.service.ts';
import type { Config } from '../config.ts';
import type { DirectoryService } from '../directory/directory.service.ts';
import { AppError, badRequest, conflict, notFound } from '../errors.ts';
import type { FormService } from '../forms/form.service.ts';
import { type FormComponent, mapComponents, validateSubmission } from '../forms/form.validator.ts';
import { campusDate } from '../shared/campus-time.ts';
import { RateMeter } from '../shared/rate-meter.ts';
import { uploadIdsFromFormValue } from '../uploads/upload.service.ts';
import type { Visitor } from '../visitors/visitor.model.ts';
import type { WatchHit } from '../watchlist/watchlist.model.ts';
import { Application, type ApplicationStatus, dateString, STATUS_TEXT } from './application.model.ts';
import { checkVisitWindow } from './visit-window.ts';

/** What other modules do when an application changes; passed in to keep this module free of them. */
export interface ApplicationHooks {
  linkUploads(trx: Knex, visitorId: number, uploadIds: string[], applicationId: number): Promise<void>;
  /** An application's uploads read inside another query: a column, and the attachments from its value. */
  uploads: {
    /** applicationId: the id, or a reference to the id column of the enclosing query. */
    column(knex: Knex, applicationId: number | Knex.Raw): Knex.Raw;
    fromJson(value: unknown): Array<{ id: string; name: string; mime: string; size: number; url: string }>;
  };
  revokePass(trx: Knex, applicationId: number): Promise<void>;
  /**
   * The watch-list check (server/watchlist): throws the neutral refusal for a `refuse` hit, returns the
   * `review` hits the application keeps, or null. Optional so that a service built without it accepts all.
   */
  watchCheck?(visitor: Visitor, plate: string | null): Promise<WatchHit | null>;
  /**
   * Group visits (server/companions): the start form's companions are checked, watched and stored with the
   * application. Optional: without it a companions grid is ignored like any other field.
   */
  companions?: Pick<CompanionService, 'component' | 'withoutMissingRows' | 'check' | 'maskedData' | 'watch' | 'insert' | 'column' | 'fromJson'>;
}

/** A host's pre-invitation a visitor applies with (server/invitations): what it fixes, and its claim. */
export interface InvitedVisit {
  id: number;
  leaderStaffId: number;
  /**
   * Form values the invitation fixes, whatever the visitor sent (campus, department, host, window). The host's
   * mobile is among them in clear only to pass the form's own check; the application keeps it masked.
   */
  fixed: Record<string, string>;
  /**
   * Marks the invitation used in the submission's transaction, before the insert (a second submission then
   * waits on the invitation's row and is refused, instead of failing on the unique invitation_id); throws when
   * another submission used it first.
   */
  claim(trx: Knex): Promise<void>;
  /** The timeline entry that tells how the application came. */
  event: TimelineEvent;
}

export interface TimelineEvent {
  kind: string;
  title: string;
  actor?: string | null;
  opinion?: string | null;
  dedupeKey?: string;
  at?: Date;
}

const WITHDRAWABLE: ApplicationStatus[] = ['submitted', 'pending', 'approved'];
const STARTS_AT_ONCE = 4;
const BATCH = 20;
/**
 * Submissions per second (in this server process) from which bookings count as a rush: far above ordinary
 * traffic (a busy campus takes a few per minute), reached when bookings open at a fixed hour.
 */
const RUSH_PER_SECOND = 40;
/** During a rush, instance starts wait this long between small batches. */
const RUSH_HOLD_MS = 1000;
const RUSH_STEP_MS = 50;

/** Accepts, stores and follows visit applications; the engine drives them through the process. */
export class ApplicationService {
  private starting: Promise<void> | null = null;
  private startAgain = false;
  /** Submissions accepted per second: while it is a rush, the starter holds back (accept first). */
  private readonly accepted = new RateMeter();

  constructor(
    private readonly deps: {
      knex: Knex;
      clock: Clock;
      config: Config;
      logger: Logger;
      engine: WorkflowEngine;
      forms: FormService;
      deployments: DeploymentService;
      directory: DirectoryService;
      hooks: ApplicationHooks;
    },
  ) {}

  private get processId() {
    return this.deps.config.VISIT_PROCESS_ID;
  }

  /** The start form of the process version new applications run, with options and server-filled values. */
  async startForm(visitor: Visitor) {
    const deployment = await this.deps.deployments.latest(this.processId);
    if (!deployment.startFormKey) throw new AppError(500, 'START_FORM_MISSING', '流程未配置申请表单');
    const form = await this.deps.forms.forProcess(deployment.processDefinitionKey, deployment.startFormKey);
    const { campuses, departments } = await this.deps.directory.activeCampusesAndDepartments();
    const known = this.prefill(visitor);
    const prefill: Record<string, string> = {};
    const schema = {
      ...form.schema,
      components: mapComponents(form.schema.components, (c) => {
        const filled = c.properties?.serverFilled;
        if (filled && filled in known) {
          prefill[c.key] = known[filled];
          return { ...c, defaultValue: known[filled], disabled: true };
        }
        if (c.properties?.source === 'campuses') {
          return { ...c, dataSrc: 'values', data: { values: campuses.map((x) => ({ label: x.name, value: String(x.id) })) } };
        }
        if (c.properties?.source === 'departments') {
          return { ...c, dataSrc: 'values', data: { values: departments.map((x) => ({ label: x.name, value: String(x.id) })) } };
        }
        return c;
      }),
    };
    return {
      form: schema,
      formKey: form.formKey,
      formVersion: form.version,
      processId: deployment.processId,
      processVersion: deployment.version,
      prefill,
      campuses: campuses.map((c) => ({ id: c.id, name: c.name, opensAt: c.opens_at, closesAt: c.closes_at })),
      departments: departments.map((d) => ({ id: d.id, campusId: d.campus_id, name: d.name })),
    };
  }

  private prefill(visitor: Visitor): Record<string, string> {
    // Keys are what a form names in properties.serverFilled.
    return {
      today: campusDate(this.deps.clock.now(), this.deps.config.TIMEZONE),
      'visitor.name': visitor.name,
      'visitor.organisation': visitor.organisation,
      'visitor.account': visitor.mobile_masked,
      'visitor.idNumberMasked': visitor.id_number_masked,
      'visitor.gender': visitor.gender === 'M' ? '男' : '女',
      'visitor.phoneMasked': visitor.mobile_masked,
    };
  }

  /**
   * Validates against the pinned start form and the domain rules, stores the application and returns at once;
   * the instance is started by the background starter (accept first, let the engine drain a burst).
   */
  async submit(visitor: Visitor, input: Record<string, unknown>) {
    this.accepted.hit();
    return this.accept(visitor, input);
  }

  /** submit() for a visitor a host invited: the invitation's fields win, and it is used up with the insert. */
  async submitInvited(visitor: Visitor, input: Record<string, unknown>, invited: InvitedVisit): Promise<Application> {
    this.accepted.hit();
    return (await this.accept(visitor, input, invited)).application;
  }

  /** The stored application and the visitor's view of it (made from what the checks read: no read after the insert). */
  private async accept(visitor: Visitor, input: Record<string, unknown>, invited?: InvitedVisit) {
    const { config, clock, knex } = this.deps;
    const deployment = await this.deps.deployments.latest(this.processId);
    const form = await this.deps.forms.forProcess(deployment.processDefinitionKey, deployment.startFormKey!);
    const sent = { ...(input ?? {}), ...invited?.fixed };
    const { data, errors } = validateSubmission(form.schema, this.deps.hooks.companions?.withoutMissingRows(form.schema, sent) ?? sent);
    if (errors.length) throw badRequest('FORM_INVALID', errors[0].message, errors);

    // Fields the server fills are set here, whatever the client sent (Form.io does not protect disabled fields).
    const prefill = this.prefill(visitor);
    const walk = (components: FormComponent[]) =>
      mapComponents(components, (c) => {
        const key = c.properties?.serverFilled;
        if (key && key in prefill) data[c.key] = prefill[key];
        return c;
      });
    walk(form.schema.components);

    const campusId = Number(data.campusId);
    const departmentId = Number(data.departmentId);
    const { campus, department, host } = await this.deps.directory.submissionTargets(
      campusId,
      departmentId,
      String(data.hostName ?? ''),
      String(data.hostMobile ?? ''),
    );
    if (!campus?.active) throw badRequest('CAMPUS_NOT_FOUND', '所选校区不存在', [{ field: 'campusId', message: '所选校区不存在' }]);
    if (!department?.active || department.campus_id !== campus.id) {
      throw badRequest('DEPARTMENT_NOT_IN_CAMPUS', '所选单位不属于该校区', [{ field: 'departmentId', message: '所选单位不属于该校区' }]);
    }
    if (!host) {
      throw badRequest('HOST_NOT_FOUND', '接待人姓名或手机号与该单位登记的接待人不符', [
        { field: 'hostName', message: '接待人姓名或手机号与该单位登记的接待人不符' },
      ]);
    }

    const { visitDate, start, end, windowStart, windowEnd } = checkVisitWindow(campus, data, clock.now(), config.TIMEZONE);
    const group = this.deps.hooks.companions;
    const grid = group?.component(form.schema);
    const companions = grid ? group!.check(form.schema, data, visitor) : [];
    const plate = typeof data.plateNumber === 'string' && data.plateNumber.trim() ? data.plateNumber.trim().toUpperCase() : null;
    const uploadIds = uploadIdsFromFormValue(data.attachments);
    // Last of the checks, so that a listed visitor's refusal looks like no other answer to a valid application.
    const watchHit = mergeWatchHits(
      this.deps.hooks.watchCheck ? await this.deps.hooks.watchCheck(visitor, plate) : null,
      companions.length ? await group!.watch(visitor.id, companions) : null,
    );

    const now = clock.now();
    // VF + campus date + a sequence number, made by the insert itself (one round trip less per submission).
    const flowNumber = knex.raw("? || lpad(nextval('application_flow_seq')::text, 6, '0')", [`VF${campusDate(now, config.TIMEZONE).replaceAll('-', '')}`]);
    // hostMobile is a staff member's number: the application keeps the staff id, not the number.
    const { hostMobile: _dropped, ...kept } = data;
    // Companions are kept in their own table, encrypted: the form data holds their names and masked numbers only.
    if (grid && kept[grid.key] !== undefined) kept[grid.key] = group!.maskedData(companions);
    const insert = (db: Knex) =>
      db('applications')
        .insert({
          flow_number: flowNumber,
          visitor_id: visitor.id,
          campus_id: campus.id,
          department_id: department.id,
          host_staff_id: host.id,
          visit_date: visitDate,
          visit_start: start,
          visit_end: end,
          window_start: windowStart,
          window_end: windowEnd,
          plate_number: plate,
          watch_hit: watchHit ? JSON.stringify(watchHit) : null,
          ...(invited ? { invitation_id: invited.id, leader_staff_id: invited.leaderStaffId } : {}),
          // Attachments are kept as our own upload ids, never the urls or names the browser sent.
          data: JSON.stringify({ ...kept, hostMobile: host.mobile_masked, ...(data.attachments !== undefined ? { attachments: uploadIds } : {}) }),
          status: 'submitted',
          process_id: deployment.processId,
          process_version: deployment.version,
          process_definition_key: deployment.processDefinitionKey,
          form_key: form.formKey,
          form_version: form.version,
          created_at: now,
          updated_at: now,
        })
        .returning('*');
    const submitted = { kind: 'submitted', title: '提交申请', actor: visitor.name, at: now };
    let row: any;
    if (uploadIds.length || companions.length || invited) {
      // Linking checks each upload (and may refuse the submission), companions go to their own table, the
      // invitation is used once: a transaction.
      row = await knex.transaction(async (trx) => {
        if (invited) await invited.claim(trx);
        const [inserted] = await insert(trx);
        if (invited) await this.addEvent(trx, inserted.id, { ...invited.event, at: now });
        if (uploadIds.length) await this.deps.hooks.linkUploads(trx, visitor.id, uploadIds, inserted.id);
        if (companions.length) await group!.insert(trx, inserted.id, companions);
        await this.addEvent(trx, inserted.id, submitted);
        return inserted;
      });
    } else {
      // The application and its first timeline entry in one statement (accepting is the hot path of a rush).
      row = await knex
        .with('app', insert(knex))
        .with(
          'event',
          knex.raw('insert into application_events (application_id, at, kind, title, actor) select id, ?, ?, ?, ? from app', [
            submitted.at,
            submitted.kind,
            submitted.title,
            submitted.actor,
          ]),
        )
        .select('*')
        .from('app')
        .first();
    }
    const application = row as Application;
    this.kickStarter();
    const around = { campus: { id: campus.id, name: campus.name }, department: { id: department.id, name: department.name }, host_name: host.name };
    return { application, view: this.present(application, around, false) };
  }

  /** Starts the process for accepted applications, in the background; safe to call often. */
  kickStarter(): void {
    if (this.starting) {
      this.startAgain = true;
      return;
    }
    this.starting = (async () => {
      try {
        do {
          this.startAgain = false;
          while ((await this.startBatch((await this.holdBackDuringRush()) ? STARTS_AT_ONCE : BATCH)) > 0);
        } while (this.startAgain);
      } catch (err) {
        this.deps.logger.error({ err }, 'starting applications failed; recoverStaleStarts releases their claims');
      } finally {
        this.starting = null;
      }
    })();
  }

  /**
   * Accept first: during a rush (bookings just opened) starting an instance costs the CPU that accepting a
   * submission needs, so starts wait up to RUSH_HOLD_MS and then go in a small batch: hosts still get tasks,
   * submissions keep a short answer, and the backlog drains at full speed once the rush is over.
   * Returns whether the rush is still on.
   */
  private async holdBackDuringRush(): Promise<boolean> {
    for (let waited = 0; waited < RUSH_HOLD_MS; waited += RUSH_STEP_MS) {
      if (this.accepted.perSecond() < RUSH_PER_SECOND) return false;
      await new Promise((resolve) => setTimeout(resolve, RUSH_STEP_MS));
    }
    return this.accepted.perSecond() >= RUSH_PER_SECOND;
  }

  /** Waits for the background starter (tests and benchmarks). */
  async drainStarter(): Promise<void> {
    while (this.starting) await this.starting;
  }

  async startBatch(limit: number): Promise<number> {
    const { knex, engine } = this.deps;
    // Claim rows so that several server processes share the backlog without starting one twice: one statement
    // (the row locks of the subquery hold until the update's end), no transaction round trips.
    const due = knex('applications')
      .select('id')
      .where({ status: 'submitted' })
      .whereNull('instance_key')
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked();
    const claimed: Application[] = await knex('applications')
      .whereIn('id', due)
      .update({ instance_key: knex.raw("'starting:' || id"), updated_at: this.deps.clock.now() })
      .returning('*');
    claimed.sort((a, b) => a.id - b.id);
    // A few starts at a time: each holds a pooled connection while bpmn-engine runs, and during a burst the
    // requests that accept new applications need those connections more (accept first, drain later).
    const start = async (app: Application) => {
      const { instanceKey } = await engine.start(
        app.process_id,
        {
          applicationId: String(app.id),
          flowNumber: app.flow_number,
          hostStaffId: String(app.host_staff_id),
          departmentGroup: `dept-${app.department_id}`,
          campusId: String(app.campus_id),
          departmentId: String(app.department_id),
          visitDate: dateString(app.visit_date),
          // The default flow routes listed visitors to the security office's review (gateway watch-decision).
          watchHit: Boolean(app.watch_hit),
          // A host's pre-invitation skips the host review (gateway invited-decision) and names the leader who signs.
          invitedByHost: Boolean(app.invitation_id),
          ...(app.invitation_id ? { leaderStaffId: String(app.leader_staff_id) } : {}),
        },
        { version: app.process_version ?? undefined },
      );
      // The instance may have moved the status on already (a fast first job): the key is recorded whatever it is.
      await knex('applications')
        .where({ id: app.id })
        .update({
          instance_key: instanceKey,
          status: knex.raw("case when status = 'submitted' then 'pending' else status end"),
          updated_at: this.deps.clock.now(),
        });
    };
    // As with all of them started at once: one failure does not stop the others, and is reported afterwards.
    let next = 0;
    let failure: { err: unknown } | undefined;
    const lane = async () => {
      for (let app = claimed[next++]; app; app = claimed[next++]) {
        try {
          await start(app);
        } catch (err) {
          failure ??= { err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STARTS_AT_ONCE, claimed.length) }, lane));
    if (failure) throw failure.err;
    return claimed.length;
  }

  /**
   * Start claims that outlived START_CLAIM_TIMEOUT_MS: the process that claimed died (or its start failed) between the
   * claim and recording the instance. An application whose instance did start (it made a task) gets that
   * instance's key; the others are released and the starter starts them. Without this such an application stayed
   * 'submitted' for ever (found by the chaos bench). Cheap and rare: run every half minute, not per start.
   */
  async recoverStaleStarts(): Promise<number> {
    const { knex, clock } = this.deps;
    const before = new Date(clock.now().getTime() - this.deps.config.START_CLAIM_TIMEOUT_MS);
    const stale = () => knex('applications').where({ status: 'submitted' }).where('instance_key', 'like', 'starting:%').where('updated_at', '<', before);
    const rows: Array<{ id: number }> = await stale().select('id').orderBy('id').limit(100);
    for (const { id } of rows) {
      const task = await knex('tasks').where({ application_id: id }).orderBy('id').first('instance_key');
      await stale()
        .where({ id })
        .update(task ? { instance_key: task.instance_key, status: 'pending', updated_at: clock.now() } : { instance_key: null });
    }
    if (rows.length) this.deps.logger.warn({ applications: rows.map((r) => r.id) }, 'start claims left by a stopped process recovered');
    return rows.length;
  }

  async addEvent(trx: Knex, applicationId: number, event: TimelineEvent): Promise<void> {
    await this.eventInsert(trx, applicationId, event);
  }

  /** The insert of a timeline event, not yet run: for a caller that writes it together with its own changes. */
  eventInsert(knex: Knex, applicationId: number, event: TimelineEvent): Knex.QueryBuilder {
    const q = knex('application_events').insert({
      application_id: applicationId,
      at: event.at ?? this.deps.clock.now(),
      kind: event.kind,
      title: event.title,
      actor: event.actor ?? null,
      opinion: event.opinion ?? null,
      dedupe_key: event.dedupeKey ?? null,
    });
    return event.dedupeKey ? q.onConflict('dedupe_key').ignore() : q;
  }

  /**
   * Called by the process (application-status worker); idempotent.
   * Sets a final status and tells the timeline; a withdrawn application keeps its status. One statement: the
   * status and its timeline entry change together, and a job delivered again finds the entry there already
   * (its dedupe key) and leaves it single.
   */
  async setStatus(knex: Knex, applicationId: number, status: ApplicationStatus, opinion: string | null, dedupeKey: string) {
    const now = this.deps.clock.now();
    const updated = knex('applications')
      .where({ id: applicationId })
      .whereNot({ status: 'withdrawn' })
      .update({ status, last_opinion: opinion, decided_at: now, updated_at: now })
      .returning('id');
    await knex
      .with('updated', updated)
      .insert(
        knex
          .select(knex.raw('id, ?::timestamptz, ?, ?, ?, ?', [now, status, STATUS_TEXT[status], opinion, dedupeKey]))
          .from('updated'),
      )
      .into(knex.raw('application_events (application_id, at, kind, title, opinion, dedupe_key)'))
      .onConflict('dedupe_key')
      .ignore();
  }

  async listForVisitor(visitorId: number) {
    const apps = await this.withViewColumns(false).where({ visitor_id: visitorId }).orderBy('id', 'desc').limit(200);
    return apps.map((a) => this.present(a, a, false));
  }

  async getForVisitor(visitorId: number, id: number) {
    const app: (Application & Record<string, any>) | undefined = Number.isInteger(id)
      ? await this.withViewColumns(true).where({ 'applications.id': id, visitor_id: visitorId }).first()
      : undefined;
    if (!app) throw notFound('APPLICATION_NOT_FOUND', '申请不存在');
    return this.present(app, app, true);
  }

  async find(id: number) {
    return Application.query(this.deps.knex).findById(id);
  }

  async withdraw(visitorId: number, id: number) {
    const { knex, engine, clock } = this.deps;
    const app = Number.isInteger(id) ? await Application.query(knex).findOne({ id, visitor_id: visitorId }) : undefined;
    if (!app) throw notFound('APPLICATION_NOT_FOUND', '申请不存在');
    if (!WITHDRAWABLE.includes(app.status) || (app.status === 'approved' && app.window_end <= clock.now())) {
      throw conflict('APPLICATION_NOT_WITHDRAWABLE', `该申请${STATUS_TEXT[app.status]}，不能撤回`);
    }
    await knex.transaction(async (trx) => {
      const locked = await Application.query(trx).findById(id).forUpdate();
      if (!locked || !WITHDRAWABLE.includes(locked.status)) {
        throw conflict('APPLICATION_NOT_WITHDRAWABLE', '该申请当前不能撤回');
      }
      await Application.query(trx).patch({ status: 'withdrawn', updated_at: clock.now() }).where({ id });
      await trx('tasks').where({ application_id: id, status: 'open' }).update({ status: 'canceled' });
      await this.deps.hooks.revokePass(trx, id);
      await this.addEvent(trx, id, { kind: 'withdrawn', title: '访客撤回申请' });
    });
    if (app.instance_key && !app.instance_key.startsWith('starting:') && app.status !== 'approved') {
      try {
        await engine.cancel(app.instance_key);
      } catch (err) {
        // the instance may have ended meanwhile; the application is withdrawn either way
        this.deps.logger.warn({ err, applicationId: id }, 'cancel after withdrawal failed');
      }
    }
    return this.getForVisitor(visitorId, id);
  }

  /** The API view of an application; identifiers stay masked. */
  async view(app: Application, detailed: boolean) {
    const { knex } = this.deps;
    // One round trip for everything around the application: views are polled by every waiting visitor.
    const row = await knex.select(this.viewColumns((name) => knex.raw('?', [app[name]]), detailed, app.status)).first();
    return this.present(app, row, detailed);
  }

  /**
   * Applications of a visitor read with their view's columns in the same statement (the status page polls
   * this, the history lists up to 200): no second round trip per application.
   */
  private withViewColumns(detailed: boolean) {
    const { knex } = this.deps;
    // Plain rows (knex, not the objection model): this is the most frequent statement, and pg already parses
    // the jsonb columns the model would.
    return knex('applications').select('applications.*', ...this.viewColumns((name) => knex.raw('??', [`applications.${name}`]), detailed));
  }

  /**
   * The columns around an application that its view shows. `at` gives the application's own values: bound
   * values when the row is at hand, column references when it is read in the same statement.
   */
  private viewColumns(at: (name: 'id' | 'campus_id' | 'department_id' | 'host_staff_id') => Knex.Raw, detailed: boolean, status?: ApplicationStatus): Knex.Raw[] {
    const { knex } = this.deps;
    const id = at('id');
    const columns = [
      knex.raw("(select json_build_object('id', id, 'name', name) from campuses where id = ?) as campus", [at('campus_id')]),
      knex.raw("(select json_build_object('id', id, 'name', name) from departments where id = ?) as department", [at('department_id')]),
      knex.raw('(select name from staff where id = ?) as host_name', [at('host_staff_id')]),
    ];
    // A submitted application has no instance yet, so no open tasks: its current step is a fixed text.
    if (status !== 'submitted')
      columns.push(
        knex.raw(
          "(select coalesce(json_agg(json_build_object('name', t.name, 'assignee_name', s.name) order by t.id), '[]'::json) " +
            "from tasks t left join staff s on s.id = cast(t.assignee as integer) where t.application_id = ? and t.status = 'open') as open_tasks",
          [id],
        ),
      );
    if (detailed)
      columns.push(
        knex.raw(
          "(select coalesce(json_agg(json_build_object('at', at, 'kind', kind, 'title', title, 'actor', actor, 'opinion', opinion) order by at, id), '[]'::json) " +
            'from application_events where application_id = ?) as timeline',
          [id],
        ),
        knex.raw('? as uploads', [this.deps.hooks.uploads.column(knex, id)]),
      );
    if (detailed && this.deps.hooks.companions) columns.push(knex.raw('? as companions', [this.deps.hooks.companions.column(knex, id)]));
    return columns;
  }

  /** The view from the application and the values of its viewColumns. */
  private present(app: Application, row: any, detailed: boolean) {
    const campus = row?.campus ?? undefined;
    const department = row?.department ?? undefined;
    const openTasks: Array<{ name: string; assignee_name: string | null }> = row?.open_tasks ?? [];
    const base = {
      id: app.id,
      flowNumber: app.flow_number,
      status: app.status,
      statusText: STATUS_TEXT[app.status],
      campus,
      department,
      hostName: row?.host_name ?? null,
      visitDate: dateString(app.visit_date),
      visitStartTime: app.visit_start,
      visitEndTime: app.visit_end,
      plateNumber: app.plate_number,
      invitedByHost: Boolean(app.invitation_id),
      createdAt: app.created_at,
      currentStep:
        app.status === 'submitted'
          ? app.invitation_id
            ? '接待人已邀请，正在送交部门主管领导审核'
            : '正在送交到访部门接待人审核'
          : openTasks.map((t) => (t.assignee_name ? `${t.name}（${t.assignee_name}）` : t.name)).join('、') || null,
      lastOpinion: app.last_opinion,
    };
    if (!detailed) return base;
    return {
      ...base,
      data: app.data,
      timeline: (row.timeline as any[]).map((e) => ({ at: new Date(e.at), kind: e.kind, title: e.title, actor: e.actor, opinion: e.opinion })),
      attachments: this.deps.hooks.uploads.fromJson(row.uploads),
      // A group visit: each companion (masked) and the state of every pass of the group; null for one visitor.
      group: groupOf(this.deps.hooks.companions?.fromJson(row.companions)),
    };
  }
}

/** The applicant's and the companions' watch-list hits as the application keeps them (null: none). */
function mergeWatchHits(...hits: Array<WatchHit | null>): WatchHit | null {
  const entries = hits.flatMap((h) => h?.entries ?? []);
  return entries.length ? { entries } : null;
}

function groupOf<T extends { companions: unknown[] }>(group: T | undefined): T | null {
  return group?.companions.length ? group : null;
}
