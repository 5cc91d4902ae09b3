import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { applicationData, newVisitor, onlyTask, staffClient, tinyPng } from '../helpers/flow.ts';
import { makeIdNumber, makeMobile } from '../helpers/identities.ts';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.ts';

/**
 * After whole flows (approved with a vehicle plate and an attachment, refused by the host, refused by the
 * leader), the clear ID numbers and mobiles of the test data (visitors, and the host's mobile the visitor typed)
 * must not be anywhere a leak would last or travel: a dump of every table, the server's log lines, the process
 * variables of every engine instance, the SMS bodies, the uploaded files' names on disk, and what the staff and
 * admin endpoints answer. Masked values (410***********123X, 138****5678) are what may appear.
 */

/** An ID number whose check digit is X, so that the lower-case variant is a real variant. */
function idNumberEndingInX(birth: string): string {
  for (let i = 0; i < 40; i++) {
    const id = makeIdNumber(birth);
    if (id.endsWith('X')) return id;
  }
  throw new Error('no ID number ending in X');
}

/** The clear value and the forms a leak could take: spaced, lower-case x, the login secret, hex of the bytes. */
function variants(kind: 'id' | 'mobile', clear: string): string[] {
  const out =
    kind === 'id'
      ? [clear, clear.toLowerCase(), `${clear.slice(0, 6)} ${clear.slice(6, 14)} ${clear.slice(14)}`, clear.slice(-8), clear.slice(-8).toLowerCase()]
      : [clear, `${clear.slice(0, 3)} ${clear.slice(3, 7)} ${clear.slice(7)}`, `${clear.slice(0, 3)}-${clear.slice(3, 7)}-${clear.slice(7)}`, `+86${clear}`];
  // a bytea column is dumped as hex
  return [...new Set([...out, ...out.map((v) => Buffer.from(v).toString('hex'))])];
}

interface Secret {
  label: string;
  needles: string[];
}

/** Every place (where) in text that holds one of the secrets' forms. */
function findLeaks(where: string, text: string, secrets: Secret[]): string[] {
  const found: string[] = [];
  const haystack = text.toLowerCase();
  for (const s of secrets) {
    for (const needle of new Set(s.needles.map((n) => n.toLowerCase()))) {
      const at = haystack.indexOf(needle);
      if (at >= 0) found.push(`${where}: ${s.label} as "${needle}" in …${text.slice(Math.max(0, at - 60), at + needle.length + 60)}…`);
    }
  }
  return found;
}

async function dumpTables(server: TestServer): Promise<Map<string, { columns: number; rows: string[] }>> {
  const knex = server.db.knex;
  const tables: Array<{ table_name: string }> = await knex('information_schema.tables')
    .where({ table_schema: 'public', table_type: 'BASE TABLE' })
    .select('table_name');
  const dump = new Map<string, { columns: number; rows: string[] }>();
  for (const { table_name } of tables) {
    const [{ n }] = await knex('information_schema.columns').where({ table_schema: 'public', table_name }).count({ n: '*' });
    // the row as PostgreSQL's text of every column (jsonb as JSON, bytea as hex, timestamps as text)
    const res = await knex.raw(`select t::text as row from "${table_name}" t`);
    dump.set(table_name, { columns: Number(n), rows: res.rows.map((r: any) => String(r.row)) });
  }
  return dump;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f));
}

async function answers(client: ApiClient, paths: string[], into: Array<[string, string]>) {
  for (const p of paths) {
    const res = await client.get(p);
    into.push([`GET ${p} (${res.status})`, `${JSON.stringify([...res.headers])}\n${typeof res.body === 'string' ? res.body : JSON.stringify(res.body)}`]);
  }
}

