import http from 'node:http';
import { demoLogins } from '../server/directory/demo-data.ts';
import { idNumber, mobile } from './flow.ts';
import { type BenchServer, Client, campusDay, createBenchDatabase, PostgresCpu, reportServerTrouble, sleep, startServer } from './lib.ts';

/**
 * Where the CPU of one flow goes: each step of the flow, run N times (a few at once) against one server
 * process over PostgreSQL, with the background work the step causes (instance start, engine commands, task
 * events, SMS) counted to it. The flow bench says how many flows the machine does; this one says which step
 * costs what, so a change can be judged by the step it touches (the flow bench's figure moves with load).
 */
const N = Number(process.env.BENCH_STEPS_N ?? 80);
/** Past tasks in the database before the steps run (a campus's history: the lists count them). */
const HISTORY = Number(process.env.BENCH_STEPS_HISTORY ?? 0);
const AT_ONCE = 6;
/** Uncounted passes over all steps before the counted one (BENCH_STEPS_WARMUP). */
const WARMUP = Number(process.env.BENCH_STEPS_WARMUP ?? 1);
/**
 * How many times each read step runs per application: /proc counts CPU in 10 ms ticks, and 80 reads of about a
 * millisecond each were a few ticks, so the read steps' figures moved by a quarter between runs.
 */
const READS = Number(process.env.BENCH_STEPS_READS ?? 10);

