import crypto from 'node:crypto';

/**
 * Personal identifiers (resident ID numbers, mobiles) are stored encrypted with AES-256-GCM; an HMAC of the
 * normalised value (the blind index) allows exact look-up and uniqueness without decrypting.
 */
export class FieldCrypto {
  constructor(
    private readonly encryptionKey: Buffer,
    private readonly indexKey: Buffer,
  ) {}

  /**
   * `context` (optional) is bound to the ciphertext as GCM additional data: a value sealed for one purpose
   * (e.g. `integration:sms`) does not open for another, so a ciphertext copied between rows is refused.
   */
  encrypt(plain: string, context?: string): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.encryptionKey, iv);
    if (context !== undefined) cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64')}`;
  }

  decrypt(sealed: string, context?: string): string {
    if (!sealed.startsWith('v1.')) throw new Error('unknown ciphertext format');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.encryptionKey, raw.subarray(0, 12));
    if (context !== undefined) decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
  }

  blindIndex(kind: string, value: string): string {
    return crypto.createHmac('sha256', this.indexKey).update(`${kind}:${value}`).digest('hex');
  }
}

export function maskIdNumber(id: string): string {
  return id.length < 8 ? '*'.repeat(id.length) : `${id.slice(0, 3)}${'*'.repeat(id.length - 7)}${id.slice(-4)}`;
}

export function maskMobile(mobile: string): string {
  return mobile.length < 7 ? '*'.repeat(mobile.length) : `${mobile.slice(0, 3)}****${mobile.slice(-4)}`;
}
