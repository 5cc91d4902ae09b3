import Router from '@koa/router';
import { type ZodType, z } from 'zod';
import { campusInput, departmentInput, staffCreateInput, staffUpdateInput } from '../admin/directory-admin.service.ts';
import { settingsInput } from '../admin/settings-admin.service.ts';
import { gateCreateInput, gateUpdateInput } from '../gates/gate.service.ts';
import { smsSettingsInput, wechatSettingsInput } from '../integrations/integration-settings.service.ts';
import { applyBody, invitationInput, tokenBody } from '../invitations/invitation.service.ts';
import { onCampusExitSchema } from '../passes/on-campus.service.ts';
import { gateEventSchema, verifySchema } from '../passes/pass.routes.ts';
import { passLinkSchema, resendSchema } from '../companions/companion.routes.ts';
import { loginSchema, registrationSchema } from '../visitors/visitor.service.ts';
import { watchEntryInput } from '../watchlist/watchlist.service.ts';
import type { AppState } from './context.ts';

/**
 * The OpenAPI 3.1 description of the HTTP API, served at /api/openapi.json. Every route the routers register
 * is listed in OPERATIONS under `METHOD /path/:param` (the router's own pattern); test/api/openapi.test.ts
 * walks the routers of the running app and fails when a route is missing here or listed here but gone, and
 * when an error code the server throws is missing from ERROR_CODES. Request bodies are taken from the zod
 * schemas the handlers parse with, where those are exported, so they cannot drift.
 */

type JsonSchema = Record<string, unknown>;

/**
 * Who may call: nobody needs to be signed in; a visitor session (cookie vf_visitor); a staff session (cookie
 * vf_staff) with one of `roles` (any role when empty); either session; the metrics scrape (see README).
 */
type Access =
  | { who: 'anonymous' }
  | { who: 'visitor' }
  | { who: 'staff'; roles: string[] }
  | { who: 'visitor-or-staff' }
  | { who: 'scraper' };

interface Operation {
  summary: string;
  tag: string;
  access: Access;
  /** JSON body schema, or a multipart upload of one `file`. */
  body?: JsonSchema | 'multipart';
  query?: Record<string, JsonSchema>;
  /** Query parameters that must be given. */
  requiredQuery?: string[];
  /** Success status (default 200) and what it carries (default JSON). */
  ok?: number;
  returns?: 'json' | 'none' | 'png' | 'bpmn' | 'file' | 'prometheus' | 'spreadsheet';
  /** Error codes this operation answers besides those of its access, body and the overload answer. */
  errors?: Partial<Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 502, string[]>>;
}

const fromZod = (schema: ZodType): JsonSchema => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

const id = { type: 'integer', minimum: 1 };
const str = (maxLength?: number): JsonSchema => (maxLength ? { type: 'string', maxLength } : { type: 'string' });
const date = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD' };
const paging = { page: { type: 'integer', minimum: 1, default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 100, default: 20 } };
const object = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: 'object',
  properties,
  ...(required.length ? { required } : {}),
});
const formData = object({ data: { type: 'object', additionalProperties: true, description: 'Form.io submission data (validated on the server against the form)' } }, ['data']);
const xmlBody = object({ xml: { type: 'string', description: 'BPMN 2.0 XML' }, name: str(200) }, ['xml']);
const csvBody = object({ csv: { type: 'string', description: 'CSV file content' }, dryRun: { type: 'boolean' } }, ['csv']);
const formSchemaBody = object({ schema: { description: 'Form.io form JSON' }, redeploy: { type: 'boolean' } }, ['schema']);

const anonymous: Access = { who: 'anonymous' };
/** The refusals of a group visit's companions (server/companions). */
const COMPANION_ERRORS = ['COMPANIONS_TOO_MANY', 'COMPANION_NAME_INVALID', 'COMPANION_ID_INVALID', 'COMPANION_MOBILE_INVALID', 'COMPANION_DUPLICATE', 'COMPANION_IS_APPLICANT'];
const visitor: Access = { who: 'visitor' };
const admin: Access = { who: 'staff', roles: ['admin'] };
const reviewer: Access = { who: 'staff', roles: ['host', 'leader', 'admin', 'security'] };
const guard: Access = { who: 'staff', roles: ['guard', 'admin'] };
const reportReader: Access = { who: 'staff', roles: ['admin', 'leader'] };
const host: Access = { who: 'staff', roles: ['host'] };
const reportFilter = {
  from: { ...date, description: 'YYYY-MM-DD, campus day; default: 29 days before `to`' },
  to: { ...date, description: 'YYYY-MM-DD, campus day; default: today (or 29 days after `from`); at most 366 days in all' },
  campusId: id,
  departmentId: { ...id, description: "a leader gets their own department whatever is given; another one is 403" },
};
const reportErrors: Operation['errors'] = {
  400: ['REPORT_RANGE_INVALID', 'REPORT_RANGE_TOO_LONG', 'REPORT_FILTER_INVALID'],
  403: ['REPORT_DEPARTMENT_FORBIDDEN'],
};
const report = (summary: string): Operation => ({ tag: 'reports', summary, access: reportReader, query: reportFilter, errors: reportErrors });

