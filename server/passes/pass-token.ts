import crypto from 'node:crypto';

/**
 * The signed QR payload: `VF1.<base64url(JSON claims)>.<base64url(Ed25519 signature)>`.
 *
 * The signature covers the ASCII text `VF1.<body>` exactly as transmitted, not the decoded bytes: base64 has
 * spare bits in its last character, so two different strings can decode to the same bytes, and a changed
 * character must never verify. Everything here needs only the public key to check, so the gate page can run
 * the same rules offline (Ed25519 in WebCrypto) and fall back to the server for revocation.
 */
export const PASS_PAYLOAD_VERSION = 'VF1';

export interface PassClaims {
  /** pass id */
  p: number;
  /** campus id the pass admits to */
  c: number;
  /** time step: floor(unix seconds / rotateSeconds) when the payload was made */
  w: number;
  /** end of that step, unix seconds: when the visitor's page should show a fresh payload */
  e: number;
  /** pass valid from / until, unix seconds, so an offline gate can show and check the window */
  f: number;
  u: number;
}

export type PayloadFailure = 'MALFORMED' | 'SIGNATURE_INVALID' | 'QR_EXPIRED';
export type PayloadCheck = { ok: true; claims: PassClaims } | { ok: false; reason: PayloadFailure };

// A scanned payload is ~190 characters; anything far longer is not ours and is not worth verifying.
const MAX_PAYLOAD_LENGTH = 600;
const B64URL = /^[A-Za-z0-9_-]+$/;

export function timeStep(now: Date, rotateSeconds: number): number {
  return Math.floor(now.getTime() / 1000 / rotateSeconds);
}

export function signPassPayload(claims: PassClaims, privateKey: crypto.KeyObject): string {
  const signed = `${PASS_PAYLOAD_VERSION}.${Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url')}`;
  const signature = crypto.sign(null, Buffer.from(signed, 'ascii'), privateKey);
  return `${signed}.${signature.toString('base64url')}`;
}

/** The claims for a pass at a given moment; the step makes the payload change every rotateSeconds. */
export function passClaims(
  pass: { id: number; campusId: number; validFrom: Date; validUntil: Date },
  now: Date,
  rotateSeconds: number,
): PassClaims {
  const w = timeStep(now, rotateSeconds);
  return {
    p: pass.id,
    c: pass.campusId,
    w,
    e: (w + 1) * rotateSeconds,
    f: Math.floor(pass.validFrom.getTime() / 1000),
    u: Math.floor(pass.validUntil.getTime() / 1000),
  };
}

/**
 * Format, signature, then freshness. A payload is fresh during its own step and the next one (scanning
 * latency, a page that refreshed just before the boundary) and one step early (clocks of several servers
 * that disagree slightly); anything older is a replay, typically a screenshot.
 */
export function verifyPassPayload(
  payload: string,
  publicKey: crypto.KeyObject,
  now: Date,
  rotateSeconds: number,
): PayloadCheck {
  const text = payload.trim();
  if (text.length > MAX_PAYLOAD_LENGTH) return { ok: false, reason: 'MALFORMED' };
  const parts = text.split('.');
  if (parts.length !== 3 || parts[0] !== PASS_PAYLOAD_VERSION || !B64URL.test(parts[1]) || !B64URL.test(parts[2])) {
    return { ok: false, reason: 'MALFORMED' };
  }
  const signature = Buffer.from(parts[2], 'base64url');
  // Only the canonical encoding of a 64-byte signature counts, so no altered character can slip through.
  if (signature.length !== 64 || signature.toString('base64url') !== parts[2]) {
    return { ok: false, reason: 'SIGNATURE_INVALID' };
  }
  let good = false;
  try {
    good = crypto.verify(null, Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), publicKey, signature);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, reason: 'SIGNATURE_INVALID' };

  let claims: PassClaims;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'MALFORMED' };
  }
  const fields = ['p', 'c', 'w', 'e', 'f', 'u'] as const;
  if (!claims || typeof claims !== 'object' || !fields.every((k) => Number.isSafeInteger(claims[k]))) {
    return { ok: false, reason: 'MALFORMED' };
  }
  const current = timeStep(now, rotateSeconds);
  if (claims.w < current - 1 || claims.w > current + 1) return { ok: false, reason: 'QR_EXPIRED' };
  return { ok: true, claims };
}

// No 0/O or 1/I: the code is read off a phone screen and typed by a guard. 32 symbols, so a byte masked
// to 5 bits picks one without bias.
export const SHORT_CODE_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
export const SHORT_CODE_LENGTH = 8;

export function generateShortCode(): string {
  const bytes = crypto.randomBytes(SHORT_CODE_LENGTH);
  let code = '';
  for (const b of bytes) code += SHORT_CODE_ALPHABET[b & 31];
  return code;
}

/** What a guard typed, as stored: case, spaces and dashes do not matter. Null when it cannot be a code. */
export function normaliseShortCode(input: string): string | null {
  const code = input.replace(/[\s-]/g, '').toUpperCase();
  if (code.length !== SHORT_CODE_LENGTH) return null;
  for (const ch of code) if (!SHORT_CODE_ALPHABET.includes(ch)) return null;
  return code;
}
