import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import { EngineError, type WorkflowEngine } from '../../engine-adapter/contract.ts';
import { type ApplicationStatus, dateString, STATUS_TEXT } from '../applications/application.model.ts';
import type { ApplicationService } from '../applications/application.service.ts';
import { conflict, notFound } from '../errors.ts';
import type { Actor, AuditService } from './audit.service.ts';
import { stripFormStamp } from './deployment.service.ts';
import { maskDeep } from './mask.ts';

export interface InstanceQuery {
  status?: ApplicationStatus;
  campusId?: number;
  departmentId?: number;
  from?: string;
  to?: string;
  flowNumber?: string;
  page: number;
  pageSize: number;
}

const CANCELABLE: ApplicationStatus[] = ['submitted', 'pending', 'approved'];

const realKey = (key: string | null): key is string => Boolean(key && !key.startsWith('starting:'));

/** Applications and their process instances for the admin pages: list, diagram state, history, incidents. */
export class InstanceAdminService {
  constructor(
    private readonly deps: {
      knex: Knex;
      clock: Clock;
      logger: Logger;
      engine: WorkflowEngine;
      applications: ApplicationService;
      audit: AuditService;
      revokePass(trx: Knex, applicationId: number): Promise<void>;
    },
  ) {}

  async list(q: InstanceQuery) {
    const { knex } = this.deps;
    const base = knex('applications as a')
      .join('campuses as c', 'c.id', 'a.campus_id')
      .join('departments as d', 'd.id', 'a.department_id')
      .join('visitors as v', 'v.id', 'a.visitor_id');
    if (q.status) base.where('a.status', q.status);
    if (q.campusId) base.where('a.campus_id', q.campusId);
    if (q.departmentId) base.where('a.department_id', q.departmentId);
    if (q.from) base.where('a.visit_date', '>=', q.from);
    if (q.to) base.where('a.visit_date', '<=', q.to);
    if (q.flowNumber) base.where('a.flow_number', 'like', `%${q.flowNumber.replace(/[%_\\]/g, (ch) => `\\${ch}`)}%`);
    const [{ n }] = await base.clone().count({ n: '*' });
    const rows = await base
      .select(
        'a.id',
        'a.flow_number',
        'a.status',
        'a.visit_date',
        'a.visit_start',
        'a.visit_end',
        'a.process_id',
        'a.process_version',
        'a.instance_key',
        'a.created_at',
        'a.updated_at',
        'c.id as campus_id',
        'c.name as campus_name',
        'd.id as department_id',
        'd.name as department_name',
        'v.name as visitor_name',
      )
      .orderBy('a.id', 'desc')
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize);
    const ids = rows.map((r: any) => r.id);
    const open = ids.length
      ? await knex('tasks').whereIn('application_id', ids).where({ status: 'open' }).select('application_id', 'name', 'element_id')
      : [];
    const incidents = new Map<string, number>();
    for (const i of await this.deps.engine.listIncidents()) incidents.set(i.instanceKey, (incidents.get(i.instanceKey) ?? 0) + 1);
    return {
      instances: rows.map((r: any) => ({
        applicationId: r.id,
        flowNumber: r.flow_number,
        status: r.status,
        statusText: STATUS_TEXT[r.status as ApplicationStatus],
        visitorName: r.visitor_name,
        campus: { id: r.campus_id, name: r.campus_name },
        department: { id: r.department_id, name: r.department_name },
        visitDate: dateString(r.visit_date),
        visitStartTime: r.visit_start,
        visitEndTime: r.visit_end,
        processId: r.process_id,
        processVersion: r.process_version,
        instanceKey: realKey(r.instance_key) ? r.instance_key : null,
        currentSteps: open.filter((t: any) => t.application_id === r.id).map((t: any) => ({ elementId: t.element_id, name: t.name })),
        openIncidents: realKey(r.instance_key) ? (incidents.get(r.instance_key) ?? 0) : 0,
        createdAt: r.created_at,
        updatedAt: r.updated_at,
      })),
      total: Number(n),
      page: q.page,
      pageSize: q.pageSize,
    };
  }

  private async application(id: number) {
    const app = Number.isInteger(id) ? await this.deps.applications.find(id) : undefined;
    if (!app) throw notFound('APPLICATION_NOT_FOUND', '申请不存在');
    return app;
  }

  /** Everything the instance page shows: the model of its version, where it stands, who did what. */
  async detail(id: number) {
    const { knex, engine } = this.deps;
    const app = await this.application(id);
    const view = await this.deps.applications.view(app, true);
    const info = realKey(app.instance_key) ? await engine.getInstance(app.instance_key) : undefined;
    const deployment = app.process_definition_key
      ? await knex('process_deployments').where({ process_definition_key: app.process_definition_key }).first()
      : undefined;
    const tasks = await knex('tasks as t')
      .leftJoin('staff as claimer', 'claimer.id', 't.claimed_by')
      .leftJoin('staff as completer', 'completer.id', 't.completed_by')
      .where('t.application_id', id)
      .orderBy([{ column: 't.created_at' }, { column: 't.id' }])
      .select('t.*', 'claimer.name as claimed_by_name', 'completer.name as completed_by_name');
    const staffNames = new Map<number, string>();
    const assigneeIds = tasks.map((t: any) => Number(t.assignee)).filter((x: number) => Number.isInteger(x) && x > 0);
    if (assigneeIds.length) for (const s of await knex('staff').whereIn('id', assigneeIds).select('id', 'name')) staffNames.set(s.id, s.name);
    return {
      // Application data holds masked identifiers only; masked again in case a form ever stored one in clear.
      application: maskDeep({ ...view, processId: app.process_id, processVersion: app.process_version, formKey: app.form_key, formVersion: app.form_version, watchHit: app.watch_hit ?? null }),
      process: deployment
        ? { processId: deployment.process_id, version: deployment.version, key: deployment.process_definition_key, name: deployment.name, xml: stripFormStamp(deployment.xml) }
        : null,
      instance: info
        ? {
            instanceKey: info.instanceKey,
            status: info.status,
            currentElementIds: info.currentElementIds,
            completedElementIds: info.completedElementIds,
            variables: maskDeep(info.variables),
            incidents: info.incidents,
            startedAt: info.startedAt,
            endedAt: info.endedAt ?? null,
          }
        : null,
      tasks: tasks.map((t: any) => ({
        id: t.id,
        elementId: t.element_id,
        name: t.name,
        status: t.status,
        assignee: t.assignee ? { id: t.assignee, name: staffNames.get(Number(t.assignee)) ?? null } : null,
        candidateGroups: t.candidate_groups,
        claimedBy: t.claimed_by ? { id: t.claimed_by, name: t.claimed_by_name } : null,
        completedBy: t.completed_by ? { id: t.completed_by, name: t.completed_by_name } : null,
        createdAt: t.created_at,
        completedAt: t.completed_at,
        decision: t.result?.decision ?? null,
        opinion: t.result?.opinion ?? null,
        result: maskDeep(t.result ?? null),
      })),
    };
  }

  async retryIncident(actor: Actor, id: number, incidentKey: string, retries?: number) {
    const app = await this.application(id);
    const incidents = realKey(app.instance_key) ? await this.deps.engine.listIncidents(app.instance_key) : [];
    const incident = incidents.find((i) => i.key === incidentKey);
    if (!incident) throw notFound('INCIDENT_NOT_FOUND', '该故障不存在或已处理');
    try {
      await this.deps.engine.resolveIncident(incidentKey, retries);
    } catch (err) {
      if (err instanceof EngineError) throw conflict('INCIDENT_NOT_RETRIABLE', `无法重试：${err.message}`);
      throw err;
    }
    await this.deps.audit.record(this.deps.knex, actor, {
      action: 'instance.retry',
      targetType: 'application',
      targetId: id,
      before: { incident: { key: incident.key, elementId: incident.elementId, type: incident.type, message: incident.message } },
      after: { resolved: true, retries: retries ?? null },
    });
  }

  /**
   * Ends an application as a visitor's withdrawal does (status withdrawn, open tasks canceled, pass revoked),
   * recorded as the administrator's act, then cancels the instance.
   */
  async cancel(actor: Actor, id: number, reason?: string) {
    const { knex, clock, engine } = this.deps;
    const app = await this.application(id);
    if (!CANCELABLE.includes(app.status)) throw conflict('APPLICATION_NOT_CANCELABLE', `该申请${STATUS_TEXT[app.status]}，不能取消`);
    await knex.transaction(async (trx) => {
      const locked = await trx('applications').where({ id }).forUpdate().first('status');
      if (!locked || !CANCELABLE.includes(locked.status)) throw conflict('APPLICATION_NOT_CANCELABLE', '该申请当前不能取消');
      await trx('applications').where({ id }).update({ status: 'withdrawn', updated_at: clock.now() });
      await trx('tasks').where({ application_id: id, status: 'open' }).update({ status: 'canceled' });
      await this.deps.revokePass(trx, id);
      await this.deps.applications.addEvent(trx, id, { kind: 'withdrawn', title: '管理员取消申请', actor: actor.name, opinion: reason ?? null });
      await this.deps.audit.record(trx, actor, {
        action: 'instance.cancel',
        targetType: 'application',
        targetId: id,
        before: { status: locked.status, flowNumber: app.flow_number },
        after: { status: 'withdrawn', reason: reason ?? null },
      });
    });
    if (realKey(app.instance_key)) {
      const info = await engine.getInstance(app.instance_key);
      if (info?.status === 'active') {
        try {
          await engine.cancel(app.instance_key);
        } catch (err) {
          // ended meanwhile: the application is withdrawn either way
          this.deps.logger.warn({ err, applicationId: id }, 'cancel by administrator: instance already ended');
        }
      }
    }
  }
}
