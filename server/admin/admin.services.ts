import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { WorkflowEngine } from '../../engine-adapter/contract.ts';
import type { ApplicationService } from '../applications/application.service.ts';
import type { SessionService } from '../auth/session.service.ts';
import type { Config } from '../config.ts';
import type { FieldCrypto } from '../crypto/field-crypto.ts';
import type { DirectoryService } from '../directory/directory.service.ts';
import type { FormService } from '../forms/form.service.ts';
import type { PassService } from '../passes/pass.service.ts';
import type { UploadService } from '../uploads/upload.service.ts';
import { AuditService } from './audit.service.ts';
import type { DeploymentService } from './deployment.service.ts';
import { DirectoryAdminService } from './directory-admin.service.ts';
import { FormAdminService } from './form-admin.service.ts';
import { InstanceAdminService } from './instance-admin.service.ts';
import { ProcessAdminService } from './process-admin.service.ts';
import { RetentionService } from './retention.service.ts';
import { SettingsAdminService } from './settings-admin.service.ts';
import type { SettingsService } from './settings.service.ts';

export interface AdminDeps {
  config: Config;
  knex: Knex;
  clock: Clock;
  logger: Logger;
  engine: WorkflowEngine;
  fieldCrypto: FieldCrypto;
  sessions: SessionService;
  directory: DirectoryService;
  settings: SettingsService;
  forms: FormService;
  deployments: DeploymentService;
  uploads: UploadService;
  passes: PassService;
  applications: ApplicationService;
  publicUrl: string;
}

/** The administration services, wired once from the application's services. */
export function createAdminServices(d: AdminDeps) {
  const audit = new AuditService(d.knex, d.clock);
  const processes = new ProcessAdminService({ knex: d.knex, config: d.config, deployments: d.deployments, audit });
  const forms = new FormAdminService({
    knex: d.knex,
    config: d.config,
    forms: d.forms,
    audit,
    redeploy: (actor, processId) => processes.redeployLatest(actor, processId),
  });
  const directory = new DirectoryAdminService({ knex: d.knex, directory: d.directory, fieldCrypto: d.fieldCrypto, sessions: d.sessions, audit });
  const settings = new SettingsAdminService({ knex: d.knex, settings: d.settings, audit, publicUrl: d.publicUrl, universityName: d.config.UNIVERSITY_NAME });
  const retention = new RetentionService({
    knex: d.knex,
    clock: d.clock,
    logger: d.logger,
    config: d.config,
    engine: d.engine,
    settings: d.settings,
    audit,
    deleteUploadsOf: (id) => d.uploads.deleteForApplication(id),
    deleteUnlinkedUploadsBefore: (cutoff) => d.uploads.deleteUnlinkedBefore(cutoff),
  });
  const instances = new InstanceAdminService({
    knex: d.knex,
    clock: d.clock,
    logger: d.logger,
    engine: d.engine,
    applications: d.applications,
    audit,
    revokePass: (trx, id) => d.passes.revokeForApplication(trx, id),
  });
  return { audit, processes, forms, directory, settings, retention, instances };
}

export type AdminServices = ReturnType<typeof createAdminServices>;
