import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { loadSecrets } from '../../server/secrets.ts';

test('defaults give the embedded set-up', (t) => {
  const config = loadConfig({});
  t.is(config.PORT, 3000);
  t.is(config.ENGINE, 'embedded');
  t.is(config.DATABASE_URL, undefined);
  t.is(config.SMS_PROVIDER, 'console');
  t.is(config.dataDir, path.resolve('./data'));
});

test('a bad value stops start-up with a message naming the variable', (t) => {
  const port = t.throws(() => loadConfig({ PORT: 'eighty' }), { instanceOf: ConfigError });
  t.regex(port!.message, /PORT/);
  const url = t.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), { instanceOf: ConfigError });
  t.regex(url!.message, /DATABASE_URL/);
  const engine = t.throws(() => loadConfig({ ENGINE: 'camunda7' }), { instanceOf: ConfigError });
  t.regex(engine!.message, /ENGINE/);
  const zeebe = t.throws(() => loadConfig({ ENGINE: 'zeebe' }), { instanceOf: ConfigError });
  t.regex(zeebe!.message, /ZEEBE_ADDRESS/);
});

test('missing secrets are generated once into DATA_DIR with a restrictive mode, then reused', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vf-secrets-'));
  const config = loadConfig({ DATA_DIR: dir });
  const first = loadSecrets(config);
  const file = path.join(dir, 'secrets.json');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  const second = loadSecrets(config);
  t.deepEqual(second.fieldEncryptionKey, first.fieldEncryptionKey);
  t.deepEqual(second.blindIndexKey, first.blindIndexKey);
  t.is(
    second.passSigningPublicKey.export({ type: 'spki', format: 'pem' }),
    first.passSigningPublicKey.export({ type: 'spki', format: 'pem' }),
  );
  t.is(first.fieldEncryptionKey.length, 32);
  const bad = t.throws(() => loadSecrets(loadConfig({ DATA_DIR: dir, FIELD_ENCRYPTION_KEY: 'c2hvcnQ=' })));
  t.regex(bad!.message, /FIELD_ENCRYPTION_KEY/);
});
