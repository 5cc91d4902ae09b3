import crypto from 'node:crypto';
import test from 'ava';
import type { Knex } from 'knex';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { FieldCrypto, maskIdNumber, maskMobile } from '../../server/crypto/field-crypto.ts';
import { AppError } from '../../server/errors.ts';
import { PassService } from '../../server/passes/pass.service.ts';
import { verifyPassPayload } from '../../server/passes/pass-token.ts';
import type { DatabaseKind } from '../../server/db/database.ts';
import { createTestDatabase, type TestDatabase, testBackends } from '../helpers/database.ts';
import { makeIdNumber, makeMobile } from '../helpers/identities.ts';

// 14:00-18:00 Beijing time on 1 December 2026
const WINDOW_START = '2026-12-01T06:00:00Z';
const WINDOW_END = '2026-12-01T10:00:00Z';
const DURING = '2026-12-01T07:00:00Z';

const fieldCrypto = new FieldCrypto(crypto.randomBytes(32), crypto.randomBytes(32));
let serial = 0;

async function insertVisitor(knex: Knex) {
  const idNumber = makeIdNumber();
  const mobile = makeMobile();
  const [row] = await knex('visitors')
    .insert({
      name: '李四',
      organisation: '某某科技有限公司',
      id_number_enc: fieldCrypto.encrypt(idNumber),
      id_number_bidx: fieldCrypto.blindIndex('id', idNumber),
      id_number_masked: maskIdNumber(idNumber),
      mobile_enc: fieldCrypto.encrypt(mobile),
      mobile_bidx: fieldCrypto.blindIndex('mobile', mobile),
      mobile_masked: maskMobile(mobile),
      gender: 'M',
      birth_date: '1990-03-07',
      password_hash: 'scrypt$unused',
    })
    .returning('id');
  return { id: row.id as number, idNumber, mobile };
}

// One database per back end (a fresh PGlite costs seconds); each test gets its own campuses, people and clock.
const kinds = await testBackends();
const databases = new Map<DatabaseKind, Promise<TestDatabase>>();
test.after.always(async () => {
  for (const db of databases.values()) await (await db).close();
});