export const OPERATIONS: Record<string, Operation> = {
  // Probes and operator endpoints
  'GET /healthz': { tag: 'operations', summary: 'The process is alive', access: anonymous },
  'GET /readyz': { tag: 'operations', summary: 'The database answers (503 when it does not)', access: anonymous },
  'GET /metrics': {
    tag: 'operations',
    summary: 'Prometheus metrics: requests by route pattern and status, latencies, SMS outbox, jobs, incidents, process',
    access: { who: 'scraper' },
    returns: 'prometheus',
    errors: { 401: ['METRICS_TOKEN_REQUIRED'], 403: ['METRICS_LOCAL_ONLY'] },
  },
  'GET /api/openapi.json': { tag: 'operations', summary: 'This description', access: anonymous },
  'GET /api/csrf': { tag: 'session', summary: 'The CSRF token to echo in X-CSRF-Token (also set as the vf_csrf cookie)', access: anonymous },

  // Visitors
  'POST /api/visitors/register': {
    tag: 'visitors',
    summary: 'Register a visitor and sign in',
    access: anonymous,
    body: fromZod(registrationSchema),
    ok: 201,
    errors: { 400: ['ID_LENGTH', 'ID_FORMAT', 'ID_BIRTH_DATE', 'ID_CHECK_DIGIT', 'MOBILE_INVALID'], 409: ['MOBILE_ALREADY_REGISTERED', 'ID_NUMBER_ALREADY_REGISTERED'] },
  },
  'POST /api/visitors/login': {
    tag: 'visitors',
    summary: 'Visitor sign-in by mobile and password',
    access: anonymous,
    body: fromZod(loginSchema),
    errors: { 401: ['INVALID_CREDENTIALS'], 429: ['LOGIN_LOCKED'] },
  },
  'POST /api/visitors/logout': { tag: 'visitors', summary: 'End the visitor session', access: anonymous, ok: 204, returns: 'none' },
  'GET /api/visitors/me': { tag: 'visitors', summary: 'The signed-in visitor (ID number and mobile masked)', access: visitor, errors: { 404: ['VISITOR_NOT_FOUND'] } },

  // Directory (public part)
  'GET /api/directory/campuses': { tag: 'directory', summary: 'Active campuses with opening hours', access: anonymous },
  'GET /api/directory/departments': { tag: 'directory', summary: 'Active departments, of one campus if given', access: anonymous, query: { campusId: id } },

  // Applications (visitor)
  'GET /api/applications/form': {
    tag: 'applications',
    summary: 'The start form of the current process, prefilled for the visitor',
    access: visitor,
    errors: { 404: ['VISITOR_NOT_FOUND', 'PROCESS_NOT_DEPLOYED', 'FORM_NOT_FOUND'] },
  },
  'POST /api/applications': {
    tag: 'applications',
    summary: 'Submit an application (starts the process)',
    access: visitor,
    body: formData,
    ok: 201,
    errors: {
      400: ['FORM_INVALID', 'FORM_MISSING', 'CAMPUS_NOT_FOUND', 'DEPARTMENT_NOT_IN_CAMPUS', 'HOST_NOT_FOUND', 'VISIT_WINDOW_INVALID', 'VISIT_WINDOW_PAST', 'VISIT_WINDOW_OUTSIDE_HOURS', 'UPLOAD_NOT_FOUND', ...COMPANION_ERRORS],
      403: ['APPLICATION_NOT_ACCEPTED'],
      404: ['VISITOR_NOT_FOUND', 'PROCESS_NOT_DEPLOYED'],
    },
  },
  'GET /api/applications': { tag: 'applications', summary: "The visitor's applications", access: visitor },
  'GET /api/applications/:id': { tag: 'applications', summary: 'One application of the visitor', access: visitor, errors: { 404: ['APPLICATION_NOT_FOUND'] } },
  'POST /api/applications/:id/withdraw': {
    tag: 'applications',
    summary: 'Withdraw an application not yet decided',
    access: visitor,
    errors: { 404: ['APPLICATION_NOT_FOUND'], 409: ['APPLICATION_NOT_WITHDRAWABLE'] },
  },
  'GET /api/applications/:id/pass': {
    tag: 'passes',
    summary: 'The pass of an approved application: short code and a rotating signed QR payload',
    access: visitor,
    errors: { 404: ['PASS_NOT_AVAILABLE'] },
  },
  'POST /api/pass-link': {
    tag: 'passes',
    summary: "A companion's pass (group visit) by the token of his SMS link, without login: short code, rotating QR payload, masked name",
    access: anonymous,
    body: fromZod(passLinkSchema),
    errors: { 404: ['PASS_LINK_INVALID'] },
  },
  'POST /api/applications/:id/companions/:position/resend-link': {
    tag: 'passes',
    summary:
      "The applicant sends a companion's pass link again (group visit): a new link by SMS to the companion's mobile, or to `mobile`, which then replaces it; the old link stops working. At most once a minute and 5 times per pass",
    access: visitor,
    body: fromZod(resendSchema),
    errors: {
      400: ['COMPANION_MOBILE_INVALID', 'VALIDATION_FAILED'],
      404: ['APPLICATION_NOT_FOUND', 'COMPANION_NOT_FOUND'],
      409: ['COMPANION_PASS_NOT_ISSUED', 'COMPANION_PASS_NOT_VALID', 'COMPANION_LINK_SMS_UNAVAILABLE'],
      429: ['COMPANION_LINK_TOO_SOON', 'COMPANION_LINK_LIMIT'],
    },
  },

  // Uploads
  'POST /api/uploads': {
    tag: 'uploads',
    summary: 'Upload one attachment (multipart field `file`) for a later application',
    access: visitor,
    body: 'multipart',
    ok: 201,
    errors: {
      400: ['UPLOAD_MISSING', 'UPLOAD_EMPTY', 'UPLOAD_MALFORMED', 'UPLOAD_FIELD_INVALID', 'UPLOAD_TOO_MANY_FILES'],
      413: ['UPLOAD_TOO_LARGE'],
      415: ['UPLOAD_TYPE_NOT_ALLOWED'],
    },
  },
  'GET /api/uploads/:id': {
    tag: 'uploads',
    summary: 'An attachment, to its owner or to staff who may see its application',
    access: { who: 'visitor-or-staff' },
    returns: 'file',
    errors: { 401: ['LOGIN_REQUIRED'], 404: ['UPLOAD_NOT_FOUND'] },
  },

  // Staff sign-in
  'POST /api/staff/login': {
    tag: 'staff',
    summary: 'Staff sign-in by user name and password',
    access: anonymous,
    body: object({ username: str(64), password: str(200) }, ['username', 'password']),
    errors: { 401: ['INVALID_CREDENTIALS'], 403: ['LOCAL_LOGIN_DISABLED'], 429: ['LOGIN_LOCKED'] },
  },
  'POST /api/staff/logout': { tag: 'staff', summary: 'End the staff session', access: anonymous, ok: 204, returns: 'none' },
  'GET /api/staff/sso': {
    tag: 'staff',
    summary: 'How staff sign in: the SSO mode (none, oidc, cas) and whether local passwords are allowed',
    access: anonymous,
  },
  'GET /api/staff/sso/start': {
    tag: 'staff',
    summary: 'Start a campus single sign-on: 302 to the OIDC provider or CAS server (state in the HttpOnly vf_sso cookie)',
    access: anonymous,
    query: { next: { type: 'string', enum: ['/staff/', '/admin/', '/gate/'], default: '/staff/' } },
    ok: 302,
    returns: 'none',
    errors: { 404: ['SSO_NOT_CONFIGURED'], 502: ['SSO_PROVIDER_UNAVAILABLE'] },
  },
  'GET /api/staff/sso/callback': {
    tag: 'staff',
    summary:
      'Where the provider sends the browser back (OIDC: code and state; CAS: ticket): links the directory entry, signs in, 302 to the staff page. Refusals are an HTML page for browsers, JSON otherwise',
    access: anonymous,
    query: { code: { type: 'string' }, state: { type: 'string' }, ticket: { type: 'string' } },
    ok: 302,
    returns: 'none',
    errors: {
      400: ['SSO_STATE_INVALID'],
      401: ['SSO_REJECTED'],
      403: ['SSO_STAFF_NOT_FOUND', 'SSO_STAFF_INACTIVE', 'SSO_STAFF_KEY_MISSING'],
      404: ['SSO_NOT_CONFIGURED'],
      502: ['SSO_PROVIDER_UNAVAILABLE'],
    },
  },
  'GET /api/staff/me': { tag: 'staff', summary: 'The signed-in staff member', access: { who: 'staff', roles: [] }, errors: { 404: ['STAFF_NOT_FOUND'] } },

  // Tasks (reviewers)
  'GET /api/tasks': {
    tag: 'tasks',
    summary: 'Task list: mine, unclaimed in my groups, or done; with counts',
    access: reviewer,
    query: {
      list: { type: 'string', enum: ['mine', 'unclaimed', 'done'], default: 'mine' },
      status: { type: 'string', enum: ['open', 'completed', 'canceled'] },
      campusId: id,
      departmentId: id,
      from: date,
      to: date,
      q: str(40),
      ...paging,
    },
  },
  'GET /api/tasks/:id': { tag: 'tasks', summary: 'A task with its form and the application (masked)', access: reviewer, errors: { 404: ['TASK_NOT_FOUND'] } },
  'POST /api/tasks/:id/claim': {
    tag: 'tasks',
    summary: 'Claim a task of one of my groups',
    access: reviewer,
    errors: { 404: ['TASK_NOT_FOUND'], 409: ['TASK_ALREADY_CLAIMED', 'TASK_NOT_OPEN'] },
  },
  'POST /api/tasks/:id/unclaim': {
    tag: 'tasks',
    summary: 'Give a claimed task back to its groups',
    access: reviewer,
    errors: { 404: ['TASK_NOT_FOUND'], 409: ['TASK_NOT_CLAIMED_BY_YOU', 'TASK_NOT_OPEN'] },
  },
  'PUT /api/tasks/:id/draft': {
    tag: 'tasks',
    summary: 'Save the task form without completing it',
    access: reviewer,
    body: formData,
    errors: { 404: ['TASK_NOT_FOUND'], 409: ['TASK_NOT_CLAIMED_BY_YOU', 'TASK_NOT_OPEN'] },
  },
  'POST /api/tasks/:id/complete': {
    tag: 'tasks',
    summary: 'Complete the task (approve, refuse, pick the next signer)',
    access: reviewer,
    body: formData,
    errors: { 400: ['FORM_INVALID', 'LEADER_NOT_ALLOWED', 'OPTION_NOT_ALLOWED'], 404: ['TASK_NOT_FOUND'], 409: ['TASK_NOT_CLAIMED_BY_YOU', 'TASK_NOT_OPEN'] },
  },

  // Hosts' pre-invitations (the link's token only ever in a body)
  'GET /api/invitations': {
    tag: 'invitations',
    summary: "The host's own invitations, newest first, with their status (active, used, canceled, expired)",
    access: host,
    query: { status: { type: 'string', enum: ['active', 'used', 'canceled', 'expired'] }, ...paging },
  },
  'GET /api/invitations/options': {
    tag: 'invitations',
    summary: "What the invitation form offers: the host's department, its campus and opening hours, its leaders",
    access: host,
    errors: { 403: ['INVITATION_DEPARTMENT_REQUIRED'] },
  },
  'POST /api/invitations': {
    tag: 'invitations',
    summary: 'Invite a visitor by mobile to the host\'s department for a window, naming the signing leader; sends the SMS link; audited',
    access: host,
    body: fromZod(invitationInput),
    ok: 201,
    errors: {
      400: ['INVITATION_MOBILE_INVALID', 'INVITATION_DEPARTMENT_NOT_OWN', 'INVITATION_LEADER_INVALID', 'VISIT_WINDOW_INVALID', 'VISIT_WINDOW_PAST', 'VISIT_WINDOW_OUTSIDE_HOURS'],
      403: ['INVITATION_DEPARTMENT_REQUIRED'],
      409: ['INVITATION_SMS_UNAVAILABLE'],
    },
  },
  'POST /api/invitations/:id/cancel': {
    tag: 'invitations',
    summary:
      "Cancel one of the host's own unused invitations (its link stops working); audited. `notice`: `sms` (the visitor is told by the SMS `invitationCanceled`), `stopped` (the invitation's SMS had not gone: it is deleted), `unavailable` (no vendor template for the notice: the host should call), `none` (the invitation's SMS never reached the visitor)",
    access: host,
    errors: { 404: ['INVITATION_NOT_FOUND'], 409: ['INVITATION_NOT_CANCELABLE'] },
  },
  'POST /api/invitations/preview': {
    tag: 'invitations',
    summary: "What an invitation link shows before login: host, unit, window, the invited mobile masked",
    access: anonymous,
    body: fromZod(tokenBody),
    errors: { 404: ['INVITATION_NOT_FOUND'], 409: ['INVITATION_USED', 'INVITATION_CANCELED', 'INVITATION_EXPIRED'] },
  },
  'POST /api/invitations/form': {
    tag: 'invitations',
    summary: 'The start form for the invited visitor: campus, department, host and window filled in and locked',
    access: visitor,
    body: fromZod(tokenBody),
    errors: {
      403: ['INVITATION_MOBILE_MISMATCH'],
      404: ['INVITATION_NOT_FOUND', 'VISITOR_NOT_FOUND', 'PROCESS_NOT_DEPLOYED', 'FORM_NOT_FOUND'],
      409: ['INVITATION_USED', 'INVITATION_CANCELED', 'INVITATION_EXPIRED', 'INVITATION_HOST_UNAVAILABLE'],
    },
  },
  'POST /api/invitations/apply': {
    tag: 'invitations',
    summary: "Submit the application with the invitation (once): the host review is skipped, the invitation's leader signs",
    access: visitor,
    body: fromZod(applyBody),
    ok: 201,
    errors: {
      400: ['FORM_INVALID', 'FORM_MISSING', 'CAMPUS_NOT_FOUND', 'DEPARTMENT_NOT_IN_CAMPUS', 'HOST_NOT_FOUND', 'VISIT_WINDOW_INVALID', 'VISIT_WINDOW_PAST', 'VISIT_WINDOW_OUTSIDE_HOURS', 'UPLOAD_NOT_FOUND'],
      403: ['INVITATION_MOBILE_MISMATCH', 'APPLICATION_NOT_ACCEPTED'],
      404: ['INVITATION_NOT_FOUND', 'VISITOR_NOT_FOUND', 'PROCESS_NOT_DEPLOYED'],
      409: ['INVITATION_USED', 'INVITATION_CANCELED', 'INVITATION_EXPIRED', 'INVITATION_HOST_UNAVAILABLE', 'INVITATION_LEADER_UNAVAILABLE'],
    },
  },

  // Gate (guards)
  'POST /api/gate/verify': {
    tag: 'gate',
    summary: 'Check a scanned QR payload or a typed short code at a campus gate (exactly one of payload and code)',
    access: guard,
    body: fromZod(verifySchema),
    errors: { 400: ['PASS_INPUT_REQUIRED'] },
  },
  'POST /api/gate/passes/:id/entry': {
    tag: 'gate',
    summary: 'Record an entry at a campus, and the gate if the guard chose one (gateId: an active gate of that campus)',
    access: guard,
    body: fromZod(gateEventSchema),
    errors: { 400: ['GATE_NOT_FOUND', 'GATE_NOT_IN_CAMPUS'], 404: ['PASS_NOT_FOUND'], 409: ['PASS_NOT_VALID'] },
  },
  'POST /api/gate/passes/:id/exit': {
    tag: 'gate',
    summary: 'Record an exit at a campus, and the gate if the guard chose one (gateId: an active gate of that campus)',
    access: guard,
    body: fromZod(gateEventSchema),
    errors: { 400: ['GATE_NOT_FOUND', 'GATE_NOT_IN_CAMPUS'], 404: ['PASS_NOT_FOUND'], 409: ['PASS_NOT_VALID'] },
  },
  'GET /api/gate/public-key': { tag: 'gate', summary: 'The pass signing public key, for offline checks', access: guard },
  'GET /api/gate/gates': { tag: 'gate', summary: 'Active gates of active campuses, for the gate page to stand at', access: guard },
  'GET /api/gate/on-campus': {
    tag: 'gate',
    summary:
      'Who is on campus now: visitors whose latest pass event is an entry, counts per campus and gate of entry, overstays (window ended, no exit) with minutes overdue; name and mobile masked. A guard with a department sees its campus only',
    access: guard,
    query: {
      campusId: id,
      gateId: { oneOf: [id, { type: 'string', enum: ['unknown'] }], description: 'a gate id, or unknown for entries recorded without a gate' },
      overstay: { type: 'string', enum: ['true', 'false'] },
    },
    errors: { 403: ['CAMPUS_NOT_IN_SCOPE'] },
  },
  'POST /api/gate/on-campus/:id/exit': {
    tag: 'gate',
    summary: 'Record the exit of a visitor listed as on campus (pass id), at the campus of entry and the given gate; audited',
    access: guard,
    body: fromZod(onCampusExitSchema),
    errors: {
      400: ['GATE_NOT_FOUND', 'GATE_NOT_IN_CAMPUS'],
      403: ['CAMPUS_NOT_IN_SCOPE'],
      404: ['PASS_NOT_FOUND'],
      409: ['VISITOR_NOT_ON_CAMPUS', 'PASS_NOT_VALID'],
    },
  },

  // Administration
  'GET /api/admin/sms': {
    tag: 'admin',
    summary: 'SMS outbox (recipients masked)',
    access: admin,
    query: { status: { type: 'string', enum: ['pending', 'sent', 'failed'] }, ...paging },
  },
  'GET /api/admin/wechat': {
    tag: 'admin',
    summary: 'WeChat notice outbox, newest first (openids masked, staff names, status, attempts, last error)',
    access: admin,
    query: { status: { type: 'string', enum: ['pending', 'sending', 'sent', 'failed'] }, ...paging },
  },
  'GET /api/admin/integrations': {
    tag: 'admin',
    summary: 'SMS provider and WeChat settings in use: each field with its source (env, saved, default); secrets only as set + last 4 characters',
    access: admin,
  },
  'PUT /api/admin/integrations/sms': {
    tag: 'admin',
    summary: 'Save SMS provider settings (credentials sealed; "" keeps a stored secret, null removes a value); fields the environment sets are refused; audited without secrets',
    access: admin,
    body: fromZod(smsSettingsInput),
    errors: { 400: ['INTEGRATION_SETTINGS_INVALID'] },
  },
  'PUT /api/admin/integrations/wechat': {
    tag: 'admin',
    summary: 'Save WeChat official account settings (as the SMS ones)',
    access: admin,
    body: fromZod(wechatSettingsInput),
    errors: { 400: ['INTEGRATION_SETTINGS_INVALID'] },
  },
  'POST /api/admin/settings/wechat/test': {
    tag: 'admin',
    summary: 'Ask WeChat for an access token with the credentials in use; a refusal names WeChat\'s errcode',
    access: admin,
    errors: {
      400: ['WECHAT_NOT_CONFIGURED'],
      502: ['WECHAT_CREDENTIALS_REJECTED', 'WECHAT_THROTTLED', 'WECHAT_UNAVAILABLE', 'WECHAT_TOKEN_REJECTED', 'WECHAT_OUTCOME_UNKNOWN', 'WECHAT_REJECTED'],
    },
  },
  'GET /api/admin/processes': { tag: 'admin', summary: 'Deployed processes and their versions', access: admin },
  'POST /api/admin/processes/validate': {
    tag: 'admin',
    summary: 'Check a BPMN document against what the engine supports',
    access: admin,
    body: xmlBody,
    errors: { 400: ['BPMN_REQUIRED', 'BPMN_TOO_LARGE', 'BPMN_UNREADABLE'] },
  },
  'POST /api/admin/processes/import': {
    tag: 'admin',
    summary: 'Read a BPMN document for the modeler (laid out when it has no diagram)',
    access: admin,
    body: xmlBody,
    errors: { 400: ['BPMN_REQUIRED', 'BPMN_TOO_LARGE', 'BPMN_UNREADABLE', 'BPMN_LAYOUT_FAILED'] },
  },
  'POST /api/admin/processes/deploy': {
    tag: 'admin',
    summary: 'Deploy a BPMN document (201 when a new version was made)',
    access: admin,
    body: xmlBody,
    errors: { 400: ['BPMN_REQUIRED', 'BPMN_TOO_LARGE', 'BPMN_UNREADABLE', 'DEPLOYMENT_INVALID', 'FORM_MISSING'] },
  },
  'POST /api/admin/processes/:processId/redeploy': {
    tag: 'admin',
    summary: 'Deploy the latest version again with the current forms',
    access: admin,
    errors: { 400: ['DEPLOYMENT_INVALID', 'FORM_MISSING'], 404: ['PROCESS_NOT_DEPLOYED'] },
  },
  'GET /api/admin/processes/:processId/versions/:version': {
    tag: 'admin',
    summary: 'One deployed version (`latest` or a number) with its XML',
    access: admin,
    errors: { 404: ['PROCESS_NOT_DEPLOYED', 'PROCESS_VERSION_NOT_FOUND'] },
  },
  'GET /api/admin/processes/:processId/versions/:version/export': {
    tag: 'admin',
    summary: 'Download one deployed version as a .bpmn file',
    access: admin,
    returns: 'bpmn',
    errors: { 404: ['PROCESS_NOT_DEPLOYED', 'PROCESS_VERSION_NOT_FOUND'] },
  },
  'GET /api/admin/forms': { tag: 'admin', summary: 'Forms and their versions', access: admin },
  'GET /api/admin/forms/:formKey': { tag: 'admin', summary: 'The latest version of a form', access: admin, errors: { 404: ['FORM_NOT_FOUND'] } },
  'GET /api/admin/forms/:formKey/versions/:version': { tag: 'admin', summary: 'One version of a form', access: admin, errors: { 404: ['FORM_NOT_FOUND'] } },
  'POST /api/admin/forms/:formKey/check': {
    tag: 'admin',
    summary: 'Check a form against what the process needs of it',
    access: admin,
    body: formSchemaBody,
  },
  'PUT /api/admin/forms/:formKey': {
    tag: 'admin',
    summary: 'Save a new version of a form (201 when new), optionally redeploying the processes that use it',
    access: admin,
    body: formSchemaBody,
    errors: { 400: ['FORM_SCHEMA_INVALID', 'DEPLOYMENT_INVALID'] },
  },
  'GET /api/admin/campuses': { tag: 'admin', summary: 'All campuses', access: admin },
  'POST /api/admin/campuses': {
    tag: 'admin',
    summary: 'Create a campus',
    access: admin,
    body: fromZod(campusInput),
    ok: 201,
    errors: { 400: ['OPENING_HOURS_INVALID'], 409: ['CAMPUS_CODE_TAKEN'] },
  },
  'PUT /api/admin/campuses/:id': {
    tag: 'admin',
    summary: 'Change a campus',
    access: admin,
    body: fromZod(campusInput),
    errors: { 400: ['OPENING_HOURS_INVALID'], 404: ['CAMPUS_NOT_FOUND'], 409: ['CAMPUS_CODE_TAKEN'] },
  },
  'POST /api/admin/campuses/:id/deactivate': {
    tag: 'admin',
    summary: 'Deactivate a campus',
    access: admin,
    errors: { 404: ['CAMPUS_NOT_FOUND'], 409: ['CAMPUS_HAS_ACTIVE_DEPARTMENTS'] },
  },
  'POST /api/admin/campuses/:id/activate': { tag: 'admin', summary: 'Activate a campus', access: admin, errors: { 404: ['CAMPUS_NOT_FOUND'] } },
  'GET /api/admin/campuses/:id/poster.png': {
    tag: 'admin',
    summary: 'The gate poster with the registration QR code (X-Registration-Url tells its address)',
    access: admin,
    returns: 'png',
    errors: { 404: ['CAMPUS_NOT_FOUND'] },
  },
  'GET /api/admin/departments': { tag: 'admin', summary: 'All departments, of one campus if given', access: admin, query: { campusId: id } },
  'POST /api/admin/departments': {
    tag: 'admin',
    summary: 'Create a department',
    access: admin,
    body: fromZod(departmentInput),
    ok: 201,
    errors: { 400: ['CAMPUS_NOT_FOUND'], 409: ['DEPARTMENT_CODE_TAKEN'] },
  },
  'POST /api/admin/departments/import': {
    tag: 'admin',
    summary: 'Import departments from CSV (dryRun: only check)',
    access: admin,
    body: csvBody,
    errors: { 400: ['CSV_REQUIRED', 'CSV_EMPTY', 'CSV_TOO_LARGE', 'CSV_UNREADABLE', 'CSV_HEADER_INVALID', 'CSV_INVALID'] },
  },
  'PUT /api/admin/departments/:id': {
    tag: 'admin',
    summary: 'Change a department',
    access: admin,
    body: fromZod(departmentInput),
    errors: { 400: ['CAMPUS_NOT_FOUND'], 404: ['DEPARTMENT_NOT_FOUND'], 409: ['DEPARTMENT_CODE_TAKEN'] },
  },
  'POST /api/admin/departments/:id/deactivate': { tag: 'admin', summary: 'Deactivate a department', access: admin, errors: { 404: ['DEPARTMENT_NOT_FOUND'] } },
  'POST /api/admin/departments/:id/activate': { tag: 'admin', summary: 'Activate a department', access: admin, errors: { 404: ['DEPARTMENT_NOT_FOUND'] } },
  'GET /api/admin/staff': {
    tag: 'admin',
    summary: 'Staff, filtered (mobiles masked)',
    access: admin,
    query: { departmentId: id, role: { type: 'string', enum: ['host', 'leader', 'admin', 'guard', 'security'] }, q: str(100), active: { type: 'string', enum: ['true', 'false'] } },
  },
  'POST /api/admin/staff': {
    tag: 'admin',
    summary: 'Create a staff account',
    access: admin,
    body: fromZod(staffCreateInput),
    ok: 201,
    errors: { 400: ['MOBILE_INVALID', 'DEPARTMENT_NOT_FOUND', 'DEPARTMENT_REQUIRED'], 409: ['USERNAME_TAKEN', 'STAFF_NO_TAKEN'] },
  },
  'POST /api/admin/staff/import': {
    tag: 'admin',
    summary: 'Import staff from CSV (dryRun: only check)',
    access: admin,
    body: csvBody,
    errors: { 400: ['CSV_REQUIRED', 'CSV_EMPTY', 'CSV_TOO_LARGE', 'CSV_UNREADABLE', 'CSV_HEADER_INVALID', 'CSV_INVALID'] },
  },
  'PUT /api/admin/staff/:id': {
    tag: 'admin',
    summary: 'Change a staff account',
    access: admin,
    body: fromZod(staffUpdateInput),
    errors: { 400: ['MOBILE_INVALID', 'DEPARTMENT_NOT_FOUND', 'DEPARTMENT_REQUIRED'], 404: ['STAFF_NOT_FOUND'], 409: ['CANNOT_DEMOTE_SELF', 'STAFF_NO_TAKEN'] },
  },
  'POST /api/admin/staff/:id/deactivate': {
    tag: 'admin',
    summary: 'Deactivate a staff account (signs it out everywhere)',
    access: admin,
    errors: { 404: ['STAFF_NOT_FOUND'], 409: ['CANNOT_DEACTIVATE_SELF'] },
  },
  'POST /api/admin/staff/:id/activate': { tag: 'admin', summary: 'Activate a staff account', access: admin, errors: { 404: ['STAFF_NOT_FOUND'] } },
  'POST /api/admin/staff/:id/sso-unlink': {
    tag: 'admin',
    summary: 'Forget the SSO account linked to a staff member (the next SSO sign-in links again); ends their sessions; audited',
    access: admin,
    errors: { 404: ['STAFF_NOT_FOUND'], 409: ['SSO_NOT_LINKED'] },
  },
  'POST /api/admin/staff/:id/password': {
    tag: 'admin',
    summary: 'Set a new password (signs the account out everywhere)',
    access: admin,
    body: object({ password: { type: 'string', minLength: 8, maxLength: 128 } }, ['password']),
    ok: 204,
    returns: 'none',
    errors: { 404: ['STAFF_NOT_FOUND'] },
  },
  'GET /api/admin/settings': { tag: 'admin', summary: 'Review notice, stock opinions, SMS templates, retention', access: admin },
  'PUT /api/admin/settings': {
    tag: 'admin',
    summary: 'Change settings (any subset)',
    access: admin,
    body: fromZod(settingsInput),
    errors: { 400: ['SMS_TEMPLATE_PLACEHOLDER_UNKNOWN'] },
  },
  'POST /api/admin/settings/sms/test': {
    tag: 'admin',
    summary: 'Send one test SMS through the configured provider; a refusal names the provider and its reason',
    access: admin,
    body: object({ mobile: { type: 'string', pattern: '^1[3-9]\\d{9}$' } }, ['mobile']),
    errors: {
      400: ['VALIDATION_FAILED'],
      502: [
        'SMS_CREDENTIALS_REJECTED',
        'SMS_TEMPLATE_REJECTED',
        'SMS_MOBILE_INVALID',
        'SMS_THROTTLED',
        'SMS_PROVIDER_UNAVAILABLE',
        'SMS_OUTCOME_UNKNOWN',
        'SMS_REJECTED',
        'SMS_NOT_CONFIGURED',
      ],
    },
  },
  'POST /api/admin/settings/sms-preview': {
    tag: 'admin',
    summary: 'An SMS template filled with sample data',
    access: admin,
    body: object({ key: { type: 'string', enum: ['approved', 'refused', 'expired', 'taskAssigned', 'invitation'] }, template: str(500) }, ['key']),
  },
  'GET /api/admin/instances': {
    tag: 'admin',
    summary: 'Applications with their process instances, filtered',
    access: admin,
    query: {
      status: { type: 'string', enum: ['submitted', 'pending', 'approved', 'refused', 'expired', 'withdrawn'] },
      campusId: id,
      departmentId: id,
      from: date,
      to: date,
      flowNumber: str(32),
      ...paging,
    },
  },
  'GET /api/admin/instances/:id': {
    tag: 'admin',
    summary: 'An application with its instance: diagram, current and completed steps, variables, incidents',
    access: admin,
    errors: { 404: ['APPLICATION_NOT_FOUND'] },
  },
  'POST /api/admin/instances/:id/incidents/:key/retry': {
    tag: 'admin',
    summary: 'Resolve an incident: run the failed job or step again',
    access: admin,
    body: object({ retries: { type: 'integer', minimum: 1, maximum: 10 } }),
    errors: { 404: ['APPLICATION_NOT_FOUND', 'INCIDENT_NOT_FOUND'], 409: ['INCIDENT_NOT_RETRIABLE'] },
  },
  'POST /api/admin/instances/:id/cancel': {
    tag: 'admin',
    summary: 'Cancel the instance of an application not yet decided',
    access: admin,
    body: object({ reason: str(500) }),
    errors: { 404: ['APPLICATION_NOT_FOUND'], 409: ['APPLICATION_NOT_CANCELABLE'] },
  },
  'GET /api/admin/audit': {
    tag: 'admin',
    summary: 'The audit log, filtered',
    access: admin,
    query: {
      action: str(64),
      targetType: str(32),
      targetId: str(100),
      actorId: id,
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      ...paging,
    },
  },
  'GET /api/admin/reports/counts': {
    tag: 'admin',
    summary: 'Anonymous daily counts kept after retention purges',
    access: admin,
    query: { from: date, to: date },
  },
  // Reports: admins see everything, leaders their own department
  'GET /api/reports/visits': report('Applications per visit day, campus and department by outcome (purged days from the anonymous counts)'),
  'GET /api/reports/approval-times': report('Review step durations (p50, p90 in seconds) of steps started in the range, and submission to decision'),
  'GET /api/reports/refusals': report('Refusals by the reviewer\'s opinion, grouped (stock opinions, top 10 + other); ID numbers and mobiles masked'),
  'GET /api/reports/no-shows': report('Approved applications whose window passed without an entry at the gate, per day and department'),
  'GET /api/reports/peak-hours': report('Gate entries per hour of the campus day'),
  'GET /api/reports/export': {
    tag: 'reports',
    summary: 'A report as CSV (UTF-8 with BOM, formula-looking text prefixed with an apostrophe) or all of them as XLSX (a sheet each); audited',
    access: reportReader,
    query: {
      format: { type: 'string', enum: ['csv', 'xlsx'] },
      report: { type: 'string', enum: ['visits', 'approval-times', 'refusals', 'no-shows', 'peak-hours', 'all'], description: '`all` only with xlsx' },
      lang: { type: 'string', enum: ['zh', 'en'], default: 'zh' },
      ...reportFilter,
    },
    requiredQuery: ['format', 'report'],
    returns: 'spreadsheet',
    errors: reportErrors,
  },
  'GET /api/admin/watch-list': {
    tag: 'admin',
    summary: 'The watch list (deny list), newest first; ID numbers masked',
    access: admin,
    query: { active: { type: 'string', enum: ['true', 'false'] }, ...paging },
  },
  'POST /api/admin/watch-list': {
    tag: 'admin',
    summary: 'Add a watch-list entry by ID number (kept as blind index + masked form only), plate or name; audited',
    access: admin,
    body: fromZod(watchEntryInput),
    ok: 201,
    errors: { 400: ['ID_LENGTH', 'ID_FORMAT', 'ID_BIRTH_DATE', 'ID_CHECK_DIGIT', 'PLATE_INVALID'] },
  },
  'POST /api/admin/watch-list/import': {
    tag: 'admin',
    summary: 'Import watch-list entries from CSV (kind, value, organisation, reason, mode; all or nothing; dryRun reports)',
    access: admin,
    body: csvBody,
    errors: { 400: ['CSV_EMPTY', 'CSV_TOO_LARGE', 'CSV_UNREADABLE', 'CSV_HEADER_INVALID', 'CSV_INVALID'] },
  },
  'POST /api/admin/watch-list/:id/deactivate': {
    tag: 'admin',
    summary: 'Deactivate a watch-list entry (kept for the record); audited',
    access: admin,
    errors: { 404: ['WATCH_ENTRY_NOT_FOUND'] },
  },
  'GET /api/admin/gates': { tag: 'admin', summary: 'Gates of every campus (or of one), active or not', access: admin, query: { campusId: id } },
  'POST /api/admin/gates': {
    tag: 'admin',
    summary: 'Add a gate to an active campus; audited',
    access: admin,
    body: fromZod(gateCreateInput),
    ok: 201,
    errors: { 400: ['CAMPUS_NOT_FOUND'], 409: ['GATE_NAME_TAKEN'] },
  },
  'PUT /api/admin/gates/:id': {
    tag: 'admin',
    summary: 'Rename a gate (a gate stays on its campus); audited',
    access: admin,
    body: fromZod(gateUpdateInput),
    errors: { 404: ['GATE_NOT_FOUND'], 409: ['GATE_NAME_TAKEN'] },
  },
  'POST /api/admin/gates/:id/deactivate': {
    tag: 'admin',
    summary: 'Deactivate a gate (kept: recorded events name it); audited',
    access: admin,
    errors: { 404: ['GATE_NOT_FOUND'] },
  },
  'POST /api/admin/gates/:id/activate': {
    tag: 'admin',
    summary: 'Activate a gate again (its campus must be active); audited',
    access: admin,
    errors: { 400: ['CAMPUS_NOT_FOUND'], 404: ['GATE_NOT_FOUND'] },
  },
};