export async function run(): Promise<void> {
  const db = await createBenchDatabase();
  let server: BenchServer | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const pg = new PostgresCpu(db.name);
  try {
    server = await startServer(db.url, { WORKERS: '1' });
    const url = server.url;
    // The server's own background work (polling) while idle, taken off each step: the quietest of five 1 s windows
    // before the visitors log in (measured after them, a window sometimes caught their work and every figure came
    // out negative).
    let cpu = 0;
    let pgCpu = 0;
    let idleServer = Infinity;
    let idlePg = Infinity;
    for (let window = 0; window < 5; window++) {
      cpu = server.cpu();
      pgCpu = pg.sample();
      await sleep(1000);
      idleServer = Math.min(idleServer, server.cpu() - cpu);
      idlePg = Math.min(idlePg, pg.sample() - pgCpu);
    }
    const visitors = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const client = new Client(url, agent);
        const id = idNumber(i);
        await client.post('/api/visitors/register', { name: `访客${i}`, organisation: '个人', idNumber: id, mobile: mobile(i) });
        const login = await client.post('/api/visitors/login', { mobile: mobile(i), password: id.slice(-8) });
        if (login.status !== 200) throw new Error(`visitor login: ${login.status}`);
        return client;
      }),
    );
    const logins = demoLogins();
    const hostLogin = logins.find((l) => l.role === 'host')!;
    const leaderLogin = logins.find((l) => l.role === 'leader' && l.department === hostLogin.department)!;
    const staffClient = async (l: typeof hostLogin) => {
      const client = new Client(url, agent);
      const res = await client.post('/api/staff/login', { username: l.username, password: l.password });
      if (res.status !== 200) throw new Error(`staff login ${l.username}: ${res.status}`);
      return client;
    };
    const host = await staffClient(hostLogin);
    const leader = await staffClient(leaderLogin);
    const form = await visitors[0].get('/api/applications/form');
    const dept = form.body.departments.find((d: any) => d.name === hostLogin.department);

    if (HISTORY > 0) {
      const staffIds = (await db.knex('staff').select('id')).map((r: { id: number }) => r.id);
      await db.knex.raw(
        `insert into tasks (task_key, instance_key, element_id, name, status, completed_by, completed_at, created_at)
         select 'history-' || g, 'history-' || g, 'host-review', '到访部门接待人意见', 'completed', (?::int[])[1 + g % ?], now(), now()
         from generate_series(1, ?) g`,
        [staffIds, staffIds.length, HISTORY],
      );
      await db.knex.raw('vacuum analyze tasks');
    }

    console.log(
      `CPU per step (1 server process, PostgreSQL, ${N} of each (reads ${N * READS}), ${AT_ONCE} at once, ` +
        `after ${WARMUP} uncounted pass(es); background work of the step included` +
        `${HISTORY ? `; ${HISTORY} past tasks` : ''}; idle ${(idleServer * 1000).toFixed(0)} + ${(idlePg * 1000).toFixed(0)} ms/s taken off)`,
    );
    const measure = async (label: string, act: (i: number) => Promise<void>, settleMs: number, print: boolean, times = 1) => {
      cpu = server!.cpu();
      pgCpu = pg.sample();
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: AT_ONCE }, async () => {
          while (next < N * times) await act(next++ % N);
        }),
      );
      await sleep(settleMs);
      const seconds = (performance.now() - started) / 1000;
      const perStep = (used: number, idle: number) => ((used - idle * seconds) / (N * times)) * 1000;
      const s = perStep(server!.cpu() - cpu, idleServer);
      const p = perStep(pg.sample() - pgCpu, idlePg);
      if (print) console.log(`  ${label.padEnd(44)} server ${s.toFixed(1).padStart(5)} ms  PostgreSQL ${p.toFixed(1).padStart(5)} ms`);
      return s + p;
    };
    const ok = (what: string, res: { status: number; body: any }, status = 200) => {
      if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      return res.body;
    };

    /**
     * One pass over the steps with fresh applications. The passes before the last are not counted: on a server that
     * has just started, V8 has not compiled the paths yet and PostgreSQL plans each prepared statement anew for its
     * first runs on a connection, which made this bench's flow twice as dear as the flow bench's own figure.
     */
    const pass = async (counted: boolean) => {
      const step = (label: string, act: (i: number) => Promise<void>, settleMs: number) => measure(label, act, settleMs, counted);
      const read = (label: string, act: (i: number) => Promise<void>) => measure(label, act, 300, counted, READS);
      const ids: number[] = [];
      const hostTasks: number[] = [];
      const leaders: string[] = [];
      const leaderTasks: number[] = [];
      const listAll = async (client: Client, into: number[]) => {
        for (let page = 1; into.length < N; page++) {
          const tasks = ok('task list', await client.get(`/api/tasks?list=mine&pageSize=50&page=${page}`)).tasks;
          if (!tasks.length) throw new Error(`only ${into.length} of ${N} tasks arrived`);
          into.push(...tasks.map((t: any) => t.id));
        }
      };
      let total = 0;
      total += await read('GET /api/applications/form', async (i) => void ok('form', await visitors[i].get('/api/applications/form')));
      total += await step(
        'POST /api/applications (+ instance start)',
        async (i) => {
          const data = {
            ...form.body.prefill,
            withVehicle: false,
            campusId: String(dept.campusId),
            departmentId: String(dept.id),
            hostName: hostLogin.name,
            hostMobile: hostLogin.mobile,
            visitDate: campusDay(2),
            visitStartTime: '09:00',
            visitEndTime: '11:00',
            remark: '压测',
          };
          ids[i] = ok('submit', await visitors[i].post('/api/applications', { data }), 201).application.id;
        },
        4000,
      );
      total += 4 * (await read('GET /api/applications/:id (x4 in a flow)', async (i) => void ok('view', await visitors[i].get(`/api/applications/${ids[i]}`))));
      total += 3 * (await read('GET /api/tasks (x3 in a flow)', async () => void ok('list', await host.get('/api/tasks?list=mine&pageSize=50'))));
      await listAll(host, hostTasks);
      total += await read(
        'GET /api/tasks/:id',
        async (i) => {
          leaders[i] = String(ok('task view', await host.get(`/api/tasks/${hostTasks[i]}`)).leaders[0].id);
        },
      );
      total += await step(
        'POST complete, host (+ engine, leader task)',
        async (i) => {
          const data = { decision: 'approve', opinion: '同意', leaderStaffId: leaders[i] };
          ok('host complete', await host.post(`/api/tasks/${hostTasks[i]}/complete`, { data }));
        },
        4000,
      );
      await listAll(leader, leaderTasks);
      total += await step(
        'POST complete, leader (+ engine, 3 jobs, SMS)',
        async (i) => void ok('leader complete', await leader.post(`/api/tasks/${leaderTasks[i]}/complete`, { data: { decision: 'approve', opinion: '同意' } })),
        6000,
      );
      total += await read('GET /api/applications/:id/pass', async (i) => void ok('pass', await visitors[i].get(`/api/applications/${ids[i]}/pass`)));
      const approved = await db.knex('applications').whereIn('id', ids).where({ status: 'approved' }).count({ n: '*' });
      if (Number(approved[0].n) !== N) throw new Error(`${approved[0].n} of ${N} applications approved`);
      return total;
    };
    for (let round = 0; round < WARMUP; round++) await pass(false);
    const total = await pass(true);
    console.log(`  one flow as the flow bench runs it: ${total.toFixed(0)} ms of CPU -> at most ${(2000 / total).toFixed(0)} flows/s on 2 idle cores`);
    console.log(`  ${server.log.summary()}`);
    if (server.log.errors) throw new Error(`${server.log.errors} server errors`);
  } catch (err) {
    reportServerTrouble(server, `the steps bench failed: ${(err as Error).message}`);
    throw err;
  } finally {
    pg.stop();
    agent.destroy();
    await server?.stop();
    await db.drop();
  }
}
