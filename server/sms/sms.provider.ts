import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { maskIdNumber, maskMobile } from '../crypto/field-crypto.ts';

export interface SmsProvider {
  name: string;
  send(to: string, body: string): Promise<{ messageId: string }>;
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

  async send(to: string, body: string): Promise<{ messageId: string }> {
    const messageId = `console-${randomUUID()}`;
    this.logger.info({ sms: { to: maskMobile(to), messageId, body: maskPersonalNumbers(body) } }, 'sms sent (console provider)');
    return { messageId };
  }
}
