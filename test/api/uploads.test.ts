import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { DatabaseKind } from '../../server/db/database.ts';
import { DEMO_STAFF_PASSWORD } from '../../server/directory/demo-data.ts';
import { AppError } from '../../server/errors.ts';
import { uploadIdsFromFormValue } from '../../server/uploads/upload.service.ts';
import { elfBytes, htmlBytes, mzBytes, tinyPdf, tinyPng } from '../fixtures/files.ts';
import { type TestDatabase, testBackends } from '../helpers/database.ts';
import { makeVisitor } from '../helpers/identities.ts';
import { ApiClient, startTestServer } from '../helpers/server.ts';

const MAX = 200 * 1024;

/** The real app (startTestServer) with a small upload limit; its DATA_DIR is a fresh temporary directory. */
async function startServer(kind: DatabaseKind) {
  const server = await startTestServer(kind, { env: { UPLOAD_MAX_BYTES: String(MAX) } });
  return Object.assign(server, { uploads: server.services.uploads });
}

function form(bytes: Buffer, name: string, type: string, field = 'file'): FormData {
  const fd = new FormData();
  fd.append(field, new Blob([new Uint8Array(bytes)], { type }), name);
  return fd;
}

async function visitor(url: string) {
  const client = new ApiClient(url);
  const res = await client.post('/api/visitors/register', makeVisitor());
  if (res.status !== 201) throw new Error(JSON.stringify(res.body));
  return { client, id: res.body.visitor.id as number };
}

async function staff(url: string, username: string) {
  const client = new ApiClient(url);
  const res = await client.post('/api/staff/login', { username, password: DEMO_STAFF_PASSWORD });
  if (res.status !== 200) throw new Error(`${username}: ${JSON.stringify(res.body)}`);
  return client;
}

