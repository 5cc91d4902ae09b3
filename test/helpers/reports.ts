import { ok } from './admin.ts';
import { applicationData, newVisitor, onlyTask, staffClient } from './flow.ts';
import type { ApiClient, TestServer } from './server.ts';

const MIN = 60_000;
export const RANGE = 'from=2026-12-01&to=2026-12-05';
export const FORMULA_OPINION = '=HYPERLINK("http://evil.example","请联系13912345678")';

/**
 * A small history with known figures, driven through the real flow on the fake clock (so every step's duration
 * is exact), plus one gate entry and one day of purged counts:
 *
 * | app | department | visit day | what happens (minutes after the 10:00 submission) |
 * | A | CS | 12-03 09:00–11:00 | host approves at 30, leader approves at 150; never enters (a no-show) |
 * | B | CS | 12-03 14:00–16:00 | host refuses at 10: "不同意，来访事由不充分。" |
 * | F | CS | 12-04 14:00–16:00 | host refuses at 10: "  不同意，来访事由不充分  " |
 * | C | CS | 12-04 09:00–11:00 | host approves at 60, leader refuses at 90 with a formula holding a mobile |
 * | D | ME | 12-03 09:00–11:00 | host approves at 30, leader approves at 150; enters 12-03 09:15 |
 * | E | FL (东校区) | 12-03 | nobody reviews it (pending) |
 * and report_counts holds 3 purged approved CS applications of 12-02.
 */
export async function reportHistory(server: TestServer) {
  const knex = server.db.knex;
  const { client: visitor } = await newVisitor(server, { name: '报表访客' });
  const dept = async (code: string) => knex('departments').where({ code }).first();
  const [cs, me, fl] = [await dept('CS'), await dept('ME'), await dept('FL')];
  const submit = async (d: any, hostName: string, hostMobile: string, visitDate: string, start: string, end: string) => {
    const data = await applicationData(visitor, {
      campusId: String(d.campus_id),
      departmentId: String(d.id),
      hostName,
      hostMobile,
      visitDate,
      visitStartTime: start,
      visitEndTime: end,
    });
    const res = await visitor.post('/api/applications', { data });
    if (res.status !== 201) throw new Error(`submit: ${JSON.stringify(res.body)}`);
    return res.body.application.id as number;
  };
  const A = await submit(cs, '王老师', '13800001000', '2026-12-03', '09:00', '11:00');
  const B = await submit(cs, '王老师', '13800001000', '2026-12-03', '14:00', '16:00');
  const F = await submit(cs, '王老师', '13800001000', '2026-12-04', '14:00', '16:00');
  const C = await submit(cs, '王老师', '13800001000', '2026-12-04', '09:00', '11:00');
  const D = await submit(me, '李老师', '13800001002', '2026-12-03', '09:00', '11:00');
  const E = await submit(fl, '陈老师', '13800001008', '2026-12-03', '09:00', '11:00');
  await server.settle();

  const clients = new Map<string, ApiClient>();
  const decide = async (username: string, applicationId: number, decision: 'approve' | 'refuse', opinion: string) => {
    if (!clients.has(username)) clients.set(username, (await staffClient(server, username)).client);
    const client = clients.get(username)!;
    const task = (await onlyTask(client)).tasks.find((x: any) => x.application.id === applicationId);
    if (!task) throw new Error(`${username} has no task of ${applicationId}`);
    const data: Record<string, unknown> = { decision, opinion };
    if (username.startsWith('host-') && decision === 'approve') data.leaderStaffId = String((await client.get(`/api/tasks/${task.id}`)).body.leaders[0].id);
    await ok(client.post(`/api/tasks/${task.id}/complete`, { data }));
    await server.settle();
  };
  server.clock.advance(10 * MIN);
  await decide('host-cs', B, 'refuse', '不同意，来访事由不充分。');
  await decide('host-cs', F, 'refuse', '  不同意，来访事由不充分  ');
  server.clock.advance(20 * MIN);
  await decide('host-cs', A, 'approve', '同意');
  await decide('host-me', D, 'approve', '同意');
  server.clock.advance(30 * MIN);
  await decide('host-cs', C, 'approve', '同意');
  server.clock.advance(30 * MIN);
  await decide('leader-cs', C, 'refuse', FORMULA_OPINION);
  server.clock.advance(60 * MIN);
  await decide('leader-cs', A, 'approve', '同意');
  await decide('leader-me', D, 'approve', '同意');

  // D enters at 09:15 on the 3rd (campus time); A never comes.
  server.clock.set('2026-12-03T01:15:00Z');
  const guard = (await staffClient(server, 'guard')).client;
  const pass = await knex('passes').where({ application_id: D }).first();
  await ok(guard.post(`/api/gate/passes/${pass.id}/entry`, { campusId: me.campus_id }));
  server.clock.set('2026-12-03T12:00:00Z'); // 20:00 on the 3rd: A's and D's windows have passed
  await knex('report_counts').insert({ day: '2026-12-02', campus_id: cs.campus_id, department_id: cs.id, status: 'approved', count: 3 });
  return { A, B, C, D, E, F, cs, me, fl };
}

