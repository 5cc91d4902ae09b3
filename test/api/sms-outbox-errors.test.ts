import crypto from 'node:crypto';
import test from 'ava';
import type { Knex } from 'knex';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { FieldCrypto } from '../../server/crypto/field-crypto.ts';
import { createLogger } from '../../server/logger.ts';
import { type SmsErrorCode, type SmsProvider, SmsProviderError, type SmsSendRequest } from '../../server/sms/sms.provider.ts';
import { SmsService } from '../../server/sms/sms.service.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import { makeMobile } from '../helpers/identities.ts';

const fieldCrypto = new FieldCrypto(crypto.randomBytes(32), crypto.randomBytes(32));

/** Answers each call with the next scripted outcome: a provider error code, or success. */
class ScriptedProvider implements SmsProvider {
  readonly name = 'scripted';
  calls: SmsSendRequest[] = [];
  constructor(private readonly script: Array<SmsErrorCode | 'ok'>) {}
  async send(message: SmsSendRequest) {
    this.calls.push(message);
    const next = this.script[this.calls.length - 1] ?? 'ok';
    if (next !== 'ok') throw new SmsProviderError(next, `vendor says no to ${message.to}`, 'Vendor.Code');
    return { messageId: `id-${this.calls.length}` };
  }
}

const service = (knex: Knex, provider: SmsProvider, clock: FakeClock) =>
  new SmsService({ knex, provider, fieldCrypto, clock, logger: createLogger('silent'), retryBaseMs: 1000, leaseMs: 60_000, sendTimeoutMs: 1000 });

for (const kind of await testBackends()) {
  test(`${kind}: a permanent provider error marks the message failed at once, with its code, and it is never retried`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const provider = new ScriptedProvider(['SMS_CREDENTIALS_REJECTED']);
      const sms = service(db.knex, provider, clock);
      const mobile = makeMobile();
      await sms.enqueue(db.knex, { dedupeKey: 'job:perm', to: mobile, template: 'approved', body: '通过', params: { name: '张三', visitDate: '2026-12-03', missing: undefined } });
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      clock.advance(24 * 3600_000);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 });
      t.is(provider.calls.length, 1);
      const { messages } = await sms.list(1, 10, { status: 'failed' });
      // the vendor gets the outbox row as its external id (OutId / SessionContext)
      t.deepEqual(provider.calls[0], { to: mobile, template: 'approved', params: { name: '张三', visitDate: '2026-12-03' }, body: '通过', reference: `sms-${messages[0].id}` });
      t.is(messages.length, 1);
      t.like(messages[0], { status: 'failed', attempts: 1, lastErrorCode: 'SMS_CREDENTIALS_REJECTED' });
      t.regex(messages[0].lastError!, /^SMS_CREDENTIALS_REJECTED \(Vendor\.Code\): vendor says no to 1\d\d\*{4}\d{4}$/);
    } finally {
      await db.close();
    }
  });

  test(`${kind}: throttling is retried with back-off, then the message is sent once`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const provider = new ScriptedProvider(['SMS_THROTTLED', 'SMS_PROVIDER_UNAVAILABLE', 'ok']);
      const sms = service(db.knex, provider, clock);
      await sms.enqueue(db.knex, { dedupeKey: 'job:busy', to: makeMobile(), template: 'approved', body: '通过' });
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      let row = await db.knex('sms_outbox').first();
      t.like(row, { status: 'pending', attempts: 1 });
      t.regex(row.last_error, /^SMS_THROTTLED/);
      clock.advance(1000);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 }, 'the second delay is longer');
      clock.advance(2000);
      t.deepEqual(await sms.deliverDue(), { sent: 1, failed: 0 });
      clock.advance(3600_000);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 });
      row = await db.knex('sms_outbox').first();
      t.like(row, { status: 'sent', attempts: 3, provider_message_id: 'id-3', last_error: null });
      t.is(provider.calls.length, 3);
    } finally {
      await db.close();
    }
  });

  test(`${kind}: a message whose sender died while the provider had it is marked failed, not sent again`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const provider = new ScriptedProvider([]);
      const sms = service(db.knex, provider, clock);
      await sms.enqueue(db.knex, { dedupeKey: 'job:dead', to: makeMobile(), template: 'approved', body: '通过' });
      // what a sender's claim leaves behind when its process is killed during the provider call
      await db.knex('sms_outbox').update({ status: 'sending', attempts: 1, next_attempt_at: new Date(clock.now().getTime() + 60_000) });
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 });
      t.is((await db.knex('sms_outbox').first()).status, 'sending', 'untouched while the lease runs');
      clock.advance(60_000);
      await sms.deliverDue();
      const row = await db.knex('sms_outbox').first();
      t.is(row.status, 'failed');
      t.regex(row.last_error, /^SMS_OUTCOME_UNKNOWN/);
      t.is(provider.calls.length, 0);
    } finally {
      await db.close();
    }
  });

  test(`${kind}: a sender killed during a send leaves only that message in doubt; the others are sent by the next sender`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      // the first sender's provider does not answer until the end of the test: its process is as good as killed
      // during the call (a time-out long enough not to fire on a slow machine)
      let release = () => {};
      const hanging: SmsProvider = { name: 'hanging', send: () => new Promise((_, reject) => (release = () => reject(new Error('gone')))) };
      const dying = new SmsService({ knex: db.knex, provider: hanging, fieldCrypto, clock, logger: createLogger('silent'), sendTimeoutMs: 120_000 });
      for (let i = 0; i < 5; i++) await dying.enqueue(db.knex, { dedupeKey: `job:${i}`, to: makeMobile(), template: 'approved', body: `通过 ${i}` });
      const dyingRound = dying.deliverDue();
      const states = async () => (await db.knex('sms_outbox').orderBy('id')).map((r: any) => r.status);
      for (let waited = 0; !(await states()).includes('sending') && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      t.deepEqual(await states(), ['sending', 'pending', 'pending', 'pending', 'pending'], 'only the message at the provider is claimed');

      const provider = new ScriptedProvider([]);
      t.deepEqual(await service(db.knex, provider, clock).deliverDue(), { sent: 4, failed: 0 });
      t.deepEqual(
        provider.calls.map((c) => c.body),
        ['通过 1', '通过 2', '通过 3', '通过 4'],
      );
      release();
      await dyingRound;
    } finally {
      await db.close();
    }
  });
}
