import crypto from 'node:crypto';
import test from 'ava';
import knexFactory, { type Knex } from 'knex';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { FieldCrypto } from '../../server/crypto/field-crypto.ts';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { createLogger } from '../../server/logger.ts';
import type { SmsProvider, SmsSendRequest } from '../../server/sms/sms.provider.ts';
import { SmsService, type SmsServiceOptions } from '../../server/sms/sms.service.ts';
import { createTestDatabase, testBackends } from '../helpers/database.ts';
import { makeMobile } from '../helpers/identities.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

const fieldCrypto = new FieldCrypto(crypto.randomBytes(32), crypto.randomBytes(32));

/** A provider that records what it was asked to send and fails when told to. */
class RecordingProvider implements SmsProvider {
  readonly name = 'recording';
  sent: Array<{ to: string; body: string }> = [];
  calls = 0;
  constructor(private readonly behaviour: (call: number, to: string) => Promise<void> | void = () => {}) {}
  async send({ to, body }: SmsSendRequest) {
    this.calls++;
    await this.behaviour(this.calls, to);
    this.sent.push({ to, body });
    return { messageId: `m-${this.calls}` };
  }
}

function service(knex: Knex, provider: SmsProvider, clock: FakeClock, extra: Partial<SmsServiceOptions> = {}) {
  return new SmsService({ knex, provider, fieldCrypto, clock, logger: createLogger('silent'), ...extra });
}

const rows = (knex: Knex) => knex('sms_outbox').orderBy('id');

