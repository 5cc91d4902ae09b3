import crypto from 'node:crypto';
import test from 'ava';
import {
  generateShortCode,
  normaliseShortCode,
  passClaims,
  SHORT_CODE_ALPHABET,
  signPassPayload,
  verifyPassPayload,
} from '../../server/passes/pass-token.ts';

const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
const pass = {
  id: 42,
  campusId: 3,
  validFrom: new Date('2026-12-01T06:00:00Z'),
  validUntil: new Date('2026-12-01T10:00:00Z'),
};
const t0 = new Date('2026-12-01T06:00:10Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

test('a payload is compact, verifies with the public key only and carries the pass, campus and window', (t) => {
  const claims = passClaims(pass, t0, 30);
  const payload = signPassPayload(claims, privateKey);
  t.regex(payload, /^VF1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
  t.true(payload.length < 220, `${payload.length} characters`);
  const check = verifyPassPayload(payload, publicKey, t0, 30);
  t.deepEqual(check, { ok: true, claims });
  t.is(claims.e, (claims.w + 1) * 30);
  t.is(claims.e * 1000, new Date('2026-12-01T06:00:30Z').getTime());
  t.is(claims.f * 1000, pass.validFrom.getTime());
});

test('freshness: its own step and the next are accepted, one step early too, older is QR_EXPIRED', (t) => {
  const payload = signPassPayload(passClaims(pass, t0, 30), privateKey);
  t.true(verifyPassPayload(payload, publicKey, at(19), 30).ok); // same step (06:00:00-06:00:30)
  t.true(verifyPassPayload(payload, publicKey, at(49), 30).ok); // next step
  t.deepEqual(verifyPassPayload(payload, publicKey, at(50), 30), { ok: false, reason: 'QR_EXPIRED' });
  t.deepEqual(verifyPassPayload(payload, publicKey, at(3600), 30), { ok: false, reason: 'QR_EXPIRED' });
  t.true(verifyPassPayload(payload, publicKey, at(-30), 30).ok); // signer's clock a little ahead
  t.deepEqual(verifyPassPayload(payload, publicKey, at(-41), 30), { ok: false, reason: 'QR_EXPIRED' });
});

test('every single-character change of the body or the signature is SIGNATURE_INVALID', (t) => {
  const payload = signPassPayload(passClaims(pass, t0, 30), privateKey);
  const firstDot = payload.indexOf('.');
  for (let i = firstDot + 1; i < payload.length; i++) {
    if (payload[i] === '.') continue;
    const replacement = payload[i] === 'A' ? 'B' : 'A';
    const tampered = payload.slice(0, i) + replacement + payload.slice(i + 1);
    t.deepEqual(verifyPassPayload(tampered, publicKey, t0, 30), { ok: false, reason: 'SIGNATURE_INVALID' }, `position ${i}`);
  }
});

test('changed claims with the original signature, or another key, are SIGNATURE_INVALID', (t) => {
  const claims = passClaims(pass, t0, 30);
  const payload = signPassPayload(claims, privateKey);
  const [, , sig] = payload.split('.');
  for (const changed of [{ ...claims, c: 4 }, { ...claims, p: 43 }, { ...claims, w: claims.w + 10 }]) {
    const forged = `VF1.${Buffer.from(JSON.stringify(changed)).toString('base64url')}.${sig}`;
    t.deepEqual(verifyPassPayload(forged, publicKey, t0, 30), { ok: false, reason: 'SIGNATURE_INVALID' });
  }
  const other = crypto.generateKeyPairSync('ed25519').privateKey;
  t.deepEqual(verifyPassPayload(signPassPayload(claims, other), publicKey, t0, 30), {
    ok: false,
    reason: 'SIGNATURE_INVALID',
  });
});

test('something that is not a VF1 payload at all is MALFORMED', (t) => {
  for (const junk of ['', 'hello', 'https://example.com/pass', 'VF2.abc.def', 'VF1.abc', 'VF1.a+b.c', 'VF1.'.padEnd(900, 'A')]) {
    t.deepEqual(verifyPassPayload(junk, publicKey, t0, 30), { ok: false, reason: 'MALFORMED' }, junk.slice(0, 20));
  }
});

test('short codes: 8 characters without 0/O/1/I, random; typed codes are normalised', (t) => {
  const codes = new Set(Array.from({ length: 2000 }, generateShortCode));
  t.is(codes.size, 2000);
  for (const code of codes) t.regex(code, /^[2-9A-HJ-NP-Z]{8}$/);
  t.is(SHORT_CODE_ALPHABET.length, 32);
  t.false(/[01OI]/.test(SHORT_CODE_ALPHABET));
  // every symbol turns up: the 5-bit mask covers the whole alphabet
  t.is(new Set([...codes].join('')).size, 32);
  t.is(normaliseShortCode(' abcd-efgh '), 'ABCDEFGH');
  t.is(normaliseShortCode('ABCD EFG'), null);
  t.is(normaliseShortCode('ABCDEFG0'), null);
  t.is(normaliseShortCode('ABCDEFGHJ'), null);
});
