import test from 'ava';
import { testBackends } from '../helpers/database.ts';
import { applicationData, approvedWithPass, newVisitor, onlyTask, staffClient, submitApplication } from '../helpers/flow.ts';
import { makeIdNumber } from '../helpers/identities.ts';
import { startTestServer } from '../helpers/server.ts';

for (const kind of await testBackends()) {
  test(`${kind}: an admin adds, lists and deactivates entries; each change is audited; no clear ID number is stored`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const idNumber = makeIdNumber('19850612');
      const byId = await admin.post('/api/admin/watch-list', { kind: 'id_number', idNumber, reason: '曾冒用他人证件', mode: 'refuse' });
      t.is(byId.status, 201, JSON.stringify(byId.body));
      t.is(byId.body.entry.idNumber, `${idNumber.slice(0, 3)}***********${idNumber.slice(-4)}`);
      const byPlate = await admin.post('/api/admin/watch-list', { kind: 'plate', plate: '京a 12345', reason: '多次违规停车', mode: 'review' });
      t.is(byPlate.status, 201, JSON.stringify(byPlate.body));
      t.is(byPlate.body.entry.plate, '京A12345');
      const byName = await admin.post('/api/admin/watch-list', { kind: 'name', name: '赵六', organisation: '某公司', reason: '推销', mode: 'review' });
      t.is(byName.status, 201, JSON.stringify(byName.body));

      // A wrong ID number, a missing reason and an unknown mode are refused with their field.
      const wrongCheck = `${idNumber.slice(0, 17)}${idNumber.endsWith('0') ? '1' : '0'}`;
      const bad = await admin.post('/api/admin/watch-list', { kind: 'id_number', idNumber: wrongCheck, reason: 'x', mode: 'refuse' });
      t.is(bad.status, 400);
      t.is(bad.body.error.code, 'ID_CHECK_DIGIT');
      t.is((await admin.post('/api/admin/watch-list', { kind: 'plate', plate: '京A12345', mode: 'refuse' })).body.error.code, 'VALIDATION_FAILED');
      t.is((await admin.post('/api/admin/watch-list', { kind: 'plate', plate: '京A12345', reason: 'x', mode: 'ban' })).body.error.code, 'VALIDATION_FAILED');

      const list = await admin.get('/api/admin/watch-list?pageSize=2');
      t.is(list.status, 200);
      t.is(list.body.total, 3);
      t.deepEqual(
        list.body.entries.map((e: any) => e.id),
        [byName.body.entry.id, byPlate.body.entry.id],
      );
      t.is(list.body.entries[0].createdBy.name, '系统管理员');

      const off = await admin.post(`/api/admin/watch-list/${byPlate.body.entry.id}/deactivate`, {});
      t.is(off.status, 200);
      t.false(off.body.entry.active);
      t.is((await admin.get('/api/admin/watch-list?active=true')).body.total, 2);
      t.is((await admin.post('/api/admin/watch-list/999999/deactivate', {})).body.error.code, 'WATCH_ENTRY_NOT_FOUND');

      const audit = await admin.get('/api/admin/audit?targetType=watch_list');
      t.deepEqual(
        audit.body.entries.map((e: any) => [e.action, e.targetId]).reverse(),
        [
          ['watchlist.add', String(byId.body.entry.id)],
          ['watchlist.add', String(byPlate.body.entry.id)],
          ['watchlist.add', String(byName.body.entry.id)],
          ['watchlist.deactivate', String(byPlate.body.entry.id)],
        ],
      );
      t.is(audit.body.entries[0].actor.name, '系统管理员');

      // Neither the table nor the audit log holds the clear ID number (nor its last eight characters).
      const rows = JSON.stringify(await server.db.knex('watch_list').select('*'));
      const audits = JSON.stringify(await server.db.knex('audit_log').select('*'));
      t.false(rows.includes(idNumber) || rows.includes(idNumber.slice(6, 14)));
      t.false(audits.includes(idNumber) || audits.includes(idNumber.slice(6, 14)));

      // Only admins.
      const { client: host } = await staffClient(server, 'host-cs');
      t.is((await host.get('/api/admin/watch-list')).status, 403);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a CSV import adds all rows or none, audited, ID numbers not in clear`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const idNumber = makeIdNumber('19770707');
      const good = `类型,值,单位,原因,处理方式\n身份证号,${idNumber},,通报,直接拒绝\n车牌号,粤B 12345,,冲卡,转安全审核\nname,吴某,某公司,推销,review\n`;
      const bad = `${good}车牌号,X,,太短,直接拒绝\n`;
      const refused = await admin.post('/api/admin/watch-list/import', { csv: bad });
      t.is(refused.status, 400);
      t.is(refused.body.error.code, 'CSV_INVALID');
      t.is(refused.body.error.details[0].row, 5);
      t.is((await admin.get('/api/admin/watch-list')).body.total, 0, 'one bad row imports none');

      const done = await admin.post('/api/admin/watch-list/import', { csv: good });
      t.is(done.status, 200, JSON.stringify(done.body));
      t.is(done.body.imported, 3);
      const { entries } = (await admin.get('/api/admin/watch-list')).body;
      t.deepEqual(
        entries.map((e: any) => [e.kind, e.mode, e.idNumber ?? e.plate ?? e.name]).reverse(),
        [
          ['id_number', 'refuse', `${idNumber.slice(0, 3)}***********${idNumber.slice(-4)}`],
          ['plate', 'review', '粤B12345'],
          ['name', 'review', '吴某'],
        ],
      );
      t.is((await admin.get('/api/admin/audit?action=watchlist.add')).body.total, 3);
      t.false(JSON.stringify(await server.db.knex('watch_list').select('*')).includes(idNumber));
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a visitor on the list with mode refuse is refused at apply with a neutral message, and the refusal is audited`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const { client, identity, visitor } = await newVisitor(server, { name: '钱七' });
      const entry = await admin.post('/api/admin/watch-list', { kind: 'id_number', idNumber: identity.idNumber, reason: '保卫处通报：禁止入校', mode: 'refuse' });
      t.is(entry.status, 201);

      const res = await client.post('/api/applications', { data: await applicationData(client) });
      t.is(res.status, 403, JSON.stringify(res.body));
      t.is(res.body.error.code, 'APPLICATION_NOT_ACCEPTED');
      t.is(res.body.error.message, '您的申请暂不能受理，如有疑问请联系到访单位');
      // The visitor does not learn the reason, nor that a list exists.
      t.false(JSON.stringify(res.body).includes('保卫处通报'));
      t.false(JSON.stringify(res.body).includes('名单'));
      t.is((await server.db.knex('applications').where({ visitor_id: visitor.id })).length, 0);

      const audit = await admin.get('/api/admin/audit?action=watchlist.refused');
      t.is(audit.body.entries.length, 1);
      t.is(audit.body.entries[0].targetId, String(visitor.id));
      t.is(audit.body.entries[0].after.entries[0].id, entry.body.entry.id);

      // Another visitor is not affected; once deactivated, the listed visitor may apply again.
      const other = await newVisitor(server, { name: '孙八' });
      t.is((await other.client.post('/api/applications', { data: await applicationData(other.client) })).status, 201);
      await admin.post(`/api/admin/watch-list/${entry.body.entry.id}/deactivate`, {});
      t.is((await client.post('/api/applications', { data: await applicationData(client) })).status, 201);
      await server.settle();
    } finally {
      await server.close();
    }
  });

  test(`${kind}: a hit with mode review goes to the security office first, flagged for them and the admin, not shown to the visitor`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const entry = await admin.post('/api/admin/watch-list', { kind: 'name', name: '周九', organisation: '某科技公司', reason: '曾在实验室滋事', mode: 'review' });
      t.is(entry.status, 201);
      const listed = await newVisitor(server, { name: '周九', organisation: '某科技公司' });
      const sameNameOtherOrg = await newVisitor(server, { name: '周九', organisation: '个人' });

      const app = await submitApplication(server, listed.client);
      t.is(app.status, 'submitted');
      t.false(JSON.stringify(app).includes('滋事'));
      const mine = await listed.client.get(`/api/applications/${app.id}`);
      t.false(JSON.stringify(mine.body).includes('滋事'));
      t.is(mine.body.application.currentStep, '入校安全审核', 'a neutral step name: the visitor does not learn he is listed');
      t.false(JSON.stringify(mine.body).includes('名单'));
      const other = await submitApplication(server, sameNameOtherOrg.client);

      // The listed visitor's application waits for the security office; the other goes to the host as always.
      const { client: host } = await staffClient(server, 'host-cs');
      const hostTasks = await onlyTask(host);
      t.deepEqual(
        hostTasks.tasks.map((x: any) => x.application?.id),
        [other.id],
      );
      t.is((await host.get(`/api/tasks/${hostTasks.tasks[0].id}`)).body.application.watchHit, null);

      const { client: security } = await staffClient(server, 'security');
      const review = await onlyTask(security, 'unclaimed');
      t.deepEqual(
        review.tasks.map((x: any) => [x.application?.id, x.elementId, x.name]),
        [[app.id, 'security-review', '入校安全审核']],
      );
      const view = await security.get(`/api/tasks/${review.tasks[0].id}`);
      t.is(view.status, 200, JSON.stringify(view.body));
      t.deepEqual(view.body.application.watchHit, { entries: [{ id: entry.body.entry.id, kind: 'name', reason: '曾在实验室滋事', mode: 'review' }] });

      const instance = await admin.get(`/api/admin/instances/${app.id}`);
      t.is(instance.body.application.watchHit.entries[0].reason, '曾在实验室滋事');
      t.is(instance.body.instance.variables.watchHit, true);

      // The security office clears the visitor: the application goes on to the host as any other.
      t.is((await security.post(`/api/tasks/${review.tasks[0].id}/claim`)).status, 200);
      const cleared = await security.post(`/api/tasks/${review.tasks[0].id}/complete`, { data: { decision: 'approve', opinion: '已核实，同意入校' } });
      t.is(cleared.status, 200, JSON.stringify(cleared.body));
      await server.settle();
      const hostNow = await onlyTask(host);
      const flagged = hostNow.tasks.find((x: any) => x.application?.id === app.id);
      t.truthy(flagged, JSON.stringify(hostNow));
      const hostView = await host.get(`/api/tasks/${flagged.id}`);
      t.is(hostView.body.application.watchHit.entries[0].reason, '曾在实验室滋事', 'the host still sees why it was reviewed');
      const timeline = (await listed.client.get(`/api/applications/${app.id}`)).body;
      t.false(JSON.stringify(timeline).includes('滋事'));
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the security office refuses a listed visitor: refused, told by SMS, no host task`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      await admin.post('/api/admin/watch-list', { kind: 'plate', plate: '粤B12345', reason: '车辆曾冲卡', mode: 'review' });
      const driver = await newVisitor(server, { name: '冯十三' });
      const app = await submitApplication(server, driver.client, { withVehicle: true, plateNumber: '粤B12345' });

      const { client: security } = await staffClient(server, 'security');
      const [task] = (await onlyTask(security, 'unclaimed')).tasks;
      t.is(task.application.id, app.id);
      // Nobody else can work (or even see) the security office's task.
      const { client: host } = await staffClient(server, 'host-cs');
      t.is((await host.post(`/api/tasks/${task.id}/claim`)).status, 404);
      t.is((await onlyTask(host)).tasks.length, 0);

      await security.post(`/api/tasks/${task.id}/claim`);
      const noOpinion = await security.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse' } });
      t.is(noOpinion.status, 400);
      t.is(noOpinion.body.error.code, 'FORM_INVALID');
      const refused = await security.post(`/api/tasks/${task.id}/complete`, { data: { decision: 'refuse', opinion: '不符合入校条件' } });
      t.is(refused.status, 200, JSON.stringify(refused.body));
      await server.settle();

      const mine = (await driver.client.get(`/api/applications/${app.id}`)).body.application;
      t.is(mine.status, 'refused');
      t.false(JSON.stringify(mine).includes('冲卡'));
      const sms = (await server.db.knex('sms_outbox').where({ application_id: app.id })).map((r: any) => r.template);
      t.true(sms.includes('refused'), JSON.stringify(sms));
      t.is((await onlyTask(host)).tasks.length, 0);
      t.is((await onlyTask(host, 'unclaimed')).tasks.length, 0);
    } finally {
      await server.close();
    }
  });

  test(`${kind}: the guard sees a warning when the visitor or the plate is on the list`, async (t) => {
    const server = await startTestServer(kind);
    try {
      const { client: admin } = await staffClient(server, 'admin');
      const { client: guard } = await staffClient(server, 'guard');
      const plain = await newVisitor(server, { name: '吴十' });
      const driver = await newVisitor(server, { name: '郑十一' });
      const listed = await newVisitor(server, { name: '王十二' });
      await admin.post('/api/admin/watch-list', { kind: 'plate', plate: '沪B·66666', reason: '车辆曾冲卡', mode: 'review' });
      await admin.post('/api/admin/watch-list', { kind: 'id_number', idNumber: listed.identity.idNumber, reason: '在逃人员协查', mode: 'refuse' });

      const a = await approvedWithPass(server, plain.visitor.id, { plate: '京A00001' });
      const b = await approvedWithPass(server, driver.visitor.id, { plate: '沪B66666' });
      const c = await approvedWithPass(server, listed.visitor.id);
      server.clock.set('2026-12-01T07:00:00Z');
      const verify = (p: { pass: any; campusId: number }) => guard.post('/api/gate/verify', { code: p.pass.short_code, campusId: p.campusId });

      const clean = await verify(a);
      t.true(clean.body.valid, JSON.stringify(clean.body));
      t.is(clean.body.watchWarning, undefined);

      const car = await verify(b);
      t.true(car.body.valid, 'the warning does not invalidate the pass: the guard decides');
      t.is(car.body.watchWarning.code, 'WATCH_LIST_HIT');
      t.regex(car.body.watchWarning.message, /车牌号/);
      t.is(car.body.watchWarning.entries[0].reason, '车辆曾冲卡');

      const person = await verify(c);
      t.regex(person.body.watchWarning.message, /身份证号/);
      t.is(person.body.watchWarning.entries[0].reason, '在逃人员协查');
    } finally {
      await server.close();
    }
  });
}