for (const kind of await testBackends()) {
  test(`${kind}: enqueue writes in the caller's transaction, encrypted and masked; a repeated dedupe key is a no-op`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const sms = service(db.knex, new RecordingProvider(), clock);
      const mobile = makeMobile();
      const msg = { dedupeKey: 'job:4711', to: mobile, template: 'approved', body: '已审核通过' };
      t.true(await db.knex.transaction((trx) => sms.enqueue(trx, msg)));
      t.false(await db.knex.transaction((trx) => sms.enqueue(trx, { ...msg, body: '另一条' })));
      t.false(await sms.enqueue(db.knex, msg));

      await t.throwsAsync(
        db.knex.transaction(async (trx) => {
          await sms.enqueue(trx, { ...msg, dedupeKey: 'job:rolled-back' });
          throw new Error('the state change failed');
        }),
      );

      const all = await rows(db.knex);
      t.is(all.length, 1);
      t.is(all[0].body, '已审核通过');
      t.is(all[0].status, 'pending');
      t.is(all[0].recipient_masked, `${mobile.slice(0, 3)}****${mobile.slice(-4)}`);
      t.false(all[0].recipient_enc.includes(mobile));
      t.is(fieldCrypto.decrypt(all[0].recipient_enc), mobile);
      t.deepEqual(new Date(all[0].next_attempt_at), clock.now());
    } finally {
      await db.close();
    }
  });

  test(`${kind}: a failed delivery is retried with back-off and ends 'failed' after maxAttempts`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const mobile = makeMobile();
      const provider = new RecordingProvider((_call, to) => {
        throw new Error(`gateway refused ${to}`);
      });
      const sms = service(db.knex, provider, clock, { maxAttempts: 3, retryBaseMs: 1000 });
      await sms.enqueue(db.knex, { dedupeKey: 'job:1', to: mobile, template: 'refused', body: '未获批准' });

      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      let [row] = await rows(db.knex);
      t.is(row.status, 'pending');
      t.is(row.attempts, 1);
      t.deepEqual(new Date(row.next_attempt_at), new Date(clock.now().getTime() + 1000));
      t.false(row.last_error.includes(mobile), 'the error is stored masked');
      t.regex(row.last_error, /gateway refused 1\d\d\*{4}\d{4}/);

      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 }, 'not due before the back-off');
      clock.advance(999);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 });
      clock.advance(1);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      [row] = await rows(db.knex);
      t.is(row.attempts, 2);
      t.deepEqual(new Date(row.next_attempt_at), new Date(clock.now().getTime() + 2000), 'the delay doubles');

      clock.advance(2000);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      [row] = await rows(db.knex);
      t.is(row.status, 'failed');
      t.is(row.attempts, 3);
      clock.advance(24 * 3600_000);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 });
      t.is(provider.calls, 3);
      t.deepEqual(provider.sent, []);
    } finally {
      await db.close();
    }
  });

  test(`${kind}: after a transient failure the message is sent exactly once; a hanging provider times out`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const mobile = makeMobile();
      const provider = new RecordingProvider((call) => {
        if (call === 1) throw new Error('timeout talking to gateway');
      });
      const sms = service(db.knex, provider, clock, { retryBaseMs: 5000 });
      await sms.enqueue(db.knex, { dedupeKey: 'job:2', to: mobile, template: 'approved', body: '通过' });
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 1 });
      clock.advance(5000);
      const sentAt = clock.now();
      t.deepEqual(await sms.deliverDue(), { sent: 1, failed: 0 });
      clock.advance(3600_000);
      t.deepEqual(await sms.deliverDue(), { sent: 0, failed: 0 });
      t.deepEqual(provider.sent, [{ to: mobile, body: '通过' }]);
      const [row] = await rows(db.knex);
      t.like(row, { status: 'sent', attempts: 2, provider_message_id: 'm-2', last_error: null });
      t.deepEqual(new Date(row.sent_at), sentAt);

      const hanging = service(db.knex, { name: 'hang', send: () => new Promise(() => {}) }, clock, { sendTimeoutMs: 50 });
      await hanging.enqueue(db.knex, { dedupeKey: 'job:3', to: mobile, template: 'approved', body: 'x' });
      t.deepEqual(await hanging.deliverDue(), { sent: 0, failed: 1 });
      const row3 = await db.knex('sms_outbox').where({ dedupe_key: 'job:3' }).first();
      t.regex(row3.last_error, /did not answer within 50 ms/);
    } finally {
      await db.close();
    }
  });

  test(`${kind}: concurrent senders (two services${kind === 'postgres' ? ', two connection pools' : ''}) never send a row twice`, async (t) => {
    const db = await createTestDatabase(kind);
    // on PostgreSQL the second sender gets its own pool, as a second server process would
    const other = kind === 'postgres' ? knexFactory({ client: 'pg', connection: db.url, pool: { min: 0, max: 4 } }) : db.knex;
    try {
      const clock = new FakeClock();
      const provider = new RecordingProvider(() => new Promise((resolve) => setTimeout(resolve, 2)));
      const a = service(db.knex, provider, clock);
      const b = service(other, provider, clock);
      const count = 60;
      await db.knex.transaction(async (trx) => {
        for (let i = 0; i < count; i++) await a.enqueue(trx, { dedupeKey: `job:${i}`, to: makeMobile(), template: 't', body: `msg ${i}` });
      });
      const runner = async (s: SmsService) => {
        let sent = 0;
        for (;;) {
          const r = await s.deliverDue(4);
          sent += r.sent;
          if (r.sent + r.failed === 0) return sent;
        }
      };
      const results = await Promise.all([runner(a), runner(b), runner(a), runner(b), runner(a), runner(b)]);
      t.is(
        results.reduce((x, y) => x + y, 0),
        count,
      );
      t.is(provider.sent.length, count);
      t.is(new Set(provider.sent.map((s) => s.body)).size, count);
      const all = await rows(db.knex);
      t.true(all.every((r: any) => r.status === 'sent' && r.attempts === 1));
      if (kind === 'postgres') t.true(results[1] + results[3] + results[5] > 0, 'the second pool took part');
    } finally {
      if (other !== db.knex) await other.destroy();
      await db.close();
    }
  });

  test(`${kind}: the background poller delivers until stopped`, async (t) => {
    const db = await createTestDatabase(kind);
    try {
      const clock = new FakeClock();
      const provider = new RecordingProvider();
      const sms = service(db.knex, provider, clock);
      sms.start(10);
      sms.start(10); // idempotent
      await sms.enqueue(db.knex, { dedupeKey: 'job:p1', to: makeMobile(), template: 't', body: 'first' });
      sms.wake();
      for (let i = 0; i < 200 && provider.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      t.deepEqual(
        provider.sent.map((s) => s.body),
        ['first'],
      );
      await sms.stop();
      await sms.enqueue(db.knex, { dedupeKey: 'job:p2', to: makeMobile(), template: 't', body: 'second' });
      await new Promise((r) => setTimeout(r, 60));
      t.is(provider.sent.length, 1);
      t.is((await db.knex('sms_outbox').where({ dedupe_key: 'job:p2' }).first()).status, 'pending');
    } finally {
      await db.close();
    }
  });

  test(`${kind}: GET /api/admin/sms lists the outbox with masked recipients, for admins only`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const mobile = makeMobile();
      const sms = server.services.sms;
      await sms.enqueue(server.db.knex, { dedupeKey: 'test:admin-list', to: mobile, template: 'approved', body: '【示例大学】张三，已审核通过' });
      await sms.deliverDue(100);

      const anon = await new ApiClient(server.url).get('/api/admin/sms');
      t.is(anon.status, 401);
      for (const username of ['host-cs', 'guard']) {
        const c = new ApiClient(server.url);
        t.is((await c.post('/api/staff/login', { username, password: DEMO_STAFF_PASSWORD })).status, 200);
        const res = await c.get('/api/admin/sms');
        t.is(res.status, 403, username);
        t.is(res.body.error.code, 'ROLE_REQUIRED');
      }
      const visitorClient = new ApiClient(server.url);
      t.is((await visitorClient.get('/api/admin/sms')).status, 401);

      const admin = new ApiClient(server.url);
      t.is((await admin.post('/api/staff/login', { username: 'admin', password: DEMO_STAFF_PASSWORD })).status, 200);
      const res = await admin.get('/api/admin/sms?page=1&pageSize=100');
      t.is(res.status, 200);
      const mine = res.body.messages.find((m: any) => m.body === '【示例大学】张三，已审核通过');
      t.like(mine, { to: `${mobile.slice(0, 3)}****${mobile.slice(-4)}`, template: 'approved', status: 'sent' });
      t.is(typeof mine.id, 'number');
      t.truthy(mine.createdAt);
      t.truthy(mine.sentAt);
      t.true(res.body.total >= 1);
      t.false(JSON.stringify(res.body).includes(mobile));
      t.false(JSON.stringify(server.logs).includes(mobile), 'the console provider logged it masked');
      t.true(server.logs.some((l) => l.sms?.to === `${mobile.slice(0, 3)}****${mobile.slice(-4)}`));

      const sentOnly = await admin.get('/api/admin/sms?status=pending');
      t.is(sentOnly.status, 200);
      t.false(sentOnly.body.messages.some((m: any) => m.body === '【示例大学】张三，已审核通过'));
      t.is((await admin.get('/api/admin/sms?page=0')).status, 400);
      t.is((await admin.get('/api/admin/sms?status=bogus')).status, 400);
    } finally {
      await server.close();
    }
  });
}