for (const kind of await testBackends()) {
  test(`${kind}: after whole flows no clear ID number or mobile is in the tables, logs, process variables, SMS, file names or staff/admin answers`, async (t) => {
    const server = await startTestServer(kind, { recordSms: true });
    try {
      const knex = server.db.knex;
      // A: approved, with a car and an attachment; B: refused by the host; C: approved by the host, refused by the leader
      const a = await newVisitor(server, { name: '隐私甲', idNumber: idNumberEndingInX('19870919'), mobile: makeMobile() });
      const b = await newVisitor(server, { name: '隐私乙', idNumber: makeIdNumber('19760228', { female: true }) });
      const c = await newVisitor(server, { name: '隐私丙', idNumber: makeIdNumber('19950611') });
      const hostMobile = '13800001000'; // 王老师 of the demo directory, typed by every visitor
      const secrets: Secret[] = [];
      for (const [who, v] of [
        ['A', a],
        ['B', b],
        ['C', c],
      ] as const) {
        secrets.push({ label: `visitor ${who} ID number`, needles: variants('id', v.identity.idNumber) });
        secrets.push({ label: `visitor ${who} mobile`, needles: variants('mobile', v.identity.mobile) });
      }
      secrets.push({ label: 'host mobile', needles: variants('mobile', hostMobile) });
      // A comes with a companion (group visit): his ID number and mobile are secrets like A's
      const companion = { name: '隐私丁', idNumber: idNumberEndingInX('19910403'), mobile: makeMobile() };
      secrets.push({ label: 'companion ID number', needles: variants('id', companion.idNumber) });
      secrets.push({ label: 'companion mobile', needles: variants('mobile', companion.mobile) });
      // the matcher itself finds each form (a scan that cannot find anything proves nothing)
      t.true(findLeaks('self-check', `x ${a.identity.idNumber.slice(0, 6)} ${a.identity.idNumber.slice(6, 14)} ${a.identity.idNumber.slice(14).toLowerCase()} y`, secrets).length > 0);
      t.true(findLeaks('self-check', `密码 ${a.identity.idNumber.slice(-8)}`, secrets).length > 0);
      t.true(findLeaks('self-check', `"${b.identity.mobile.slice(0, 3)} ${b.identity.mobile.slice(3, 7)} ${b.identity.mobile.slice(7)}"`, secrets).length > 0);

      // refusals leave traces too (throttle counters, error logs): a wrong secret, a second registration
      const stranger = new ApiClient(server.url);
      const wrong = await stranger.post('/api/visitors/login', { mobile: a.identity.mobile, password: '00000000' });
      t.is(wrong.status, 401, JSON.stringify(wrong.body));
      const again = await stranger.post('/api/visitors/register', { ...b.identity, name: '重复' });
      t.is(again.status, 409, JSON.stringify(again.body));
      const badMobile = await stranger.post('/api/visitors/register', { ...c.identity, mobile: `${c.identity.mobile} ` });
      t.true(badMobile.status >= 400 && badMobile.status < 500, JSON.stringify(badMobile.body));

      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(tinyPng())], { type: 'image/png' }), '健康码.png');
      const upload = await a.client.request('POST', '/api/uploads', form);
      t.is(upload.status, 201, JSON.stringify(upload.body));
      const submit = async (client: ApiClient, overrides: Record<string, unknown>) => {
        const res = await client.post('/api/applications', { data: await applicationData(client, overrides) });
        if (res.status !== 201) throw new Error(`submit: ${JSON.stringify(res.body)}`);
        await server.settle();
        return res.body.application;
      };
      const appA = await submit(a.client, {
        withVehicle: true,
        plateNumber: '京A12345',
        attachments: [{ storage: 'url', name: upload.body.name, url: upload.body.url, data: upload.body }],
        companions: [companion],
      });
      const appB = await submit(b.client, { visitDate: '2026-12-04' });
      const appC = await submit(c.client, { visitDate: '2026-12-05' });

      const { client: host } = await staffClient(server, 'host-cs');
      const staffAnswers: Array<[string, string]> = [];
      // D: the host pre-invites A (who applies with the link) and a mobile nobody registered (cancelled); the
      // links' tokens must not last anywhere either once the SMS are sent
      const leaders = (await host.get('/api/invitations/options')).body.leaders;
      const invitedMobile = makeMobile();
      secrets.push({ label: 'invited mobile', needles: variants('mobile', invitedMobile) });
      const invite = async (mobile: string, visitDate: string) => {
        const res = await host.post('/api/invitations', { visitorMobile: mobile, visitorName: '隐私丁', visitDate, visitStartTime: '14:00', visitEndTime: '16:00', leaderStaffId: leaders[0].id });
        t.is(res.status, 201, JSON.stringify(res.body));
        staffAnswers.push(['POST /api/invitations', JSON.stringify(res.body)]);
        const sms = await knex('sms_outbox').where({ dedupe_key: `invitation:${res.body.invitation.id}` }).first();
        return { id: res.body.invitation.id as number, token: /invite=([A-Za-z0-9_-]+)/.exec(sms.body)![1] };
      };
      const forA = await invite(a.identity.mobile, '2026-12-06');
      const forNobody = await invite(invitedMobile, '2026-12-07');
      secrets.push({ label: 'invitation tokens', needles: [forA.token, forNobody.token] });
      const invited = await a.client.post('/api/invitations/apply', { token: forA.token, data: { remark: '按邀请来访' } });
      t.is(invited.status, 201, JSON.stringify(invited.body));
      t.is((await host.post(`/api/invitations/${forNobody.id}/cancel`, {})).status, 200);
      await server.settle();
      await answers(host, ['/api/invitations'], staffAnswers);
      const taskPaths = async (client: ApiClient) => {
        const lists = ['mine', 'unclaimed', 'done'].map((l) => `/api/tasks?list=${l}`);
        const ids = (await onlyTask(client)).tasks.map((x: any) => `/api/tasks/${x.id}`);
        return [...lists, ...ids];
      };
      await answers(host, await taskPaths(host), staffAnswers);
      const hostDecide = async (applicationId: number, decision: string) => {
        const task = (await onlyTask(host)).tasks.find((x: any) => x.application.id === applicationId);
        const view = await host.get(`/api/tasks/${task.id}`);
        const data: Record<string, unknown> = { decision, opinion: decision === 'approve' ? '同意' : '不同意' };
        if (decision === 'approve') data.leaderStaffId = String(view.body.leaders[0].id);
        const done = await host.post(`/api/tasks/${task.id}/complete`, { data });
        t.is(done.status, 200, JSON.stringify(done.body));
        staffAnswers.push([`POST /api/tasks/${task.id}/complete`, JSON.stringify(done.body)]);
        await server.settle();
        return view.body;
      };
      const viewA = await hostDecide(appA.id, 'approve');
      for (const att of viewA.attachments) await answers(host, [att.url], staffAnswers);
      await hostDecide(appB.id, 'refuse');
      await hostDecide(appC.id, 'approve');

      const { client: leader } = await staffClient(server, 'leader-cs');
      await answers(leader, await taskPaths(leader), staffAnswers);
      for (const [applicationId, decision] of [
        [appA.id, 'approve'],
        [appC.id, 'refuse'],
      ] as const) {
        const task = (await onlyTask(leader)).tasks.find((x: any) => x.application.id === applicationId);
        const done = await leader.post(`/api/tasks/${task.id}/complete`, { data: { decision, opinion: decision === 'approve' ? '同意' : '请改期' } });
        t.is(done.status, 200, JSON.stringify(done.body));
        await server.settle();
      }
      await answers(host, ['/api/tasks?list=done'], staffAnswers);
      await answers(leader, ['/api/tasks?list=done'], staffAnswers);

      // the guard checks A's pass inside the window and records entry and exit
      server.clock.set('2026-12-03T01:10:00Z');
      t.is((await a.client.post('/api/visitors/login', { mobile: a.identity.mobile, password: a.identity.idNumber.slice(-8) })).status, 200);
      const pass = await a.client.get(`/api/applications/${appA.id}/pass`);
      t.is(pass.status, 200, JSON.stringify(pass.body));
      const { client: guard } = await staffClient(server, 'guard');
      const campusId = Number((await knex('applications').where({ id: appA.id }).first()).campus_id);
      const verified = await guard.post('/api/gate/verify', { payload: pass.body.pass.qr.payload, campusId });
      t.true(verified.body.valid, JSON.stringify(verified.body));
      staffAnswers.push(['POST /api/gate/verify', JSON.stringify(verified.body)]);
      const byCode = await guard.post('/api/gate/verify', { code: pass.body.pass.code, campusId });
      staffAnswers.push(['POST /api/gate/verify (code)', JSON.stringify(byCode.body)]);
      for (const step of ['entry', 'exit']) {
        const res = await guard.post(`/api/gate/passes/${verified.body.pass.id}/${step}`, { campusId });
        t.is(res.status, 200, JSON.stringify(res.body));
        staffAnswers.push([`POST /api/gate/passes/:id/${step}`, JSON.stringify(res.body)]);
      }
      // the companion opens his pass by his SMS link and the guard checks it; he stays on campus for the list
      // The link as the companion's phone got it: the outbox keeps it blotted once sent.
      const link = server.smsSent.find((m) => m.template === 'companionPass')!.body;
      const companionPass = await stranger.post('/api/pass-link', { token: /[?&]pass=([A-Za-z0-9_-]+)/.exec(link)![1] });
      t.is(companionPass.status, 200, JSON.stringify(companionPass.body));
      staffAnswers.push(['POST /api/pass-link', JSON.stringify(companionPass.body)]);
      const companionChecked = await guard.post('/api/gate/verify', { payload: companionPass.body.pass.qr.payload, campusId });
      t.true(companionChecked.body.valid, JSON.stringify(companionChecked.body));
      staffAnswers.push(['POST /api/gate/verify (companion)', JSON.stringify(companionChecked.body)]);
      t.is((await guard.post(`/api/gate/passes/${companionChecked.body.pass.id}/entry`, { campusId })).status, 200);
      await answers(guard, [`/api/gate/on-campus?campusId=${campusId}`], staffAnswers);

      const { client: admin } = await staffClient(server, 'admin');
      // an administrator adds a host and changes their mobile: the audit log keeps both (masked)
      const cs = await knex('departments').where({ code: 'CS' }).first();
      const newStaffMobile = makeMobile();
      const changedStaffMobile = makeMobile();
      secrets.push({ label: 'new staff mobile', needles: variants('mobile', newStaffMobile) });
      secrets.push({ label: 'changed staff mobile', needles: variants('mobile', changedStaffMobile) });
      const created = await admin.post('/api/admin/staff', {
        username: 'host-cs-new',
        name: '新老师',
        mobile: newStaffMobile,
        departmentId: cs.id,
        roles: ['host'],
        password: 'Demo@2026x',
      });
      t.is(created.status, 201, JSON.stringify(created.body));
      staffAnswers.push(['POST /api/admin/staff', JSON.stringify(created.body)]);
      const updated = await admin.request('PUT', `/api/admin/staff/${created.body.staff.id}`, { mobile: changedStaffMobile });
      t.is(updated.status, 200, JSON.stringify(updated.body));
      staffAnswers.push(['PUT /api/admin/staff/:id', JSON.stringify(updated.body)]);
      const apps = [appA, appB, appC];
      await answers(
        admin,
        [
          '/api/admin/instances',
          ...apps.map((x) => `/api/admin/instances/${x.id}`),
          '/api/admin/audit',
          '/api/admin/sms',
          '/api/admin/wechat',
          '/api/admin/integrations',
          '/api/admin/staff',
          '/api/admin/departments',
          '/api/admin/settings',
          '/api/admin/reports/counts?from=2026-01-01&to=2026-12-31',
          '/api/tasks?list=done',
        ],
        staffAnswers,
      );

      const leaks: string[] = [];
      // 1. every row of every table, every column as text
      const dump = await dumpTables(server);
      let rows = 0;
      let columns = 0;
      for (const [table, { columns: n, rows: lines }] of dump) {
        columns += n;
        rows += lines.length;
        for (const line of lines) leaks.push(...findLeaks(`table ${table}`, line, secrets));
      }
      // the dump does hold the people (masked), so a clear value would have been seen
      const all = [...dump.values()].flatMap((d) => d.rows).join('\n');
      t.true(all.includes(`${a.identity.mobile.slice(0, 3)}****${a.identity.mobile.slice(-4)}`), 'the dump holds A masked');
      t.true(all.includes(`${companion.idNumber.slice(0, 3)}***********${companion.idNumber.slice(-4)}`), 'the dump holds the companion masked');
      for (const table of ['visitors', 'applications', 'application_companions', 'tasks', 'passes', 'uploads', 'sms_outbox', 'audit_log', 'engine_instances', 'invitations']) {
        if (dump.has(table)) t.true(dump.get(table)!.rows.length > 0, `${table} has rows`);
      }
      // 2. every line the server logged
      for (const line of server.logs) leaks.push(...findLeaks('log', JSON.stringify(line), secrets));
      // 3. every variable of every instance the engine ran
      const instanceKeys = (await knex('applications').whereNotNull('instance_key').select('instance_key')).map((r: any) => String(r.instance_key));
      t.is(instanceKeys.length, 4);
      for (const key of instanceKeys) {
        const info = await server.engine.getInstance(key);
        t.truthy(info, `instance ${key}`);
        t.true(Object.keys(info?.variables ?? {}).length > 0, `instance ${key} has variables`);
        leaks.push(...findLeaks(`instance ${key}`, JSON.stringify(info), secrets));
      }
      // 4. the SMS bodies (the outbox is in the dump too; its bodies are what a provider receives)
      const sms = await knex('sms_outbox').select('body', 'template');
      t.true(sms.some((m: any) => m.template === 'approved') && sms.some((m: any) => m.template === 'refused'));
      for (const m of sms) leaks.push(...findLeaks('SMS body', String(m.body), secrets));
      // 5. the uploaded files' names on disk
      const files = filesUnder(server.services.uploads.dir);
      t.true(files.length > 0, 'the attachment is on disk');
      for (const f of files) leaks.push(...findLeaks('file on disk', f, secrets));
      // 6. what staff and admins were answered
      for (const [where, body] of staffAnswers) leaks.push(...findLeaks(where, body, secrets));

      t.deepEqual(leaks, [], leaks.join('\n'));
      t.log(
        `${dump.size} tables, ${columns} columns, ${rows} rows; ${server.logs.length} log lines; ${instanceKeys.length} instances; ${sms.length} SMS; ${files.length} files; ${staffAnswers.length} staff/admin answers`,
      );
    } finally {
      await server.close();
    }
  });
}
