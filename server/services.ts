import path from 'node:path';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../engine-adapter/clock.ts';
import { SessionCache } from './auth/session-cache.ts';
import { SessionChanges } from './auth/session-changes.ts';
import type { WorkflowEngine } from '../engine-adapter/contract.ts';
import { createAdminServices } from './admin/admin.services.ts';
import { AuditService } from './admin/audit.service.ts';
import { DeploymentService } from './admin/deployment.service.ts';
import { SettingsService } from './admin/settings.service.ts';
import { ApplicationService } from './applications/application.service.ts';
import { CompanionService } from './companions/companion.service.ts';
import { registerProcessWorkers } from './applications/process-workers.ts';
import { AccessService } from './auth/access.service.ts';
import { SessionService } from './auth/session.service.ts';
import { SsoService } from './auth/sso.service.ts';
import { ThrottleService } from './auth/throttle.service.ts';
import type { Config } from './config.ts';
import { Admission, type AdmissionOptions, admissionDefaults } from './http/admission.middleware.ts';
import { FieldCrypto } from './crypto/field-crypto.ts';
import { IntegrationSettingsService } from './integrations/integration-settings.service.ts';
import { DirectoryService } from './directory/directory.service.ts';
import { FormService } from './forms/form.service.ts';
import { InvitationService } from './invitations/invitation.service.ts';
import { GateService } from './gates/gate.service.ts';
import { Metrics } from './metrics/metrics.ts';
import { OnCampusService } from './passes/on-campus.service.ts';
import { PassService } from './passes/pass.service.ts';
import { ReportRollup } from './reports/report.rollup.ts';
import { ReportService } from './reports/report.service.ts';
import type { Secrets } from './secrets.ts';
import type { SmsProvider } from './sms/sms.provider.ts';
import { SmsService } from './sms/sms.service.ts';
import { renderTemplate } from './sms/sms.templates.ts';
import { TaskService } from './tasks/task.service.ts';
import { UploadService } from './uploads/upload.service.ts';
import { VisitorService } from './visitors/visitor.service.ts';
import { WechatNotifier } from './wechat/wechat.notifier.ts';
import { WatchListService } from './watchlist/watchlist.service.ts';

export interface Deps {
  config: Config;
  secrets: Secrets;
  knex: Knex;
  clock: Clock;
  logger: Logger;
  engine: WorkflowEngine;
  smsProvider?: SmsProvider;
  /** Load-shedding limits of this process, in place of the defaults derived from DB_POOL_MAX (tests). */
  admission?: Partial<AdmissionOptions>;
}

