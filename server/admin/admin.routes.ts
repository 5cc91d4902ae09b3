import type Router from '@koa/router';
import type { AppState } from '../http/context.ts';
import type { AdminServices } from './admin.services.ts';
import { auditRoutes } from './audit.routes.ts';
import { directoryAdminRoutes } from './directory-admin.routes.ts';
import { formAdminRoutes } from './form-admin.routes.ts';
import { instanceAdminRoutes } from './instance-admin.routes.ts';
import { processAdminRoutes } from './process-admin.routes.ts';
import { settingsAdminRoutes } from './settings-admin.routes.ts';

/** Every admin router; each requires the admin role on all its routes. */
export function adminRoutes(admin: AdminServices): Router<AppState>[] {
  return [
    processAdminRoutes(admin.processes),
    formAdminRoutes(admin.forms),
    directoryAdminRoutes(admin.directory, admin.settings),
    settingsAdminRoutes(admin.settings),
    instanceAdminRoutes(admin.instances),
    auditRoutes(admin.audit, admin.retention),
  ];
}
