import { bodyParser } from '@koa/bodyparser';
import Koa from 'koa';
import { adminRoutes } from './admin/admin.routes.ts';
import { applicationRoutes } from './applications/application.routes.ts';
import { csrfMiddleware } from './auth/csrf.middleware.ts';
import { sessionMiddleware } from './auth/session.middleware.ts';
import { staffAuthRoutes } from './auth/staff-auth.routes.ts';
import { ssoRoutes } from './auth/sso.routes.ts';
import { directoryRoutes } from './directory/directory.routes.ts';
import { admissionMiddleware } from './http/admission.middleware.ts';
import type { AppState } from './http/context.ts';
import { errorMiddleware } from './http/error.middleware.ts';
import { healthRoutes } from './http/health.routes.ts';
import { companionRoutes } from './companions/companion.routes.ts';
import { integrationRoutes } from './integrations/integration-settings.routes.ts';
import { invitationRoutes } from './invitations/invitation.routes.ts';
import { jsonBodyMiddleware } from './http/json-body.middleware.ts';
import { openApiRoutes } from './http/openapi.ts';
import { requestLogMiddleware } from './http/request-log.middleware.ts';
import { securityHeadersMiddleware } from './http/security-headers.middleware.ts';
import { staticMiddleware } from './http/static.middleware.ts';
import { metricsMiddleware, metricsRoutes } from './metrics/metrics.routes.ts';
import { gateAdminRoutes, gateRoutes } from './gates/gate.routes.ts';
import { onCampusRoutes } from './passes/on-campus.routes.ts';
import { passRoutes } from './passes/pass.routes.ts';
import { reportRoutes } from './reports/report.routes.ts';
import type { Services } from './services.ts';
import { smsAdminRoutes } from './sms/sms.routes.ts';
import { taskRoutes } from './tasks/task.routes.ts';
import { uploadRoutes } from './uploads/upload.routes.ts';
import { visitorRoutes } from './visitors/visitor.routes.ts';
import { watchListRoutes } from './watchlist/watchlist.routes.ts';

export function createApp(services: Services): Koa<AppState> {
  const { config, logger } = services;
  const secure = config.COOKIE_SECURE ?? config.PUBLIC_URL?.startsWith('https://') ?? false;
  // maxIpsCount: ctx.ip is the address our nearest proxy saw, not an X-Forwarded-For entry the client wrote.
  const app = new Koa<AppState>({ proxy: config.TRUST_PROXY, maxIpsCount: config.TRUST_PROXY_HOPS });
  app.silent = true; // errors are logged by errorMiddleware, once, without request bodies

  // First, so the latency it records covers everything below; it counts requests by route pattern and status.
  app.use(metricsMiddleware(services.metrics));
  app.use(requestLogMiddleware(logger));
  if (secure) {
    // The site is https (COOKIE_SECURE, or an https PUBLIC_URL) but TLS may end at a proxy whose hop to us is
    // plain http: the cookies library would refuse to set a Secure cookie there and every request would get a
    // 500. The operator has said the browser talks https; tell the library so.
    app.use(async (ctx, next) => {
      ctx.cookies.secure = true;
      await next();
    });
  }
  app.use(securityHeadersMiddleware({ hsts: secure }));
  app.use(errorMiddleware(logger));
  // Past what this process can take, API requests are answered 503 at once instead of queueing for the pool.
  app.use(admissionMiddleware(services.admission));
  // The built pages (dist/web); API paths fall through to the routers below.
  app.use(staticMiddleware());
  app.use(jsonBodyMiddleware(['/api/uploads']));
  app.use(
    bodyParser({
      enableTypes: ['json'],
      jsonLimit: config.BODY_MAX_BYTES,
      encoding: 'utf-8',
      onError: (err: any) => {
        throw err;
      },
    }),
  );
  app.use(csrfMiddleware(services.secrets.cookieSecret, secure));
  app.use(
    sessionMiddleware(services.sessions, {
      table: 'staff',
      toStaff: (s) => ({ id: s.id, roles: s.roles, departmentId: s.department_id, name: s.name, active: s.active }),
    }),
  );

  for (const router of [
    healthRoutes(services.knex),
    metricsRoutes(services.metrics, config.METRICS_TOKEN),
    openApiRoutes(),
    visitorRoutes(services.visitors, services.sessions, secure),
    staffAuthRoutes(services.directory, services.sessions, services.throttle, secure, config.STAFF_LOCAL_PASSWORDS),
    ssoRoutes(services.sso, services.sessions, secure),
    directoryRoutes(services.directory),
    applicationRoutes(services.applications, services.visitors),
    passRoutes(services.passes),
    companionRoutes(services.passes, services.companions),
    taskRoutes(services.tasks),
    invitationRoutes(services.invitations, services.visitors),
    uploadRoutes(services.uploads, services.access, config.UPLOAD_MAX_BYTES),
    smsAdminRoutes(services.sms),
    integrationRoutes(services.integrations, services.wechat),
    ...adminRoutes(services.admin),
    watchListRoutes(services.watchList),
    gateRoutes(services.gates),
    gateAdminRoutes(services.gates),
    onCampusRoutes(services.onCampus),
    reportRoutes(services.reports, services.admin.audit, services.knex),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