async function setup(kind: DatabaseKind) {
  if (!databases.has(kind)) databases.set(kind, createTestDatabase(kind));
  const db = await databases.get(kind)!;
  const knex = db.knex;
  const n = ++serial;
  const [main] = await knex('campuses').insert({ code: `MAIN${n}`, name: '主校区' }).returning('id');
  const [east] = await knex('campuses').insert({ code: `EAST${n}`, name: '东校区' }).returning('id');
  const [dept] = await knex('departments').insert({ campus_id: main.id, code: `CS${n}`, name: '计算机学院' }).returning('id');
  const [host] = await knex('staff')
    .insert({ username: `host${n}`, name: '王老师', mobile_enc: 'x', mobile_bidx: 'h', mobile_masked: '138****0000', department_id: dept.id, roles: JSON.stringify(['host']), password_hash: 'x' })
    .returning('id');
  const [guard] = await knex('staff')
    .insert({ username: `guard${n}`, name: '门卫', mobile_enc: 'x', mobile_bidx: 'g', mobile_masked: '139****0000', roles: JSON.stringify(['guard']), password_hash: 'x' })
    .returning('id');
  const clock = new FakeClock('2026-12-01T02:00:00Z');
  const keys = crypto.generateKeyPairSync('ed25519');
  const service = new PassService({ knex, clock, privateKey: keys.privateKey, publicKey: keys.publicKey });

  async function insertApplication(visitorId: number, overrides: Record<string, unknown> = {}) {
    serial++;
    const [row] = await knex('applications')
      .insert({
        flow_number: `T${process.pid}${String(serial).padStart(6, '0')}`,
        visitor_id: visitorId,
        campus_id: main.id,
        department_id: dept.id,
        host_staff_id: host.id,
        visit_date: '2026-12-01',
        visit_start: '14:00',
        visit_end: '18:00',
        window_start: WINDOW_START,
        window_end: WINDOW_END,
        plate_number: '京A12345',
        data: JSON.stringify({}),
        status: 'approved',
        process_id: 'visit-pass',
        form_key: 'visit-application',
        form_version: 1,
        created_at: clock.now(),
        updated_at: clock.now(),
        ...overrides,
      })
      .returning('*');
    return row;
  }

  const visitor = await insertVisitor(knex);
  const application = await insertApplication(visitor.id);
  return { db, knex, clock, keys, service, mainId: main.id as number, eastId: east.id as number, guardId: guard.id as number, visitor, application, insertApplication };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function withSetup(kind: DatabaseKind, fn: (s: Setup) => Promise<void>) {
  await fn(await setup(kind));
}

for (const kind of kinds) {
  test(`${kind}: issue copies window, campus and plate, and is idempotent (also when two workers race)`, async (t) => {
    await withSetup(kind, async ({ knex, service, application, mainId }) => {
      const first = await knex.transaction((trx) => service.issue(trx, application.id));
      t.regex(first.short_code, /^[2-9A-HJ-NP-Z]{8}$/);
      t.is(first.campus_id, mainId);
      t.is(first.plate_number, '京A12345');
      t.is(new Date(first.valid_from).toISOString(), new Date(WINDOW_START).toISOString());
      t.is(new Date(first.valid_until).toISOString(), new Date(WINDOW_END).toISOString());
      t.is(first.status, 'active');
      const again = await knex.transaction((trx) => service.issue(trx, application.id));
      t.is(again.id, first.id);
      t.is(again.short_code, first.short_code);
      const [{ n }] = await knex('passes').where({ application_id: application.id }).count({ n: '*' });
      t.is(n, 1);
    });
  });

  test(`${kind}: concurrent issues for one application give one pass`, async (t) => {
    await withSetup(kind, async ({ knex, service, visitor, insertApplication }) => {
      const app = await insertApplication(visitor.id);
      const rows = await Promise.all(
        Array.from({ length: 4 }, () => knex.transaction((trx) => service.issue(trx, app.id))),
      );
      t.is(new Set(rows.map((r) => r.id)).size, 1);
      t.is(new Set(rows.map((r) => r.short_code)).size, 1);
    });
  });

  test(`${kind}: a pass issued after the application was withdrawn is born revoked; an unknown application fails`, async (t) => {
    await withSetup(kind, async ({ knex, service, visitor, insertApplication }) => {
      const app = await insertApplication(visitor.id, { status: 'withdrawn' });
      const pass = await service.issue(knex, app.id);
      t.is(pass.status, 'revoked');
      t.truthy(pass.revoked_at);
      const err = await t.throwsAsync(service.issue(knex, 999_999), { instanceOf: AppError });
      t.is(err!.message, '申请不存在');
    });
  });

  test(`${kind}: a fresh QR verifies, with masked details only`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, visitor, mainId, keys }) => {
      await service.issue(knex, application.id);
      clock.set(DURING);
      const view = await service.forVisitor(visitor.id, application.id);
      t.is(view.status, 'active');
      t.is(view.rotateSeconds, 30);
      t.deepEqual(view.campus, { id: mainId, name: '主校区' });
      t.is(view.plateNumber, '京A12345');
      t.is(view.validFrom, new Date(WINDOW_START).toISOString());
      t.is(view.qr!.expiresAt, '2026-12-01T07:00:30.000Z');
      // verifiable with nothing but the public key (offline gate)
      const pem = service.passPublicKeyPem();
      t.regex(pem, /BEGIN PUBLIC KEY/);
      t.true(verifyPassPayload(view.qr!.payload, crypto.createPublicKey(pem), clock.now(), 30).ok);
      t.true(verifyPassPayload(view.qr!.payload, keys.publicKey, clock.now(), 30).ok);

      const result = await service.verify({ payload: view.qr!.payload, campusId: mainId });
      t.true(result.valid, result.reasonText);
      t.is(result.reason, undefined);
      t.regex(result.reasonText, /有效/);
      t.like(result.pass, {
        visitorName: '李四',
        organisation: '某某科技有限公司',
        idNumber: maskIdNumber(visitor.idNumber),
        mobile: maskMobile(visitor.mobile),
        plateNumber: '京A12345',
        campus: { id: mainId, name: '主校区' },
        flowNumber: application.flow_number,
        validFrom: new Date(WINDOW_START).toISOString(),
        validUntil: new Date(WINDOW_END).toISOString(),
      });
      t.regex(result.pass!.idNumber, /^\d{3}\*{11}[\dX]{4}$/);
      t.regex(result.pass!.mobile, /^\d{3}\*{4}\d{4}$/);
      t.is(result.lastEvent, undefined);
      const dump = JSON.stringify(result);
      t.false(dump.includes(visitor.idNumber));
      t.false(dump.includes(visitor.mobile));
      t.false(dump.includes(visitor.idNumber.slice(-8)));
      t.false(JSON.stringify(view).includes(visitor.mobile));
    });
  });

  test(`${kind}: the QR rotates; a payload one step old still passes, two steps old is QR_EXPIRED`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, visitor, mainId }) => {
      await service.issue(knex, application.id);
      clock.set(DURING);
      const { payload } = (await service.forVisitor(visitor.id, application.id)).qr!;
      clock.advance(30_000);
      const next = (await service.forVisitor(visitor.id, application.id)).qr!;
      t.not(next.payload, payload);
      t.is(next.expiresAt, '2026-12-01T07:01:00.000Z');
      t.true((await service.verify({ payload, campusId: mainId })).valid);
      clock.advance(30_000);
      const stale = await service.verify({ payload, campusId: mainId });
      t.false(stale.valid);
      t.is(stale.reason, 'QR_EXPIRED');
      t.regex(stale.reasonText, /截图|刷新/);
      t.is(stale.pass, undefined);
      clock.advance(3_600_000);
      t.is((await service.verify({ payload, campusId: mainId })).reason, 'QR_EXPIRED');
    });
  });

  test(`${kind}: tampered payloads are SIGNATURE_INVALID and reveal nothing; junk is MALFORMED`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, visitor, mainId, eastId }) => {
      await service.issue(knex, application.id);
      clock.set(DURING);
      const { payload } = (await service.forVisitor(visitor.id, application.id)).qr!;
      const [prefix, body, sig] = payload.split('.');
      const i = Math.floor(body.length / 2);
      const flipped = `${prefix}.${body.slice(0, i)}${body[i] === 'x' ? 'y' : 'x'}${body.slice(i + 1)}.${sig}`;
      const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
      const reencode = (c: object) => `${prefix}.${Buffer.from(JSON.stringify(c)).toString('base64url')}.${sig}`;
      const other = await service.issue(knex, (await knexApp(knex, application)).id);
      for (const forged of [flipped, reencode({ ...claims, c: eastId }), reencode({ ...claims, p: other.id })]) {
        const result = await service.verify({ payload: forged, campusId: eastId });
        t.false(result.valid);
        t.is(result.reason, 'SIGNATURE_INVALID');
        t.is(result.pass, undefined);
        t.regex(result.reasonText, /篡改|伪造/);
      }
      const junk = await service.verify({ payload: 'https://example.com/', campusId: mainId });
      t.is(junk.reason, 'MALFORMED');
    });
  });

  test(`${kind}: wrong campus, before and after the window (30 minutes early is allowed)`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, visitor, mainId, eastId }) => {
      const pass = await service.issue(knex, application.id);
      const scan = async (campusId = mainId) =>
        service.verify({ payload: (await service.forVisitor(visitor.id, application.id)).qr!.payload, campusId });

      clock.set(DURING);
      const wrong = await scan(eastId);
      t.false(wrong.valid);
      t.is(wrong.reason, 'WRONG_CAMPUS');
      t.regex(wrong.reasonText, /主校区/);
      t.is(wrong.pass!.campus.name, '主校区'); // the guard can tell the visitor where to go

      clock.set('2026-12-01T02:00:00Z'); // four hours early
      const early = await scan();
      t.is(early.reason, 'NOT_YET_VALID');
      t.regex(early.reasonText, /未到通行时间/);
      clock.set('2026-12-01T05:29:59Z');
      t.is((await scan()).reason, 'NOT_YET_VALID');
      clock.set('2026-12-01T05:30:00Z');
      t.true((await scan()).valid);
      clock.set('2026-12-01T09:59:59Z');
      t.true((await scan()).valid);

      clock.set(WINDOW_END);
      const view = await service.forVisitor(visitor.id, application.id);
      t.is(view.status, 'expired');
      t.is(view.qr, null); // nothing to scan any more
      const late = await service.verify({ code: pass.short_code, campusId: mainId });
      t.is(late.reason, 'EXPIRED');
      t.regex(late.reasonText, /过期/);
    });
  });

  test(`${kind}: revoked passes are REVOKED (QR and code); revoking is idempotent`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, visitor, mainId }) => {
      const pass = await service.issue(knex, application.id);
      clock.set(DURING);
      const { payload } = (await service.forVisitor(visitor.id, application.id)).qr!;
      await knex.transaction((trx) => service.revokeForApplication(trx, application.id));
      await service.revokeForApplication(knex, application.id);
      await service.revokeForApplication(knex, 999_999);
      const row = await knex('passes').where({ id: pass.id }).first();
      t.is(row.status, 'revoked');
      t.truthy(row.revoked_at);
      for (const input of [{ payload }, { code: pass.short_code }]) {
        const result = await service.verify({ ...input, campusId: mainId });
        t.false(result.valid);
        t.is(result.reason, 'REVOKED');
        t.regex(result.reasonText, /作废/);
      }
      const view = await service.forVisitor(visitor.id, application.id);
      t.is(view.status, 'revoked');
      t.is(view.qr, null);
      // issuing again (a retried worker) does not bring it back
      t.is((await service.issue(knex, application.id)).status, 'revoked');
    });
  });

  test(`${kind}: short codes verify typed loosely; unknown or impossible codes are UNKNOWN_CODE`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, mainId }) => {
      const pass = await service.issue(knex, application.id);
      clock.set(DURING);
      const typed = `${pass.short_code.slice(0, 4).toLowerCase()}-${pass.short_code.slice(4)}`;
      const ok = await service.verify({ code: typed, campusId: mainId });
      t.true(ok.valid, ok.reasonText);
      t.is(ok.pass!.id, pass.id);
      const other = pass.short_code === '22222222' ? '33333333' : '22222222';
      for (const code of [other, 'ABC', '00000000']) {
        const result = await service.verify({ code, campusId: mainId });
        t.false(result.valid);
        t.is(result.reason, 'UNKNOWN_CODE');
        t.is(result.pass, undefined);
      }
      await t.throwsAsync(service.verify({ campusId: mainId }), { instanceOf: AppError });
    });
  });

  test(`${kind}: entry then exit are recorded and the next verify shows the last event`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, mainId, eastId, guardId }) => {
      const pass = await service.issue(knex, application.id);
      clock.set(DURING);
      const entry = await service.record(pass.id, 'entry', guardId, mainId);
      t.like(entry.event, { passId: pass.id, kind: 'entry', at: clock.now().toISOString(), campusId: mainId, guardId });
      t.is(entry.warning, undefined);
      t.deepEqual((await service.verify({ code: pass.short_code, campusId: mainId })).lastEvent, {
        kind: 'entry',
        at: '2026-12-01T07:00:00.000Z',
      });
      clock.advance(3_600_000);
      const exit = await service.record(pass.id, 'exit', guardId, mainId);
      t.is(exit.warning, undefined);
      t.deepEqual((await service.verify({ code: pass.short_code, campusId: mainId })).lastEvent, {
        kind: 'exit',
        at: '2026-12-01T08:00:00.000Z',
      });

      // re-entry within the window is fine; entering twice is recorded with a warning
      clock.advance(60_000);
      t.is((await service.record(pass.id, 'entry', guardId, mainId)).warning, undefined);
      clock.advance(60_000);
      t.is((await service.record(pass.id, 'entry', guardId, mainId)).warning?.code, 'ENTRY_WITHOUT_EXIT');

      // the wrong campus is refused for both; an unknown pass is 404
      for (const kind of ['entry', 'exit'] as const) {
        const err = await t.throwsAsync(service.record(pass.id, kind, guardId, eastId), { instanceOf: AppError });
        t.like(err, { status: 409, code: 'PASS_NOT_VALID', details: { reason: 'WRONG_CAMPUS' } });
      }
      t.like(await t.throwsAsync(service.record(999_999, 'entry', guardId, mainId)), { status: 404, code: 'PASS_NOT_FOUND' });

      // once expired or revoked: no entry, but a visitor still inside can be let out
      clock.set('2026-12-01T10:30:00Z');
      t.like(await t.throwsAsync(service.record(pass.id, 'entry', guardId, mainId)), {
        status: 409,
        details: { reason: 'EXPIRED' },
      });
      await service.revokeForApplication(knex, application.id);
      t.like(await t.throwsAsync(service.record(pass.id, 'entry', guardId, mainId)), {
        status: 409,
        code: 'PASS_NOT_VALID',
        details: { reason: 'REVOKED' },
      });
      const lateExit = await service.record(pass.id, 'exit', guardId, mainId);
      t.is(lateExit.event.kind, 'exit');
      t.is(lateExit.warning, undefined);
      t.is((await service.record(pass.id, 'exit', guardId, mainId)).warning?.code, 'EXIT_WITHOUT_ENTRY');
      const [{ n }] = await knex('pass_events').where({ pass_id: pass.id }).count({ n: '*' });
      t.is(n, 6);
    });
  });

  test(`${kind}: a visitor sees only their own pass; no pass yet looks the same`, async (t) => {
    await withSetup(kind, async ({ knex, clock, service, application, visitor, insertApplication }) => {
      await service.issue(knex, application.id);
      clock.set(DURING);
      const stranger = await insertVisitor(knex);
      const pending = await insertApplication(visitor.id, { status: 'pending' });
      for (const [visitorId, applicationId] of [
        [stranger.id, application.id],
        [visitor.id, pending.id],
        [visitor.id, 999_999],
      ]) {
        const err = await t.throwsAsync(service.forVisitor(visitorId, applicationId), { instanceOf: AppError });
        t.like(err, { status: 404, code: 'PASS_NOT_AVAILABLE' });
      }
    });
  });
}

// A second application of the same visitor, for a second pass.
async function knexApp(knex: Knex, template: any) {
  const { id: _id, flow_number, instance_key: _key, ...rest } = template;
  const [row] = await knex('applications')
    .insert({ ...rest, data: JSON.stringify(rest.data ?? {}), flow_number: `${flow_number}B` })
    .returning('*');
  return row;
}