/** Every stable error code the API answers with, and what it means to a client. */
export const ERROR_CODES: Record<string, string> = {
  NOT_FOUND: 'no such address',
  METHOD_NOT_ALLOWED: 'the address exists, not with this method',
  VALIDATION_FAILED: 'an input is missing or wrong; `details` lists field and message',
  MALFORMED_JSON: 'the body is not JSON',
  BODY_TOO_LARGE: 'the body exceeds BODY_MAX_BYTES',
  UNSUPPORTED_MEDIA_TYPE: 'a write whose body is not JSON (multipart on /api/uploads)',
  INVALID_VALUE: 'a value the database cannot hold (out of range, too long)',
  SMS_CREDENTIALS_REJECTED: 'the SMS provider refused the credentials',
  SMS_TEMPLATE_REJECTED: 'the SMS provider refused the template or signature',
  SMS_MOBILE_INVALID: 'the SMS provider refused the mobile number',
  SMS_THROTTLED: 'the SMS provider throttled the send',
  SMS_PROVIDER_UNAVAILABLE: 'the SMS provider could not be reached or failed',
  SMS_OUTCOME_UNKNOWN: 'the send was cut off; whether it went out is unknown (not retried)',
  SMS_REJECTED: 'the SMS provider refused the send for another reason',
  SMS_NOT_CONFIGURED: 'the saved SMS settings cannot be used (incomplete next to the environment, or the sealed credentials do not decrypt); nothing was sent',
  INTEGRATION_SETTINGS_INVALID: 'a saved SMS or WeChat setting breaks the rule of its environment variable, or the whole is incomplete; `details` lists field and Chinese message',
  WECHAT_NOT_CONFIGURED: 'no WeChat AppID and AppSecret are set (saved or in the environment)',
  WECHAT_CREDENTIALS_REJECTED: 'WeChat refused the AppID / AppSecret or the server\'s IP address (errcode 40013, 40125, 40164, 48001)',
  WECHAT_THROTTLED: 'WeChat throttled the call',
  WECHAT_UNAVAILABLE: 'WeChat could not be reached or was busy',
  WECHAT_TOKEN_REJECTED: 'WeChat refused the access token',
  WECHAT_OUTCOME_UNKNOWN: 'no answer from WeChat in time',
  WECHAT_REJECTED: 'WeChat refused the call for another reason',
  SSO_NOT_LINKED: 'the staff member has no linked SSO account',
  BAD_REQUEST: 'some other malformed request',
  INTERNAL: 'a fault on the server, logged with the X-Request-Id of the answer',
  SERVER_BUSY: 'overloaded: nothing was done; retry after Retry-After seconds',
  CSRF_TOKEN_INVALID: 'X-CSRF-Token does not echo the vf_csrf cookie (GET /api/csrf)',
  UNAUTHENTICATED: 'sign in first',
  LOGIN_REQUIRED: 'sign in first (visitor or staff)',
  VISITOR_LOGIN_REQUIRED: 'sign in as a visitor first',
  STAFF_LOGIN_REQUIRED: 'sign in as staff first',
  FORBIDDEN: 'not allowed',
  ROLE_REQUIRED: 'the staff member lacks the role',
  INVALID_CREDENTIALS: 'wrong name, mobile or password',
  LOGIN_LOCKED: 'too many failed sign-ins; wait',
  LOCAL_LOGIN_DISABLED: 'STAFF_LOCAL_PASSWORDS=false: staff sign in through the campus SSO (GET /api/staff/sso/start)',
  SSO_NOT_CONFIGURED: 'STAFF_SSO=none: single sign-on is off',
  SSO_STATE_INVALID: 'the SSO callback has no started sign-in of this browser (missing, wrong, expired or already used state)',
  SSO_REJECTED: 'the provider refused the code or ticket (wrong, expired, already used) or its answer failed a check',
  SSO_PROVIDER_UNAVAILABLE: 'the OIDC provider or CAS server could not be reached',
  SSO_STAFF_KEY_MISSING: 'the provider sent no OIDC_STAFF_CLAIM / CAS_STAFF_ATTRIBUTE value to link the directory by',
  SSO_STAFF_NOT_FOUND: 'no staff member has that staff number or e-mail (or it is linked to another SSO account)',
  SSO_STAFF_INACTIVE: 'the linked staff member is deactivated',
  METRICS_TOKEN_REQUIRED: 'METRICS_TOKEN is set: send Authorization: Bearer <token>',
  METRICS_LOCAL_ONLY: 'METRICS_TOKEN is not set: only direct local requests may scrape',
  ID_LENGTH: 'the ID number is not 18 characters',
  APPLICATION_NOT_ACCEPTED: 'the application cannot be accepted (a neutral refusal: the watch list, not told to the visitor)',
  PLATE_INVALID: 'the vehicle plate is not 5 to 10 letters and digits',
  WATCH_ENTRY_NOT_FOUND: 'no such watch-list entry',
  GATE_NOT_FOUND: 'no such gate, or it is deactivated',
  GATE_NOT_IN_CAMPUS: 'the gate belongs to another campus than the one the event is recorded at',
  GATE_NAME_TAKEN: 'the campus already has a gate of that name',
  CAMPUS_NOT_IN_SCOPE: "a guard asked for another campus than their department's",
  VISITOR_NOT_ON_CAMPUS: 'the visitor is no longer listed as on campus (an exit was recorded meanwhile)',
  ID_FORMAT: 'the ID number has characters out of place',
  ID_BIRTH_DATE: 'the ID number holds no valid birth date',
  ID_CHECK_DIGIT: 'the ID number check digit is wrong',
  MOBILE_INVALID: 'not an 11-digit mainland mobile',
  MOBILE_ALREADY_REGISTERED: 'a visitor with this mobile exists',
  ID_NUMBER_ALREADY_REGISTERED: 'a visitor with this ID number exists',
  VISITOR_NOT_FOUND: 'the visitor account is gone',
  STAFF_NOT_FOUND: 'no such staff account',
  USERNAME_TAKEN: 'the user name is in use',
  STAFF_NO_TAKEN: 'another staff member has that staff number (what single sign-on links by)',
  CANNOT_DEMOTE_SELF: 'an admin cannot remove their own admin role',
  CANNOT_DEACTIVATE_SELF: 'an admin cannot deactivate their own account',
  CAMPUS_NOT_FOUND: 'no such campus',
  CAMPUS_CODE_TAKEN: 'the campus code is in use',
  CAMPUS_HAS_ACTIVE_DEPARTMENTS: 'deactivate its departments first',
  OPENING_HOURS_INVALID: 'opening hours do not make a day',
  DEPARTMENT_NOT_FOUND: 'no such department',
  DEPARTMENT_CODE_TAKEN: 'the department code is in use',
  DEPARTMENT_NOT_IN_CAMPUS: 'the department is not on the chosen campus',
  DEPARTMENT_REQUIRED: 'hosts and leaders belong to a department',
  HOST_NOT_FOUND: 'no such host in the department',
  CSV_REQUIRED: 'no CSV given',
  CSV_EMPTY: 'the CSV has no rows',
  CSV_TOO_LARGE: 'the CSV is too large',
  CSV_UNREADABLE: 'the CSV cannot be parsed',
  CSV_HEADER_INVALID: 'the CSV header lacks required columns',
  CSV_INVALID: 'rows of the CSV are wrong; `details` lists them',
  PROCESS_NOT_DEPLOYED: 'no deployed process of that id',
  PROCESS_VERSION_NOT_FOUND: 'no such version',
  BPMN_REQUIRED: 'no BPMN given',
  BPMN_TOO_LARGE: 'the BPMN is too large',
  BPMN_UNREADABLE: 'the BPMN cannot be parsed',
  BPMN_LAYOUT_FAILED: 'the BPMN has no diagram and could not be laid out',
  DEPLOYMENT_INVALID: 'the model uses what the engine does not support; `details` names the elements',
  FORM_NOT_FOUND: 'no such form',
  FORM_NOT_DEPLOYED: 'the form of a step is not deployed',
  FORM_NOT_PINNED: 'the process version has no form for that step',
  FORM_MISSING: 'a form the model refers to does not exist',
  FORM_SCHEMA_INVALID: 'the form JSON is not a usable Form.io form',
  FORM_INVALID: 'the submission does not pass the form; `details` lists the fields',
  START_FORM_MISSING: 'the deployed process has no start form',
  LEADER_NOT_ALLOWED: 'the chosen leader may not sign for this department',
  OPTION_NOT_ALLOWED: 'a value is not one of the choices',
  VISIT_WINDOW_INVALID: 'the visit window is not a window',
  VISIT_WINDOW_PAST: 'the visit window has passed',
  VISIT_WINDOW_OUTSIDE_HOURS: 'the visit window is outside the campus opening hours',
  APPLICATION_NOT_FOUND: 'no such application (or not yours)',
  INVITATION_NOT_FOUND: 'no such invitation (a wrong link, or another host\'s)',
  INVITATION_MOBILE_INVALID: 'the visitor mobile is not an 11-digit mainland mobile',
  INVITATION_DEPARTMENT_NOT_OWN: 'a host invites only to his own department',
  INVITATION_DEPARTMENT_REQUIRED: 'the host has no active department',
  INVITATION_LEADER_INVALID: 'the leader is not a leader of the department',
  INVITATION_SMS_UNAVAILABLE: 'the SMS provider in use has no template for the invitation SMS',
  INVITATION_NOT_CANCELABLE: 'the invitation is used, canceled or expired',
  INVITATION_USED: 'the invitation was used for an application already',
  INVITATION_CANCELED: 'the host canceled the invitation',
  INVITATION_EXPIRED: 'the invitation\'s visit window has ended',
  INVITATION_MOBILE_MISMATCH: 'the visitor logged in with another mobile than the invited one',
  INVITATION_HOST_UNAVAILABLE: 'the inviting host is no longer active',
  INVITATION_LEADER_UNAVAILABLE: 'the leader the invitation names can no longer sign',
  APPLICATION_NOT_WITHDRAWABLE: 'the application is decided',
  APPLICATION_NOT_CANCELABLE: 'the application is decided',
  TASK_NOT_FOUND: 'no such task (or not visible to you)',
  TASK_NOT_OPEN: 'the task is completed or withdrawn',
  TASK_ALREADY_CLAIMED: 'someone else claimed the task',
  TASK_NOT_CLAIMED_BY_YOU: 'claim the task first',
  INCIDENT_NOT_FOUND: 'no such open incident',
  INCIDENT_NOT_RETRIABLE: 'the engine refused to retry',
  PASS_INPUT_REQUIRED: 'send a scanned payload or a short code',
  PASS_NOT_FOUND: 'no such pass',
  PASS_NOT_AVAILABLE: 'no pass issued (yet) for the application',
  PASS_LINK_INVALID: "no pass for this link token (a companion's SMS link of a group visit)",
  COMPANION_NOT_FOUND: 'the application lists no companion at this position',
  COMPANION_PASS_NOT_ISSUED: "the companion's pass is issued when the application is approved: no link yet",
  COMPANION_PASS_NOT_VALID: "the companion's pass is revoked or expired: no link is sent",
  COMPANION_LINK_SMS_UNAVAILABLE: 'the SMS vendor has no template mapped for `companionPass`',
  COMPANION_LINK_TOO_SOON: 'the link was sent less than a minute ago (`details.retryAfterSeconds`)',
  COMPANION_LINK_LIMIT: 'the link of this pass was sent again 5 times already (`details.max`)',
  COMPANIONS_TOO_MANY: 'a group visit lists more companions than allowed (`details[0].max`)',
  COMPANION_NAME_INVALID: "a companion's name is missing or too long; `details` lists the rows",
  COMPANION_ID_INVALID: "a companion's resident ID number is not valid (GB 11643); `details` lists the rows",
  COMPANION_MOBILE_INVALID: "a companion's mobile number is not valid; `details` lists the rows",
  COMPANION_DUPLICATE: 'two companions have the same resident ID number',
  COMPANION_IS_APPLICANT: 'the applicant listed himself as a companion',
  PASS_NOT_VALID: 'the pass is revoked, outside its window or for another campus; `details` tells',
  UPLOAD_MISSING: 'no file in the request',
  UPLOAD_EMPTY: 'the file is empty',
  UPLOAD_MALFORMED: 'the multipart body is broken',
  UPLOAD_FIELD_INVALID: 'the file field must be named file',
  UPLOAD_TOO_MANY_FILES: 'one file per request',
  UPLOAD_TOO_LARGE: 'the file exceeds UPLOAD_MAX_BYTES',
  UPLOAD_TYPE_NOT_ALLOWED: 'only images and PDF',
  UPLOAD_NOT_FOUND: 'no such file (or not visible to you)',
  SMS_TEMPLATE_PLACEHOLDER_UNKNOWN: 'the template uses a placeholder that does not exist',
  REPORT_RANGE_INVALID: 'the report range starts after it ends',
  REPORT_RANGE_TOO_LONG: 'the report range is longer than 366 days',
  REPORT_FILTER_INVALID: 'the campus or department filter names none, or a department of another campus; `details` names the field',
  REPORT_DEPARTMENT_FORBIDDEN: "a leader asked for another department's report (or belongs to none)",
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Too large',
  415: 'Unsupported content',
  429: 'Too many attempts',
  502: 'The SMS provider refused or failed',
  503: 'Server busy (Retry-After)',
};

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function security(method: string, access: Access): Array<Record<string, string[]>> {
  const csrf: Record<string, string[]> = UNSAFE.has(method) ? { csrfToken: [] } : {};
  switch (access.who) {
    case 'anonymous':
      return UNSAFE.has(method) ? [csrf] : [];
    case 'visitor':
      return [{ visitorSession: [], ...csrf }];
    case 'staff':
      return [{ staffSession: [], ...csrf }];
    case 'visitor-or-staff':
      return [
        { visitorSession: [], ...csrf },
        { staffSession: [], ...csrf },
      ];
    case 'scraper':
      return [{ metricsToken: [] }, {}];
  }
}

