import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Job, WorkflowEngine } from '../../engine-adapter/contract.ts';
import type { SettingsService, SmsTemplates } from '../admin/settings.service.ts';
import type { FieldCrypto } from '../crypto/field-crypto.ts';
import type { SmsOutbox } from '../tasks/task.service.ts';
import type { TaskService } from '../tasks/task.service.ts';
import { type ApplicationStatus, dateString, FINAL_STATUSES } from './application.model.ts';
import type { ApplicationService } from './application.service.ts';

export interface ProcessWorkerDeps {
  knex: Knex;
  logger: Logger;
  applications: ApplicationService;
  tasks: TaskService;
  passes: { issue(knex: Knex, applicationId: number, options: { skipWithdrawn: true }): Promise<unknown> };
  /** Group visits (server/companions): a pass and an SMS link for each companion, after the applicant's pass. */
  companions?: { issuePasses(applicationId: number): Promise<unknown> };
  sms: SmsOutbox & { wake?(): void };
  settings: SettingsService;
  fieldCrypto: FieldCrypto;
  renderTemplate: (template: string, vars: Record<string, string | number | undefined>) => string;
  universityName: string;
}

function applicationIdOf(job: Job): number {
  const id = Number(job.variables.applicationId);
  if (!Number.isInteger(id) || id <= 0) throw new Error(`job ${job.type} at ${job.elementId} has no applicationId variable`);
  return id;
}

/**
 * The building blocks a process may use by task type. They read what they need from the application, not
 * from task ids of one particular model, and are idempotent: a job is delivered at least once.
 */
export function registerProcessWorkers(engine: WorkflowEngine, deps: ProcessWorkerDeps): void {
  const { knex } = deps;

  engine.registerWorker('application-status', async (job) => {
    const status = job.headers.status as ApplicationStatus;
    if (!FINAL_STATUSES.includes(status)) throw new Error(`header "status" must be one of ${FINAL_STATUSES.join(', ')}`);
    const opinion = typeof job.variables.lastOpinion === 'string' ? job.variables.lastOpinion : null;
    await deps.applications.setStatus(knex, applicationIdOf(job), status, opinion, `job:${job.key}`);
    return {};
  });

  engine.registerWorker('issue-pass', async (job) => {
    const applicationId = applicationIdOf(job);
    const pass = await deps.passes.issue(knex, applicationId, { skipWithdrawn: true });
    if (pass && deps.companions) await deps.companions.issuePasses(applicationId);
    return {};
  });

  engine.registerWorker('sms', async (job) => {
    const template = job.headers.template as keyof SmsTemplates;
    const templates = await deps.settings.get('smsTemplates');
    if (!templates[template]) throw new Error(`unknown SMS template "${template}"`);
    const applicationId = applicationIdOf(job);
    // The application and its visitor in one round trip (every flow ends with a text message).
    const app = await knex('applications')
      .leftJoin('visitors', 'visitors.id', 'applications.visitor_id')
      .where('applications.id', applicationId)
      .first(
        'applications.status',
        'applications.visit_date',
        'applications.visit_start',
        'applications.visit_end',
        'applications.flow_number',
        'applications.last_opinion',
        'visitors.name as visitor_name',
        'visitors.mobile_enc as visitor_mobile_enc',
      );
    if (!app || app.status === 'withdrawn' || !app.visitor_mobile_enc) return {};
    const params = {
      university: deps.universityName,
      name: app.visitor_name,
      visitDate: dateString(app.visit_date),
      visitTime: `${app.visit_start}-${app.visit_end}`,
      flowNumber: app.flow_number,
      opinion: app.last_opinion ?? (typeof job.variables.lastOpinion === 'string' ? job.variables.lastOpinion : ''),
    };
    const body = deps.renderTemplate(templates[template], params);
    await deps.sms.enqueue(knex, { dedupeKey: `job:${job.key}`, to: deps.fieldCrypto.decrypt(app.visitor_mobile_enc), template, body, params, applicationId });
    deps.sms.wake?.();
    return {};
  });

  engine.onUserTaskCreated((task) => deps.tasks.onUserTaskCreated(task));
  engine.onUserTaskCanceled((event) => deps.tasks.onUserTaskCanceled(event));
  engine.onIncident((incident) => {
    deps.logger.warn({ incident }, 'process incident: an administrator can retry it');
  });
}