/** The one place where the services are wired together; everything else receives what it needs. */
export function createServices(deps: Deps) {
  const { config, knex, clock, logger, engine } = deps;
  const fieldCrypto = new FieldCrypto(deps.secrets.fieldEncryptionKey, deps.secrets.blindIndexKey);
  const admission = new Admission({ ...admissionDefaults(config.DB_POOL_MAX), ...deps.admission });
  const metrics = new Metrics({
    knex,
    logger,
    engine: config.ENGINE,
    workerIndex: Number(process.env.VISITFLOW_WORKER_INDEX ?? 1),
    admission: () => admission.stats(),
  });
  const sessionCache = new SessionCache({ ttlMs: config.SESSION_CACHE_MS, maxEntries: 20_000, now: () => performance.now() });
  const sessions = new SessionService(knex, clock, undefined, sessionCache);
  // Started by whoever opened a PostgreSQL database (server-process.ts, tests); until then the cache keeps nothing.
  const sessionChanges = new SessionChanges({ knex, cache: sessionCache, logger });
  const throttle = new ThrottleService(knex, clock);
  const directory = new DirectoryService(knex, fieldCrypto);
  const visitors = new VisitorService(knex, fieldCrypto, throttle, clock);
  const access = new AccessService(knex);
  const settings = new SettingsService(knex, clock);
  const forms = new FormService(knex, clock);
  const deployments = new DeploymentService(knex, engine, forms, clock);
  const uploads = new UploadService({ knex, dir: path.join(config.dataDir, 'uploads'), maxBytes: config.UPLOAD_MAX_BYTES, clock });
  const watchList = new WatchListService({ knex, clock, fieldCrypto, audit: new AuditService(knex, clock) });
  const passes = new PassService({
    knex,
    clock,
    privateKey: deps.secrets.passSigningPrivateKey,
    publicKey: deps.secrets.passSigningPublicKey,
    watchWarning: (subject) => watchList.gateWarning(subject),
  });
  const gates = new GateService({ knex, clock, audit: new AuditService(knex, clock) });
  const onCampus = new OnCampusService({ knex, clock, passes, audit: new AuditService(knex, clock) });
  // SMS and WeChat settings: the environment's, with what an administrator saved where the environment is silent.
  const integrations = new IntegrationSettingsService({ knex, clock, config, fieldCrypto, logger, audit: new AuditService(knex, clock) });
  const sms = new SmsService({
    knex,
    provider: deps.smsProvider ?? (() => integrations.smsProvider()),
    fieldCrypto,
    clock,
    logger,
    universityName: config.UNIVERSITY_NAME,
  });
  const wechat = new WechatNotifier({ knex, clock, logger, runtime: () => integrations.wechatRuntime() });
  const publicUrl = config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
  const companions = new CompanionService({
    knex,
    clock,
    fieldCrypto,
    passes,
    sms,
    settings,
    // Late-bound: the application service is built next, with this one among its hooks.
    addEvent: (trx, applicationId, event): Promise<void> => applications.addEvent(trx, applicationId, event),
    watchCheck: (applicantId, people) => watchList.checkCompanions(applicantId, people),
    renderTemplate: (template, vars) => renderTemplate(template, vars),
    publicUrl,
    universityName: config.UNIVERSITY_NAME,
  });
  const applications = new ApplicationService({
    knex,
    clock,
    config,
    logger,
    engine,
    forms,
    deployments,
    directory,
    hooks: {
      linkUploads: (trx, visitorId, ids, applicationId) => uploads.linkToApplication(trx, visitorId, ids, applicationId),
      uploads: { column: (k, applicationId) => uploads.attachmentsColumn(k, applicationId), fromJson: (value) => uploads.attachmentsFromJson(value) },
      revokePass: (trx, applicationId) => passes.revokeForApplication(trx, applicationId),
      watchCheck: (visitor, plate) => watchList.checkApplication(visitor, plate),
      companions,
    },
  });
  const tasks = new TaskService({
    knex,
    clock,
    logger,
    engine,
    access,
    forms,
    directory,
    applications,
    settings,
    sms,
    wechat,
    fieldCrypto,
    renderTemplate: (template, vars) => renderTemplate(template, vars),
    publicUrl,
    universityName: config.UNIVERSITY_NAME,
  });
  registerProcessWorkers(metrics.countingJobs(engine), {
    knex,
    logger,
    applications,
    tasks,
    passes,
    companions,
    sms,
    settings,
    fieldCrypto,
    renderTemplate: (template, vars) => renderTemplate(template, vars),
    universityName: config.UNIVERSITY_NAME,
  });
  const admin = createAdminServices({
    config,
    knex,
    clock,
    logger,
    engine,
    fieldCrypto,
    sessions,
    directory,
    settings,
    forms,
    deployments,
    uploads,
    passes,
    applications,
    publicUrl,
  });
  const invitations = new InvitationService({
    knex,
    clock,
    config,
    logger,
    fieldCrypto,
    directory,
    applications,
    settings,
    sms,
    audit: new AuditService(knex, clock),
    renderTemplate: (template, vars) => renderTemplate(template, vars),
    publicUrl,
    universityName: config.UNIVERSITY_NAME,
  });
  const sso = new SsoService({ knex, clock, config, logger, audit: admin.audit });
  const reportRollup = new ReportRollup({ knex, clock, timeZone: config.TIMEZONE, logger });
  const reports = new ReportService({ knex, clock, timeZone: config.TIMEZONE, settings, rollup: reportRollup });
  return {
    ...deps,
    admission,
    metrics,
    fieldCrypto,
    sessions,
    sessionChanges,
    throttle,
    directory,
    visitors,
    access,
    settings,
    forms,
    deployments,
    uploads,
    passes,
    gates,
    onCampus,
    sms,
    wechat,
    integrations,
    applications,
    companions,
    tasks,
    invitations,
    watchList,
    admin,
    sso,
    reports,
    reportRollup,
  };
}

export type Services = ReturnType<typeof createServices>;
