import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { maskIdNumber, maskMobile } from '../crypto/field-crypto.ts';
import { blotSecrets } from './sms.secrets.ts';

/** One message as the outbox hands it to a provider. */
export interface SmsSendRequest {
  /** The clear mobile (11 digits, mainland). Never logged in clear. */
  to: string;
  /** Our template name (approved, refused, expired, taskAssigned, test): providers in China send templates, not free text. */
  template: string;
  /** The values the template was rendered with, by our placeholder names. */
  params: Record<string, string>;
  /** The rendered text, as the recipient reads it (the console provider prints it; vendors render their own copy). */
  body: string;
  /**
   * Our event's id (the outbox row), handed to the vendor as its external id (aliyun OutId, tencent
   * SessionContext), which it echoes in delivery receipts: a support case or a double send can be traced to it.
   */
  reference?: string;
}

export interface SmsProvider {
  name: string;
  send(message: SmsSendRequest): Promise<{ messageId: string }>;
  /** Whether a template name has a vendor template (absent: every template can be sent, e.g. the console). */
  hasTemplate?(template: string): boolean;
}

/**
 * Stable codes of provider failures, for the outbox, the admin API and the admin page. The vendor's own code
 * and text travel beside them (vendorCode, message).
 */
export type SmsErrorCode =
  /** Throttled or over a frequency/daily limit: retried with back-off. */
  | 'SMS_THROTTLED'
  /** The vendor answered 5xx or an internal error, or could not be reached (the request never left): retried. */
  | 'SMS_PROVIDER_UNAVAILABLE'
  /** AccessKey/SecretId unknown, secret wrong (signature refused), not authorised: not retried. */
  | 'SMS_CREDENTIALS_REJECTED'
  /** Sign name or template not approved, unknown template id, parameters not matching the template: not retried. */
  | 'SMS_TEMPLATE_REJECTED'
  /** The mobile number was refused (format, blacklist): not retried. */
  | 'SMS_MOBILE_INVALID'
  /**
   * The request may have reached the vendor but no answer came (time-out or connection lost after sending):
   * not retried, because a retry could send the message twice.
   */
  | 'SMS_OUTCOME_UNKNOWN'
  /** Any other refusal by the vendor (e.g. account out of balance): not retried. */
  | 'SMS_REJECTED'
  /**
   * The saved SMS settings cannot be used (incomplete next to the environment, or the stored credentials no
   * longer decrypt): nothing was sent; retried, so messages go out once an administrator fixes the settings.
   */
  | 'SMS_NOT_CONFIGURED';

const RETRYABLE: ReadonlySet<SmsErrorCode> = new Set(['SMS_THROTTLED', 'SMS_PROVIDER_UNAVAILABLE', 'SMS_NOT_CONFIGURED']);

/** A provider failure classified as retryable (the outbox tries again later) or permanent (marked failed at once). */
export class SmsProviderError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: SmsErrorCode,
    message: string,
    readonly vendorCode?: string,
  ) {
    super(message);
    this.name = 'SmsProviderError';
    this.retryable = RETRYABLE.has(code);
  }

  /** The line kept in the outbox: stable code, vendor code, vendor text. */
  describe(): string {
    return `${this.code}${this.vendorCode ? ` (${this.vendorCode})` : ''}: ${this.message}`;
  }
}

/**
 * Masks anything in a text that looks like a mainland mobile or a resident ID number. Templates should only
 * ever carry masked values, but a log line must stay clean even when one does not.
 */
export function maskPersonalNumbers(text: string): string {
  return text
    .replace(/(?<!\d)\d{17}[\dXx](?!\d)/g, (id) => maskIdNumber(id))
    .replace(/(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)/g, (m) => maskMobile(m.replace(/^\+?86[- ]?/, '')));
}

/**
 * The default provider: "sends" by writing a log line. The recipient is masked, never written in clear;
 * the message itself stays listable by an administrator through the outbox.
 */
export class ConsoleSmsProvider implements SmsProvider {
  readonly name = 'console';
  constructor(private readonly logger: Logger) {}

  async send({ to, template, body }: SmsSendRequest): Promise<{ messageId: string }> {
    const messageId = `console-${randomUUID()}`;
    this.logger.info({ sms: { to: maskMobile(to), template, messageId, body: blotSecrets(maskPersonalNumbers(body)) } }, 'sms sent (console provider)');
    return { messageId };
  }
}

/**
 * Stands in for the chosen vendor while its settings cannot be used (see SMS_NOT_CONFIGURED): every send is
 * refused with the problems found, and the outbox keeps the messages for later.
 */
export class UnconfiguredSmsProvider implements SmsProvider {
  constructor(
    readonly name: string,
    private readonly problem: string,
  ) {}

  async send(): Promise<{ messageId: string }> {
    throw new SmsProviderError('SMS_NOT_CONFIGURED', this.problem);
  }
}
