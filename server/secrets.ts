import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.ts';

export interface Secrets {
  cookieSecret: Buffer;
  fieldEncryptionKey: Buffer;
  blindIndexKey: Buffer;
  passSigningPrivateKey: crypto.KeyObject;
  passSigningPublicKey: crypto.KeyObject;
}

interface StoredSecrets {
  cookieSecret: string;
  fieldEncryptionKey: string;
  blindIndexKey: string;
  passSigningPrivateKey: string;
}

function key32(name: string, base64: string): Buffer {
  const buf = Buffer.from(base64, 'base64');
  if (buf.length !== 32) throw new Error(`${name} must be 32 bytes encoded as base64 (got ${buf.length} bytes)`);
  return buf;
}

/**
 * Secrets come from the environment when set; otherwise they are generated once into DATA_DIR/secrets.json
 * (mode 0600), so a fresh install is safe by default and a restart keeps decrypting what it stored.
 */
export function loadSecrets(config: Config): Secrets {
  const file = path.join(config.dataDir, 'secrets.json');
  let stored: StoredSecrets;
  if (fs.existsSync(file)) {
    stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  } else {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    stored = {
      cookieSecret: crypto.randomBytes(32).toString('base64'),
      fieldEncryptionKey: crypto.randomBytes(32).toString('base64'),
      blindIndexKey: crypto.randomBytes(32).toString('base64'),
      passSigningPrivateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(stored, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
  const privatePem = config.PASS_SIGNING_PRIVATE_KEY ?? stored.passSigningPrivateKey;
  const passSigningPrivateKey = crypto.createPrivateKey(privatePem);
  if (passSigningPrivateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error('PASS_SIGNING_PRIVATE_KEY must be an Ed25519 private key in PEM');
  }
  return {
    cookieSecret: config.COOKIE_SECRET ? Buffer.from(config.COOKIE_SECRET) : key32('cookieSecret', stored.cookieSecret),
    fieldEncryptionKey: key32('FIELD_ENCRYPTION_KEY', config.FIELD_ENCRYPTION_KEY ?? stored.fieldEncryptionKey),
    blindIndexKey: key32('BLIND_INDEX_KEY', config.BLIND_INDEX_KEY ?? stored.blindIndexKey),
    passSigningPrivateKey,
    passSigningPublicKey: crypto.createPublicKey(passSigningPrivateKey),
  };
}

/** Fresh random secrets, for tests. */
export function generateSecrets(): Secrets {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return {
    cookieSecret: crypto.randomBytes(32),
    fieldEncryptionKey: crypto.randomBytes(32),
    blindIndexKey: crypto.randomBytes(32),
    passSigningPrivateKey: privateKey,
    passSigningPublicKey: publicKey,
  };
}