/** GET returning the raw bytes (ApiClient decodes text). */
async function download(client: ApiClient, url: string, pathname: string) {
  const cookie = ['vf_visitor', 'vf_staff', 'vf_csrf']
    .filter((n) => client.cookie(n))
    .map((n) => `${n}=${client.cookie(n)}`)
    .join('; ');
  const res = await fetch(url + pathname, { headers: cookie ? { cookie } : {} });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

const filesIn = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

async function insertApplication(db: TestDatabase, visitorId: number, deptCode: string) {
  const dept = await db.knex('departments').where({ code: deptCode }).first();
  const host = await db.knex('staff').where({ username: `host-${deptCode.toLowerCase()}` }).first();
  const now = new Date('2026-12-01T02:00:00Z');
  const [app] = await db
    .knex('applications')
    .insert({
      flow_number: `T${Date.now()}${Math.floor(Math.random() * 1e6)}`,
      visitor_id: visitorId,
      campus_id: dept.campus_id,
      department_id: dept.id,
      host_staff_id: host.id,
      visit_date: '2026-12-03',
      visit_start: '09:00',
      visit_end: '11:00',
      window_start: new Date('2026-12-03T01:00:00Z'),
      window_end: new Date('2026-12-03T03:00:00Z'),
      data: JSON.stringify({}),
      status: 'pending',
      process_id: 'visit-pass',
      form_key: 'visit-application',
      form_version: 1,
      created_at: now,
      updated_at: now,
    })
    .returning(['id']);
  return { applicationId: Number(app.id), departmentId: Number(dept.id), campusId: Number(dept.campus_id) };
}

for (const kind of await testBackends()) {
  test(`${kind}: a PNG and a PDF upload, are stored 0600 under server names and come back byte-identical to their owner`, async (t) => {
    const server = await startServer(kind);
    try {
      const { client, id: visitorId } = await visitor(server.url);
      const png = tinyPng(3, 2);
      // Form.io's url provider: multipart `file` + `name` + `dir`, query baseUrl/project/form, CSRF header set via component options
      const fd = form(png, '身份证照片 (正面).png', 'image/png');
      fd.append('name', 'photo-3f2a.png');
      fd.append('dir', '');
      const up = await client.request('POST', '/api/uploads?baseUrl=http%3A%2F%2Flocalhost&project=&form=', fd);
      t.is(up.status, 201, JSON.stringify(up.body));
      t.like(up.body, { name: '身份证照片 (正面).png', originalName: '身份证照片 (正面).png', size: png.length, type: 'image/png' });
      t.regex(up.body.id, /^[0-9a-f-]{36}$/);
      t.is(up.body.url, `/api/uploads/${up.body.id}`);
      t.false('data' in up.body, 'a `data` key would replace the answer in Form.io');

      const row = await server.db.knex('uploads').where({ id: up.body.id }).first();
      t.is(row.visitor_id, visitorId);
      t.is(row.sha256, createHash('sha256').update(png).digest('hex'));
      t.is(row.application_id, null);
      const stored = path.join(server.uploads.dir, row.storage_name);
      t.regex(row.storage_name, /^[0-9a-f-]{36}$/);
      t.is(fs.statSync(stored).mode & 0o777, 0o600);
      t.deepEqual(filesIn(server.uploads.dir), [row.storage_name]);

      const got = await download(client, server.url, up.body.url);
      t.is(got.status, 200);
      t.true(got.bytes.equals(png));
      t.is(got.headers.get('content-type'), 'image/png');
      t.is(got.headers.get('x-content-type-options'), 'nosniff');
      t.is(got.headers.get('cache-control'), 'private, no-store');
      t.is(
        got.headers.get('content-disposition'),
        `inline; filename="_____ (__).png"; filename*=UTF-8''${encodeURIComponent('身份证照片 ')}%28${encodeURIComponent('正面')}%29.png`,
      );

      const head = await fetch(server.url + up.body.url, { method: 'HEAD', headers: { cookie: `vf_visitor=${client.cookie('vf_visitor')}` } });
      t.is(head.status, 200);
      t.is(head.headers.get('content-length'), String(png.length));
      t.is(head.headers.get('content-type'), 'image/png');

      const pdf = tinyPdf();
      const upPdf = await client.request('POST', '/api/uploads', form(pdf, 'invitation.pdf', 'application/pdf'));
      t.is(upPdf.status, 201, JSON.stringify(upPdf.body));
      t.is(upPdf.body.type, 'application/pdf');
      const gotPdf = await download(client, server.url, upPdf.body.url);
      t.true(gotPdf.bytes.equals(pdf));
      t.is(gotPdf.headers.get('content-type'), 'application/pdf');
      t.regex(gotPdf.headers.get('content-disposition')!, /^attachment; .*filename\*=UTF-8''invitation\.pdf$/);

      // the declared type and name are ignored both ways: a real PNG named .jpg is stored and served as PNG
      const renamed = await client.request('POST', '/api/uploads', form(png, 'scan.jpg', 'image/jpeg'));
      t.is(renamed.status, 201);
      t.is(renamed.body.type, 'image/png');
      const gotRenamed = await download(client, server.url, renamed.body.url);
      t.is(gotRenamed.headers.get('content-type'), 'image/png');
      t.regex(gotRenamed.headers.get('content-disposition')!, /filename\*=UTF-8''scan\.jpg\.png$/);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: executables and HTML disguised as images are refused with 415 and leave nothing on disk`, async (t) => {
    const server = await startServer(kind);
    try {
      const { client } = await visitor(server.url);
      const cases: Array<[Buffer, string, string]> = [
        [elfBytes(), 'photo.jpg', 'image/jpeg'],
        [mzBytes(), 'photo.jpg', 'image/jpeg'],
        [mzBytes(), 'setup.pdf', 'application/pdf'],
        [htmlBytes(), 'photo.png', 'image/png'],
        [Buffer.from('just text'), 'note.pdf', 'application/pdf'],
      ];
      for (const [bytes, name, type] of cases) {
        const res = await client.request('POST', '/api/uploads', form(bytes, name, type));
        t.is(res.status, 415, name);
        t.is(res.body.error.code, 'UPLOAD_TYPE_NOT_ALLOWED');
        t.regex(res.body.error.message, /JPG、PNG/);
      }
      t.deepEqual(filesIn(server.uploads.dir), []);
      t.is(Number((await server.db.knex('uploads').count({ n: '*' }).first())!.n), 0);

      const empty = await client.request('POST', '/api/uploads', form(Buffer.alloc(0), 'empty.png', 'image/png'));
      t.is(empty.status, 400);
      t.is(empty.body.error.code, 'UPLOAD_EMPTY');
    } finally {
      await server.close();
    }
  });

  test(`${kind}: an oversized file is refused with 413 while streaming and leaves no file behind`, async (t) => {
    const server = await startServer(kind);
    try {
      const { client } = await visitor(server.url);
      const justOver = tinyPng(1, 1, MAX); // a valid PNG, just over the limit
      t.true(justOver.length > MAX);
      const res = await client.request('POST', '/api/uploads', form(justOver, 'big.png', 'image/png'));
      t.is(res.status, 413);
      t.is(res.body.error.code, 'UPLOAD_TOO_LARGE');
      t.regex(res.body.error.message, /文件过大.*200 KB/);
      const huge = await client.request('POST', '/api/uploads', form(tinyPng(1, 1, MAX * 20), 'huge.png', 'image/png'));
      t.is(huge.status, 413);
      t.deepEqual(filesIn(server.uploads.dir), []);
      t.is(Number((await server.db.knex('uploads').count({ n: '*' }).first())!.n), 0);

      // exactly at the limit is fine
      const atLimit = tinyPng(1, 1, 0);
      const padded = tinyPng(1, 1, MAX - atLimit.length - 12);
      t.is(padded.length, MAX);
      const ok = await client.request('POST', '/api/uploads', form(padded, 'limit.png', 'image/png'));
      t.is(ok.status, 201, JSON.stringify(ok.body));
    } finally {
      await server.close();
    }
  });

  test(`${kind}: uploading needs a visitor session, the CSRF header, one field named file`, async (t) => {
    const server = await startServer(kind);
    try {
      const anon = await new ApiClient(server.url).request('POST', '/api/uploads', form(tinyPng(), 'a.png', 'image/png'));
      t.is(anon.status, 401);
      t.is(anon.body.error.code, 'VISITOR_LOGIN_REQUIRED');

      const host = await staff(server.url, 'host-cs');
      const byStaff = await host.request('POST', '/api/uploads', form(tinyPng(), 'a.png', 'image/png'));
      t.is(byStaff.status, 401);

      const { client } = await visitor(server.url);
      const noCsrf = await fetch(`${server.url}/api/uploads`, {
        method: 'POST',
        headers: { cookie: `vf_visitor=${client.cookie('vf_visitor')}; vf_csrf=${client.cookie('vf_csrf')}` },
        body: form(tinyPng(), 'a.png', 'image/png'),
      });
      t.is(noCsrf.status, 403);

      const wrongField = await client.request('POST', '/api/uploads', form(tinyPng(), 'a.png', 'image/png', 'attachment'));
      t.is(wrongField.status, 400);
      t.is(wrongField.body.error.code, 'UPLOAD_FIELD_INVALID');

      const twoFiles = form(tinyPng(), 'a.png', 'image/png');
      twoFiles.append('file', new Blob([new Uint8Array(tinyPng())], { type: 'image/png' }), 'b.png');
      const two = await client.request('POST', '/api/uploads', twoFiles);
      t.is(two.status, 400);
      t.is(two.body.error.code, 'UPLOAD_TOO_MANY_FILES');

      const noFile = new FormData();
      noFile.append('name', 'x');
      const none = await client.request('POST', '/api/uploads', noFile);
      t.is(none.status, 400);
      t.is(none.body.error.code, 'UPLOAD_MISSING');

      const json = await client.post('/api/uploads', { file: 'iVBORw0KGgo=' });
      t.is(json.status, 400);
      t.is(json.body.error.code, 'UPLOAD_MISSING');

      const malformed = await client.request('POST', '/api/uploads', '--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc', {
        'content-type': 'multipart/form-data; boundary=xx',
      });
      t.is(malformed.status, 400);
      t.is(malformed.body.error.code, 'UPLOAD_MALFORMED');
      t.deepEqual(filesIn(server.uploads.dir), []);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a file is served to its visitor, staff with a task on its application and admins; everyone else is refused`, async (t) => {
    const server = await startServer(kind);
    try {
      const a = await visitor(server.url);
      const b = await visitor(server.url);
      const png = tinyPng();
      const up = await a.client.request('POST', '/api/uploads', form(png, 'a.png', 'image/png'));
      t.is(up.status, 201);
      const fileUrl = up.body.url as string;

      const anon = await download(new ApiClient(server.url), server.url, fileUrl);
      t.is(anon.status, 401);
      t.false(anon.bytes.equals(png));
      const other = await b.client.get(fileUrl);
      t.is(other.status, 404);
      t.is(other.body.error.code, 'UPLOAD_NOT_FOUND');
      // an unknown or malformed id looks the same as somebody else's file
      t.is((await b.client.get('/api/uploads/00000000-0000-4000-8000-000000000000')).status, 404);
      t.is((await b.client.get('/api/uploads/..%2F..%2Fetc%2Fpasswd')).status, 404);

      const hostCs = await staff(server.url, 'host-cs');
      const hostMe = await staff(server.url, 'host-me');
      const guard = await staff(server.url, 'guard');
      const admin = await staff(server.url, 'admin');
      // not linked to any application yet: only its visitor and admins
      t.is((await hostCs.get(fileUrl)).status, 404);
      t.is((await download(admin, server.url, fileUrl)).status, 200);

      const { applicationId, departmentId } = await insertApplication(server.db, a.id, 'CS');
      await server.db.knex.transaction((trx) => server.uploads.linkToApplication(trx, a.id, [up.body.id], applicationId));
      t.is((await hostCs.get(fileUrl)).status, 404, 'no task yet');
      await server.db.knex('tasks').insert({
        task_key: `task-${applicationId}`,
        instance_key: `inst-${applicationId}`,
        application_id: applicationId,
        element_id: 'hostReview',
        name: '接待人审核',
        candidate_groups: JSON.stringify([`dept-${departmentId}`]),
        candidate_users: JSON.stringify([]),
        status: 'open',
        department_id: departmentId,
        created_at: new Date('2026-12-01T02:00:00Z'),
      });
      const byHost = await download(hostCs, server.url, fileUrl);
      t.is(byHost.status, 200);
      t.true(byHost.bytes.equals(png));
      t.is((await hostMe.get(fileUrl)).status, 404, 'host of another department');
      t.is((await guard.get(fileUrl)).status, 404, 'guard');
      t.is((await download(admin, server.url, fileUrl)).status, 200);
      t.is((await download(a.client, server.url, fileUrl)).status, 200);
      t.is((await b.client.get(fileUrl)).status, 404);

      t.deepEqual(await server.uploads.listForApplication(applicationId), [
        { id: up.body.id, name: 'a.png', mime: 'image/png', size: png.length, url: fileUrl },
      ]);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: linking checks ownership and single use; a retention purge removes rows and files`, async (t) => {
    const server = await startServer(kind);
    try {
      const a = await visitor(server.url);
      const b = await visitor(server.url);
      const mine = await server.uploads.store(a.id, { originalName: 'mine.png', bytes: tinyPng() });
      const theirs = await server.uploads.store(b.id, { originalName: 'theirs.pdf', bytes: tinyPdf() });
      const app1 = await insertApplication(server.db, a.id, 'CS');
      const app2 = await insertApplication(server.db, a.id, 'CS');
      const link = (visitorId: number, ids: string[], applicationId: number) =>
        server.db.knex.transaction((trx) => server.uploads.linkToApplication(trx, visitorId, ids, applicationId));

      const err = await t.throwsAsync(link(a.id, [mine.id, theirs.id], app1.applicationId));
      t.true(err instanceof AppError);
      t.is((err as AppError).status, 400);
      t.is((err as AppError).code, 'UPLOAD_NOT_FOUND');
      t.deepEqual((err as AppError).details, { ids: [theirs.id] });
      // the transaction rolled back: mine was not linked either
      t.is((await server.uploads.get(mine.id))!.applicationId, null);

      for (const bad of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        await t.throwsAsync(link(a.id, [bad], app1.applicationId), { code: 'UPLOAD_NOT_FOUND' } as any);
      }

      await link(a.id, [mine.id, mine.id], app1.applicationId);
      await link(a.id, [mine.id], app1.applicationId); // the same application again is harmless
      await t.throwsAsync(link(a.id, [mine.id], app2.applicationId), { code: 'UPLOAD_NOT_FOUND' } as any);
      t.is((await server.uploads.get(mine.id))!.applicationId, app1.applicationId);

      t.deepEqual(uploadIdsFromFormValue([{ storage: 'url', url: 'x', data: { id: mine.id } }, { bogus: 1 }, 'x']), [mine.id]);
      t.deepEqual(uploadIdsFromFormValue(undefined), []);

      t.is(filesIn(server.uploads.dir).length, 2);
      t.is(await server.uploads.deleteForApplication(app1.applicationId), 1);
      t.is(await server.uploads.get(mine.id), null);
      t.deepEqual(filesIn(server.uploads.dir), [theirs.storageName]);

      t.is(await server.uploads.deleteUnlinkedBefore(new Date('2026-11-30T00:00:00Z')), 0);
      t.is(await server.uploads.deleteUnlinkedBefore(new Date('2026-12-02T00:00:00Z')), 1);
      t.deepEqual(filesIn(server.uploads.dir), []);

      await t.throwsAsync(server.uploads.store(a.id, { originalName: 'x.png', bytes: tinyPng(1, 1, MAX) }), {
        code: 'UPLOAD_TOO_LARGE',
      } as any);
      t.deepEqual(filesIn(server.uploads.dir), []);
    } finally {
      await server.close();
    }
  });
}