function errorResponses(method: string, path: string, op: Operation): Record<string, unknown> {
  const codes = new Map<number, Set<string>>();
  const add = (status: number, ...list: string[]) => {
    const set = codes.get(status) ?? new Set<string>();
    for (const c of list) set.add(c);
    codes.set(status, set);
  };
  if (op.access.who === 'visitor') add(401, 'VISITOR_LOGIN_REQUIRED');
  if (op.access.who === 'staff') {
    add(401, 'STAFF_LOGIN_REQUIRED');
    if (op.access.roles.length) add(403, 'ROLE_REQUIRED');
  }
  if (UNSAFE.has(method) && op.access.who !== 'scraper') add(403, 'CSRF_TOKEN_INVALID');
  if (op.body && op.body !== 'multipart') {
    add(400, 'VALIDATION_FAILED', 'MALFORMED_JSON');
    add(413, 'BODY_TOO_LARGE');
  } else if (op.query) add(400, 'VALIDATION_FAILED');
  for (const [status, list] of Object.entries(op.errors ?? {})) add(Number(status), ...(list ?? []));
  if (path.startsWith('/api/')) add(503, 'SERVER_BUSY');
  const out: Record<string, unknown> = {};
  for (const [status, set] of [...codes].sort(([a], [b]) => a - b)) {
    const list = [...set];
    out[String(status)] = {
      description: `${STATUS_TEXT[status] ?? 'Error'}: ${list.join(', ')}`,
      ...(status === 503 ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
      content: {
        'application/json': {
          schema: {
            allOf: [{ $ref: '#/components/schemas/Error' }, { properties: { error: { properties: { code: { enum: list } } } } }],
          },
        },
      },
    };
  }
  return out;
}

const SUCCESS_CONTENT: Record<NonNullable<Operation['returns']>, Record<string, unknown> | undefined> = {
  json: { 'application/json': { schema: { type: 'object' } } },
  none: undefined,
  png: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } },
  bpmn: { 'application/xml': { schema: { type: 'string' } } },
  file: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
  prometheus: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
  spreadsheet: {
    'text/csv; charset=utf-8': { schema: { type: 'string' } },
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': { schema: { type: 'string', contentMediaType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' } },
  },
};

