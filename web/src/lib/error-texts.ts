/**
 * English texts for the API's error codes (`{error: {code, message, details}}`, see server/errors.ts), for the
 * errors a visitor, host, leader or guard can meet. The server always answers in Chinese; errorMessage() in
 * api.ts shows these texts when the page is in English and the code is known, otherwise the server's message.
 *
 * A server text with values in it (the lock-out time, the campus opening hours, a campus name) keeps them:
 * the English text is built from `details` when the server sends them (retryAfterSeconds, maxBytes, reason);
 * when it does not, the entry answers undefined and the server's own message is shown.
 * The administrator's pages are not covered (they use their own codes and stay with the server's text).
 */
import { formStringsEn } from './form-i18n-en.ts';

export interface ErrorInput {
  status: number;
  code: string;
  /** The server's (Chinese) message. */
  message: string;
  details?: unknown;
}

type Entry = string | ((e: ErrorInput) => string | undefined);

const record = (x: unknown): Record<string, unknown> => (x && typeof x === 'object' && !Array.isArray(x) ? (x as Record<string, unknown>) : {});

/** An SMS vendor's refusal: our sentence, then the vendor's code and text (which stay as the vendor sent them). */
function smsVendorText(sentence: string, e: ErrorInput): string {
  const d = record(e.details);
  const vendor = [d.vendorCode, d.vendorMessage].filter((x) => typeof x === 'string' && x).join(' ');
  return vendor ? `${sentence}: ${vendor}` : sentence;
}