/** `/api/x/:id` (the router's pattern) as an OpenAPI path, `/api/x/{id}`, with its parameter names. */
export function toOpenApiPath(pattern: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = pattern.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    params.push(name);
    return `{${name}}`;
  });
  return { path, params };
}

function build(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [key, op] of Object.entries(OPERATIONS)) {
    const [method, pattern] = key.split(' ');
    const { path, params } = toOpenApiPath(pattern);
    const parameters = [
      ...params.map((name) => ({ name, in: 'path', required: true, schema: name === 'id' ? id : { type: 'string' } })),
      ...Object.entries(op.query ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: (op.tag === 'admin' && pattern.endsWith('/reports/counts')) || (op.requiredQuery ?? []).includes(name),
        schema,
      })),
    ];
    const operation: Record<string, unknown> = {
      operationId: `${method.toLowerCase()}${pattern.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      tags: [op.tag],
      security: security(method, op.access),
      ...(op.access.who === 'staff' && op.access.roles.length ? { 'x-roles': op.access.roles } : {}),
      ...(parameters.length ? { parameters } : {}),
    };
    if (op.body === 'multipart') {
      operation.requestBody = {
        required: true,
        content: { 'multipart/form-data': { schema: object({ file: { type: 'string', contentMediaType: 'application/octet-stream' } }, ['file']) } },
      };
    } else if (op.body) {
      operation.requestBody = { required: true, content: { 'application/json': { schema: op.body } } };
    }
    const content = SUCCESS_CONTENT[op.returns ?? 'json'];
    operation.responses = {
      [String(op.ok ?? 200)]: { description: 'Success', ...(content ? { content } : {}) },
      ...errorResponses(method, pattern, op),
    };
    paths[path] ??= {};
    paths[path][method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'visitflow API',
      version: '0.1.0',
      description:
        'Campus visitor passes. Errors are `{ "error": { "code", "message", "details"? } }` with a stable `code` (ErrorCode) and a message for users (Chinese). ' +
        'Sessions are HttpOnly cookies (vf_visitor, vf_staff); every POST/PUT/PATCH/DELETE must echo the vf_csrf cookie in X-CSRF-Token (GET /api/csrf). ' +
        'x-roles lists the staff roles an operation accepts (any one of them). Every answer carries X-Request-Id.',
    },
    servers: [{ url: '/' }],
    tags: ['operations', 'session', 'visitors', 'directory', 'applications', 'passes', 'uploads', 'staff', 'tasks', 'invitations', 'gate', 'admin', 'reports'].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        visitorSession: { type: 'apiKey', in: 'cookie', name: 'vf_visitor', description: 'Set by visitor register/login' },
        staffSession: { type: 'apiKey', in: 'cookie', name: 'vf_staff', description: 'Set by staff login; roles host, leader, admin, guard' },
        csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'The value of the vf_csrf cookie' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN; when unset, /metrics answers only direct local requests' },
      },
      headers: {
        RetryAfter: { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } },
      },
      schemas: {
        ErrorCode: { type: 'string', enum: Object.keys(ERROR_CODES), description: Object.entries(ERROR_CODES).map(([c, d]) => `${c}: ${d}`).join('\n') },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { $ref: '#/components/schemas/ErrorCode' },
                message: { type: 'string', description: 'For users, Chinese' },
                details: { description: 'Field problems (`[{ field, message }]`) or other specifics of the code' },
              },
            },
          },
        },
      },
    },
  };
}

let document: string | undefined;
/** The description as JSON text, built once per process. */
export function openApiJson(): string {
  document ??= JSON.stringify(build());
  return document;
}

export function openApiRoutes() {
  const router = new Router<AppState>();
  router.get('/api/openapi.json', (ctx) => {
    ctx.body = openApiJson();
    ctx.set('Content-Type', 'application/json; charset=utf-8');
  });
  return router;
}