function waitText(seconds: number): string {
  if (seconds > 60) {
    const minutes = Math.max(1, Math.ceil(seconds / 60));
    return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

function bytesText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Number((bytes / 1024 / 1024).toFixed(1))} MB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KB`;
  return `${bytes} bytes`;
}

/**
 * Gate check verdicts by reason (the verify answer's `reason`, or `details.reason` of PASS_NOT_VALID); the values
 * of WRONG_CAMPUS and NOT_YET_VALID come as `reasonParams` (in `details` for PASS_NOT_VALID).
 */
export function passReasonText(reason: string | undefined, params: Record<string, unknown> = {}): string | undefined {
  if (reason === undefined) return 'The pass is valid. Check the visitor\'s identity, then let them in.';
  if (reason === 'WRONG_CAMPUS') return typeof params.campus === 'string' ? `This pass is for another campus (${params.campus}).` : undefined;
  if (reason === 'NOT_YET_VALID') {
    const minutes = Number(params.earlyMinutes);
    return Number.isFinite(minutes) ? `Too early: entry opens ${minutes} minutes before the visit starts.` : undefined;
  }
  return passReasons[reason];
}

/** Warnings of a recorded entry or exit (the record answer's `warning.code`). */
export const gateWarningsEn: Record<string, string> = {
  ENTRY_WITHOUT_EXIT: 'This visitor\'s last entry has no exit recorded; this entry is recorded.',
  EXIT_WITHOUT_ENTRY: 'This visitor has no entry recorded; this exit is recorded.',
};

const passReasons: Record<string, string> = {
  SIGNATURE_INVALID: 'The QR code signature is invalid: the pass may be forged or altered. Do not admit.',
  QR_EXPIRED: 'The QR code has expired (perhaps a screenshot). Ask the visitor to refresh the pass on the phone and show it again.',
  EXPIRED: 'The pass has expired: the approved visit time is over.',
  REVOKED: 'The pass has been revoked (the application was withdrawn or cancelled). Do not admit.',
  UNKNOWN_CODE: 'No such pass code. Check it and type it again.',
  MALFORMED: "The QR code is not recognised. Scan the entry pass on the visitor's phone.",
};

/** Application statuses as the server writes them into APPLICATION_NOT_WITHDRAWABLE. */
const statusTexts: Record<string, string> = {
  '已提交，正在送审': 'has been sent for review',
  审核中: 'is in review',
  已通过: 'has been approved',
  未通过: 'has been refused',
  '已失效（超时未审核）': 'has expired (not reviewed in time)',
  已撤回: 'has been withdrawn',
};

/** Field messages of the registration and login requests (zod, code VALIDATION_FAILED). */
const validationTexts: Record<string, string> = {
  '请输入 11 位手机号': 'Enter an 11-digit mobile number',
  请填写姓名: 'Enter your name',
  姓名不能超过50个字: 'The name can be at most 50 characters',
  '请填写单位（个人请填“个人”）': 'Enter your organisation (write 个人 if you come privately)',
  单位名称不能超过100个字: 'The organisation can be at most 100 characters',
  请填写身份证号: 'Enter your resident ID number',
  身份证号应为18位: 'The resident ID number has 18 characters',
  请填写手机号: 'Enter your mobile number',
  请填写正确的手机号: 'Enter a valid mobile number',
  请填写密码: 'Enter the password',
  密码不正确: 'Wrong password',
  请填写用户名: 'Enter the user name',
  用户名或密码不正确: 'Wrong user name or password',
  '日期格式应为 YYYY-MM-DD': 'Use the date format YYYY-MM-DD',
  表单内容格式不正确: 'The form content is not valid',
  申请内容格式不正确: 'The application content is not valid',
  二维码内容无效: 'The QR code content is not valid',
  无法识别的二维码: 'The QR code is not recognised',
  通行码无效: 'The pass code is not valid',
  '通行码不存在，请核对后重新输入': 'No such pass code. Check it and type it again.',
  输入有误: 'The input is not valid',
  请填写访客手机号: "Enter the visitor's mobile number",
  请选择审批的部门主管领导: 'Choose the leader who approves',
  邀请链接无效: 'The invitation link is not valid',
};

/** The field messages of a group visit's companions (server/companions). */
const companionTexts: Record<string, string> = {
  请填写同行人员姓名: "Enter the companion's name",
  姓名不能超过50个字: 'The name can be at most 50 characters',
  身份证号应为18位: 'The resident ID number has 18 characters',
  '身份证号格式不正确：前17位应为数字，最后一位为数字或X': 'The resident ID number is not valid: 17 digits, then a digit or X',
  身份证号中的出生日期无效: 'The birth date in the resident ID number is not valid',
  '身份证号校验位不正确，请核对后重新输入': 'The check digit of the resident ID number is wrong. Check the number and enter it again.',
  请填写正确的11位手机号: 'Enter a valid 11-digit mobile number',
  同行人员不能是申请人本人: 'You cannot list yourself as a companion',
};

function companionText(message: string): string | undefined {
  const duplicate = /^与第(\d+)位同行人员的身份证号重复$/.exec(message);
  return duplicate ? `Same resident ID number as companion ${duplicate[1]}` : companionTexts[message];
}

const formLabel = (label: string) => formStringsEn[label];

/**
 * A message of the server's form validation (FORM_INVALID): the form's own messages are in the form dictionary;
 * the server's built-in ones name the field's label (form.validator.ts), translated when the label is known.
 */
function formMessage(message: string): string | undefined {
  if (formStringsEn[message]) return formStringsEn[message];
  const patterns: [RegExp, (label: string, n: string) => string][] = [
    [/^请填写(.+)$/, (l) => `Enter the ${l.toLowerCase()}`],
    [/^(.+)格式不正确$/, (l) => `${l}: the format is not valid`],
    [/^(.+)至少需要(\d+)个字符$/, (l, n) => `${l} needs at least ${n} characters`],
    [/^(.+)不能超过(\d+)个字符$/, (l, n) => `${l} can be at most ${n} characters`],
    [/^(.+)不是可选的值$/, (l) => `${l}: not one of the choices`],
    [/^(.+)不是有效的日期$/, (l) => `${l} is not a valid date`],
    [/^(.+)不是有效的时间$/, (l) => `${l} is not a valid time`],
    [/^(.+)填写有误$/, (l) => `${l} is not valid`],
  ];
  for (const [re, make] of patterns) {
    const m = re.exec(message);
    const label = m && formLabel(m[1]);
    if (label) return make(label, m[2] ?? '');
  }
  return undefined;
}

const residentId: Record<string, string> = {
  ID_LENGTH: 'The resident ID number has 18 characters',
  ID_FORMAT: 'The resident ID number is not valid: 17 digits followed by a digit or X',
  ID_BIRTH_DATE: 'The date of birth in the resident ID number is not valid',
  ID_CHECK_DIGIT: 'The check digit of the resident ID number is wrong. Check the number and enter it again.',
};

export const errorTextsEn: Record<string, Entry> = {
  // Login, session, CSRF, throttling
  INVALID_CREDENTIALS: (e) => (e.message.includes('用户名') ? 'Wrong user name or password' : 'Wrong mobile number or password'),
  LOGIN_LOCKED: (e) => {
    const seconds = Number(record(e.details).retryAfterSeconds);
    if (!Number.isFinite(seconds) || seconds <= 0) return undefined;
    return `Too many failed logins. Try again in ${waitText(Math.ceil(seconds))}.`;
  },
  UNAUTHENTICATED: 'Please log in',
  LOGIN_REQUIRED: 'Please log in',
  VISITOR_LOGIN_REQUIRED: 'Please log in',
  STAFF_LOGIN_REQUIRED: 'Please log in with your staff account',
  ROLE_REQUIRED: 'You are not allowed to do this',
  FORBIDDEN: 'Access denied',
  CSRF_TOKEN_INVALID: 'The page has expired. Reload it and try again.',
  STAFF_NOT_FOUND: 'The account does not exist',
  VISITOR_NOT_FOUND: 'The account does not exist',

  // Registration
  ...residentId,
  MOBILE_INVALID: 'Enter a valid 11-digit mobile number',
  MOBILE_ALREADY_REGISTERED: 'This mobile number is already registered. Please log in.',
  ID_NUMBER_ALREADY_REGISTERED: 'This resident ID number is already registered. Log in with the mobile number you registered with.',

  // Application
  FORM_INVALID: (e) => formMessage(e.message),
  START_FORM_MISSING: 'The process has no application form',
  CAMPUS_NOT_FOUND: 'The chosen campus does not exist',
  DEPARTMENT_NOT_IN_CAMPUS: 'The chosen department does not belong to this campus',
  HOST_NOT_FOUND: 'The host name or mobile number does not match a host registered for this department',
  VISIT_WINDOW_INVALID: 'Enter a valid visit date and time (the end time later than the start time)',
  VISIT_WINDOW_OUTSIDE_HOURS: (e) => {
    const hours = (Array.isArray(e.details) ? e.details : []).find((d: any) => d && typeof d.opensAt === 'string' && typeof d.closesAt === 'string');
    return hours ? `The visit must lie within the opening hours of ${hours.campus}: ${hours.opensAt} to ${hours.closesAt}` : undefined;
  },
  VISIT_WINDOW_PAST: 'The visit must be later than now',
  APPLICATION_NOT_ACCEPTED: 'Your application cannot be accepted for now. If you have questions, contact the department you are visiting.',
  APPLICATION_NOT_FOUND: 'The application does not exist',
  APPLICATION_NOT_WITHDRAWABLE: (e) => {
    if (e.message === '该申请当前不能撤回') return 'This application cannot be withdrawn now';
    const status = /^该申请(.+)，不能撤回$/.exec(e.message)?.[1];
    return status && statusTexts[status] ? `This application ${statusTexts[status]} and cannot be withdrawn` : undefined;
  },
  // FORM_NOT_FOUND and FORM_NOT_PINNED name the form and its version: the server's message stays.

  // Tasks (hosts and leaders)
  TASK_NOT_FOUND: 'The task does not exist',
  TASK_NOT_OPEN: 'The task has already been handled or cancelled',
  TASK_ALREADY_CLAIMED: 'Someone else has claimed this task',
  TASK_NOT_CLAIMED_BY_YOU: 'You can only give back tasks you claimed',
  LEADER_NOT_ALLOWED: "Choose a leader of the application's department",
  OPTION_NOT_ALLOWED: (e) => formMessage(e.message),

  // Hosts' pre-invitations (the host's form, the visitor's link)
  INVITATION_MOBILE_INVALID: "Enter the visitor's valid 11-digit mobile number",
  INVITATION_DEPARTMENT_NOT_OWN: 'You can only invite visitors to your own department',
  INVITATION_DEPARTMENT_REQUIRED: 'Your account belongs to no active department, so you cannot invite visitors',
  INVITATION_LEADER_INVALID: "Choose a leader of your department",
  INVITATION_SMS_UNAVAILABLE: 'The SMS service has no template for invitations yet: invitations cannot be sent. Contact the administrator.',
  INVITATION_NOT_FOUND: 'The invitation does not exist or the link is wrong',
  INVITATION_NOT_CANCELABLE: 'Only an unused invitation can be cancelled',
  INVITATION_USED: 'This invitation has been used: the application is submitted. See "My applications" for its progress.',
  INVITATION_CANCELED: 'The host has cancelled this invitation',
  INVITATION_EXPIRED: 'This invitation has expired (the visit time is over)',
  INVITATION_MOBILE_MISMATCH: (e) => {
    const masked = /手机号 (\S+?)，/.exec(e.message)?.[1];
    return masked
      ? `This invitation was sent to ${masked}. Log out, then register or log in with that mobile number.`
      : 'This invitation was sent to another mobile number. Log out, then register or log in with that number.';
  },
  INVITATION_HOST_UNAVAILABLE: 'The host who invited you can no longer receive visitors. Ask for a new invitation.',
  INVITATION_LEADER_UNAVAILABLE: 'The leader named in the invitation can no longer approve. Ask the host for a new invitation.',

  // Reports (leaders on the staff page)
  REPORT_RANGE_INVALID: 'The start date must not be later than the end date',
  REPORT_RANGE_TOO_LONG: (e) => {
    const days = /最长 (\d+) 天/.exec(e.message)?.[1];
    return days ? `The date range can be at most ${days} days` : undefined;
  },
  REPORT_FILTER_INVALID: (e) =>
    ({ 校区不存在: 'The chosen campus does not exist', 部门不存在: 'The chosen department does not exist', 该部门不在所选校区: 'The chosen department does not belong to this campus' })[
      e.message
    ],
  REPORT_DEPARTMENT_FORBIDDEN: (e) =>
    e.message === '只能查看本部门的报表' ? "You can only see your own department's reports" : 'You belong to no department, so there is no department report for you',

  // Uploads
  UPLOAD_TOO_LARGE: (e) => {
    const max = Number(record(e.details).maxBytes);
    return Number.isFinite(max) && max > 0 ? `The file is too large: each file can be at most ${bytesText(max)}` : undefined;
  },
  UPLOAD_TYPE_NOT_ALLOWED: 'Only JPG or PNG images and PDF files can be uploaded',
  UPLOAD_NOT_FOUND: (e) =>
    e.status === 404 ? 'The file does not exist or you may not view it' : 'An attachment does not exist or has expired. Upload it again.',
  UPLOAD_EMPTY: 'The file is empty',
  UPLOAD_MALFORMED: 'The upload request is not valid. Choose the file and upload it again.',
  UPLOAD_FIELD_INVALID: 'The file field must be named "file"',
  UPLOAD_TOO_MANY_FILES: 'Upload one file at a time',
  UPLOAD_MISSING: 'Choose a file to upload',

  // Passes and the gate
  PASS_NOT_AVAILABLE: 'The pass has not been issued yet or is not available',
  PASS_LINK_INVALID: 'This pass link is not valid. Check the link in the SMS.',
  // Group visits: the companions of an application (each field message is translated by companionTexts)
  COMPANIONS_TOO_MANY: (e) => {
    const max = Number(record(Array.isArray(e.details) ? e.details[0] : undefined).max);
    return Number.isInteger(max) ? `At most ${max} companions` : undefined;
  },
  COMPANION_NAME_INVALID: (e) => companionTexts[e.message],
  COMPANION_ID_INVALID: (e) => companionTexts[e.message],
  COMPANION_MOBILE_INVALID: (e) => companionTexts[e.message],
  COMPANION_DUPLICATE: (e) => companionText(e.message),
  COMPANION_IS_APPLICANT: 'You cannot list yourself as a companion',
  COMPANION_NOT_FOUND: 'This application has no such companion',
  COMPANION_PASS_NOT_ISSUED: 'Companions get the link to their pass once the application is approved',
  COMPANION_PASS_NOT_VALID: (e) =>
    e.message.includes('过期') ? "This companion's pass has expired: no link is sent" : "This companion's pass has been revoked: no link is sent",
  COMPANION_LINK_SMS_UNAVAILABLE: 'The pass link cannot be sent by SMS at the moment. Please contact the department you visit.',
  COMPANION_LINK_TOO_SOON: (e) => {
    const seconds = Number(record(e.details).retryAfterSeconds);
    return Number.isFinite(seconds) && seconds > 0 ? `The link was just sent. Try again in ${waitText(Math.ceil(seconds))}.` : undefined;
  },
  COMPANION_LINK_LIMIT: (e) => {
    const max = Number(record(e.details).max);
    return Number.isInteger(max)
      ? `The link has been sent again ${max} times and cannot be sent any more. If it still does not arrive, please contact the department you visit.`
      : undefined;
  },
  PASS_INPUT_REQUIRED: 'Scan the QR code or type the pass code',
  PASS_NOT_FOUND: 'The pass code does not exist',
  PASS_NOT_VALID: (e) => {
    const details = record(e.details);
    return typeof details.reason === 'string' ? passReasonText(details.reason, details) : undefined;
  },
  GATE_NOT_FOUND: 'The gate does not exist or has been deactivated',
  GATE_NOT_IN_CAMPUS: 'The chosen gate belongs to another campus',
  GATE_NAME_TAKEN: 'This campus already has a gate of that name',
  CAMPUS_NOT_IN_SCOPE: 'You can only see the visitors of your own campus',
  VISITOR_NOT_ON_CAMPUS: 'The visitor is no longer on campus (the exit may just have been recorded at a gate). Refresh the list.',

  // The administrator's SMS send test: our sentence, then the vendor's own code and text as sent
  SMS_CREDENTIALS_REJECTED: (e) => smsVendorText('The SMS vendor refused the credentials (AccessKey / SecretId or secret wrong, disabled or not allowed)', e),
  SMS_TEMPLATE_REJECTED: (e) => smsVendorText('The sign name or template is not approved, does not exist or does not match its parameters', e),
  SMS_MOBILE_INVALID: (e) => smsVendorText('The SMS vendor refused this mobile number', e),
  SMS_THROTTLED: (e) => smsVendorText('The SMS vendor is throttling: try again later', e),
  SMS_PROVIDER_UNAVAILABLE: (e) => smsVendorText('The SMS vendor is unavailable or cannot be reached', e),
  SMS_OUTCOME_UNKNOWN: (e) => smsVendorText('The SMS vendor did not answer: the SMS may have been sent', e),
  SMS_REJECTED: (e) => smsVendorText('The SMS vendor refused to send', e),

  // Generic
  VALIDATION_FAILED: (e) => validationTexts[e.message],
  NOT_FOUND: 'The requested address does not exist',
  METHOD_NOT_ALLOWED: 'This request method is not supported',
  BODY_TOO_LARGE: 'The request is too large',
  MALFORMED_JSON: 'The request is not valid JSON',
  UNSUPPORTED_MEDIA_TYPE: 'This content type is not supported',
  BAD_REQUEST: 'The request is not valid',
  INTERNAL: 'Server error. Please try again later.',
};

/** The English text of an API error, or undefined when the code is unknown or its values cannot be kept. */
export function englishErrorText(e: ErrorInput): string | undefined {
  const entry = Object.hasOwn(errorTextsEn, e.code) ? errorTextsEn[e.code] : undefined;
  return typeof entry === 'function' ? entry(e) : entry;
}

/**
 * The English text of a field-level message (`details: [{field, message}]`) when the code makes it unambiguous:
 * the same text as the top-level message, or one of the known field texts of FORM_INVALID, VALIDATION_FAILED and
 * the application's domain rules. Anything else answers undefined and stays as sent.
 */
export function englishFieldText(e: ErrorInput, field: { field: string; message: string }): string | undefined {
  switch (e.code) {
    case 'FORM_INVALID':
      return formMessage(field.message);
    case 'VALIDATION_FAILED':
      return validationTexts[field.message];
    case 'VISIT_WINDOW_INVALID':
      return field.message === '结束时间应晚于开始时间' ? formStringsEn.结束时间须晚于开始时间 : undefined;
    case 'OPTION_NOT_ALLOWED':
      return field.message === '不是可选的值' ? 'Not one of the choices' : undefined;
    case 'COMPANION_NAME_INVALID':
    case 'COMPANION_ID_INVALID':
    case 'COMPANION_MOBILE_INVALID':
    case 'COMPANION_DUPLICATE':
    case 'COMPANION_IS_APPLICANT':
      // One refusal lists every row's problem, whatever its kind.
      return companionText(field.message);
  }
  return field.message === e.message ? englishErrorText(e) : undefined;
}
