import http from 'node:http';
import os from 'node:os';
import { demoLogins } from '../server/directory/demo-data.ts';
import { checkDigit } from '../server/visitors/resident-id.ts';
import {
  type BenchServer,
  Client,
  campusDay,
  createBenchDatabase,
  Latencies,
  PostgresCpu,
  reportServerTrouble,
  sleep,
  startServer,
  summary,
} from './lib.ts';

/**
 * The whole visit flow over HTTP against PostgreSQL, with the real server as separate processes (WORKERS of
 * them): visitors register and log in (prepared before the clock starts: each costs an scrypt hash), then, on
 * the clock, each visitor in turn opens the start form, submits, waits for the decision and fetches the pass,
 * while every host and leader of the demo directory works through their task list (host picks the leader).
 * A flow is complete when the visitor has the pass. Reports flows/s, p50/p95/p99 per endpoint, peak RSS.
 * A 503 (server busy) is waited out and sent again; any other failure fails the bench, after
 * the server's log tail has been printed, and so does an application that did not reach the end.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const VISITORS = Number(process.env.BENCH_VISITORS ?? 96);
const WORKERS = process.env.BENCH_WORKERS ?? '2';
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 1000);
/** Tasks one staff member works on at once (several browser tabs): twelve hosts must keep up with 100 flows/s. */
const STAFF_PARALLEL = Number(process.env.BENCH_STAFF_PARALLEL ?? 4);

export function idNumber(i: number): string {
  const birth = new Date(Date.UTC(1970, 0, 1) + (i % 10_000) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
  const first17 = `110105${birth}${String(Math.floor(i / 10_000) % 1000).padStart(3, '0')}`;
  return first17 + checkDigit(first17);
}

export const mobile = (i: number) => `137${String(i).padStart(8, '0')}`;

/** Every host and leader of the demo directory, logged in. */
export async function reviewerClients(url: string, agent: http.Agent, latencies?: Latencies) {
  return Promise.all(
    demoLogins()
      .filter((l) => l.role === 'host' || l.role === 'leader')
      .map(async (l) => {
        const client = new Client(url, agent, latencies);
        const res = await client.post('/api/staff/login', { username: l.username, password: l.password });
        if (res.status !== 200) throw new Error(`staff login ${l.username}: ${res.status}`);
        return { login: l, client };
      }),
  );
}

/** The application form's fields that pick each demo host's department (from GET /api/applications/form). */
export function hostDepartments(form: { departments: Array<{ id: number; name: string; campusId: number }> }) {
  return demoLogins()
    .filter((l) => l.role === 'host')
    .map((host) => {
      const dept = form.departments.find((d) => d.name === host.department)!;
      return { departmentId: String(dept.id), campusId: String(dept.campusId), hostName: host.name, hostMobile: host.mobile! };
    });
}

export async function run(): Promise<void> {
  const db = await createBenchDatabase();
  let server: BenchServer | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  try {
    server = await startServer(db.url, { WORKERS, ...(process.env.BENCH_POOL ? { DB_POOL_MAX: process.env.BENCH_POOL } : {}) });
    const prep = new Latencies();
    const timed = new Latencies();

    // ---- before the clock: visitors register and log in once each, staff log in once each
    let started = performance.now();
    const visitors = await Promise.all(
      Array.from({ length: VISITORS }, async (_, i) => {
        const client = new Client(server!.url, agent, prep);
        const id = idNumber(i);
        const reg = await client.post('/api/visitors/register', { name: `访客${i}`, organisation: '个人', idNumber: id, mobile: mobile(i) });
        if (reg.status !== 201) throw new Error(`register: ${reg.status} ${JSON.stringify(reg.body)}`);
        const login = await client.post('/api/visitors/login', { mobile: mobile(i), password: id.slice(-8) });
        if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
        return client;
      }),
    );
    const staff = await reviewerClients(server.url, agent, prep);
    const prepSeconds = (performance.now() - started) / 1000;
    const form = await visitors[0].get('/api/applications/form');
    const departments = hostDepartments(form.body);

    // ---- on the clock
    let stopSubmitting = false;
    let stopStaff = false;
    const flowTimes: number[] = [];
    const completions: number[] = [];
    let failures = 0;
    let staffFailures = 0;
    const failed = (what: string) => {
      if (failures + staffFailures === 1) reportServerTrouble(server, `first failure: ${what}`);
      else if (failures + staffFailures <= 5) console.warn(`  failed: ${what}`);
    };
    const visitDate = campusDay(2);
    for (const c of [...visitors, ...staff.map((s) => s.client)]) c.recordInto(timed);
    const pg = new PostgresCpu(db.name);
    const pgBefore = pg.sample();
    const loadBefore = os.loadavg()[0];
    const cpuBefore = server.cpu();
    const clientCpuBefore = process.cpuUsage();
    started = performance.now();

    const visitorLoop = async (client: Client, slot: number) => {
      for (let n = 0; !stopSubmitting; n++) {
        const flowStart = performance.now();
        try {
          const f = await client.get('/api/applications/form', 'GET /api/applications/form');
          if (f.status !== 200) throw new Error(`form ${f.status}`);
          const dept = departments[(slot + n) % departments.length];
          const data = { ...f.body.prefill, withVehicle: false, ...dept, visitDate, visitStartTime: '09:00', visitEndTime: '11:00', remark: '压测' };
          const sub = await client.post('/api/applications', { data }, 'POST /api/applications');
          if (sub.status !== 201) throw new Error(`submit ${sub.status} ${JSON.stringify(sub.body).slice(0, 200)}`);
          const id = sub.body.application.id;
          for (;;) {
            await sleep(POLL_MS);
            const view = await client.get(`/api/applications/${id}`, 'GET /api/applications/:id');
            if (view.body.application?.status === 'approved') break;
            if (!['submitted', 'pending'].includes(view.body.application?.status)) throw new Error(`status ${view.body.application?.status}`);
          }
          const pass = await client.get(`/api/applications/${id}/pass`, 'GET /api/applications/:id/pass');
          if (pass.status !== 200) throw new Error(`pass ${pass.status}`);
          flowTimes.push(performance.now() - flowStart);
          completions.push(performance.now() - started);
        } catch (err) {
          failures++;
          failed(`flow: ${(err as Error).message}`);
        }
      }
    };

    const staffLoop = async ({ login, client }: (typeof staff)[number]) => {
      const working = new Set<number>();
      // A list fetched while a completion was on its way may still show that task: never take it twice.
      const finished = new Set<number>();
      const work = async (taskId: number) => {
        try {
          const data: Record<string, unknown> = { decision: 'approve', opinion: '同意' };
          if (login.role === 'host') {
            const view = await client.get(`/api/tasks/${taskId}`, 'GET /api/tasks/:id');
            if (view.status !== 200) throw new Error(`task ${taskId}: ${view.status} ${JSON.stringify(view.body).slice(0, 200)}`);
            data.leaderStaffId = String(view.body.leaders[0].id);
          }
          const done = await client.post(`/api/tasks/${taskId}/complete`, { data }, 'POST /api/tasks/:id/complete');
          if (done.status !== 200) throw new Error(`complete ${taskId}: ${done.status} ${JSON.stringify(done.body).slice(0, 200)}`);
        } catch (err) {
          // Not thrown on: work() runs unawaited, and a rejection nobody awaits would end the bench.
          staffFailures++;
          failed(`staff ${login.username}: ${(err as Error).message}`);
        } finally {
          finished.add(taskId);
          working.delete(taskId);
        }
      };
      while (!stopStaff) {
        const list = await client.get('/api/tasks?list=mine&pageSize=50', 'GET /api/tasks');
        if (list.status !== 200) {
          staffFailures++;
          failed(`staff ${login.username}: task list ${list.status} ${JSON.stringify(list.body).slice(0, 200)}`);
        }
        const fresh = (list.body.tasks ?? []).filter((t: any) => !working.has(t.id) && !finished.has(t.id)).slice(0, STAFF_PARALLEL - working.size);
        for (const t of fresh) {
          working.add(t.id);
          void work(t.id);
        }
        await sleep(fresh.length ? 50 : POLL_MS / 2);
      }
      while (working.size) await sleep(50);
    };

    const staffDone = Promise.all(staff.map(staffLoop));
    const submitters = Promise.all(visitors.map((c, i) => visitorLoop(c, i)));
    await sleep(SECONDS * 1000);
    stopSubmitting = true;
    const submitWindow = (performance.now() - started) / 1000;
    await Promise.race([submitters, sleep(60_000)]);
    const elapsed = (performance.now() - started) / 1000;
    stopStaff = true;
    await staffDone;
    const serverCpu = server.cpu() - cpuBefore;
    const pgCpu = pg.sample() - pgBefore;
    pg.stop();
    const load = Math.max(loadBefore, os.loadavg()[0]);
    const clientCpu = process.cpuUsage(clientCpuBefore);

    // Steady state: completions after the first quarter of the window (ramp-up) until its end.
    const from = submitWindow * 250;
    const steady = completions.filter((t) => t >= from && t <= submitWindow * 1000).length / (submitWindow * 0.75);
    const latency = summary(flowTimes);
    const rss = server.rss();
    console.log(
      `flow (PostgreSQL, WORKERS=${WORKERS}, ${VISITORS} visitors, 12 hosts + 12 leaders, poll ${POLL_MS} ms, ${SECONDS} s of submitting)`,
    );
    console.log(`  prepared ${VISITORS} visitors (register + login) and ${staff.length} staff logins in ${prepSeconds.toFixed(1)} s`);
    console.log(
      `  complete flows: ${completions.length} in ${elapsed.toFixed(1)} s = ${(completions.length / elapsed).toFixed(1)} flows/s` +
        ` (steady state ${steady.toFixed(1)} flows/s; failed ${failures}); target >= 100 flows/s`,
    );
    console.log(`  flow time (form -> pass): p50 ${latency.p50.toFixed(0)} ms, p95 ${latency.p95.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms`);
    const perFlow = (serverCpu + pgCpu) / Math.max(1, completions.length);
    console.log(
      `  CPU: server ${serverCpu.toFixed(1)} s (${(serverCpu / elapsed).toFixed(2)} cores), PostgreSQL ${pgCpu.toFixed(1)} s (${(pgCpu / elapsed).toFixed(2)} cores), ` +
        `bench client ${((clientCpu.user + clientCpu.system) / 1e6 / elapsed).toFixed(2)} cores; machine load average ${load.toFixed(1)}`,
    );
    console.log(
      `  server + PostgreSQL CPU per complete flow: ${(perFlow * 1000).toFixed(0)} ms -> at most ${(2 / perFlow).toFixed(0)} flows/s on 2 idle cores (the bench client's share not counted)`,
    );
    console.log(`  peak RSS: ${rss.peakTotalMiB} MiB in total (per process: ${rss.peakPerProcessMiB.join(', ')} MiB)`);
    // Nothing lost: every accepted application reached the end (approved) or is counted as a failed flow.
    const statuses: Array<{ status: string; n: number }> = await db.knex('applications').select('status').count({ n: '*' }).groupBy('status');
    const byStatus = Object.fromEntries(statuses.map((r) => [r.status, Number(r.n)]));
    const accepted = statuses.reduce((sum, r) => sum + Number(r.n), 0);
    const unfinished = accepted - (byStatus.approved ?? 0);
    console.log(`  applications accepted ${accepted}, approved ${byStatus.approved ?? 0}${unfinished ? `, NOT finished ${unfinished} (${JSON.stringify(byStatus)})` : ''}`);
    console.log(`  ${server.log.summary()}; staff failures ${staffFailures}`);
    console.log('  per endpoint (timed part):');
    console.log(timed.table());
    console.log('  preparation:');
    console.log(prep.table());
    const trouble = failures + staffFailures + server.log.errors + unfinished + timed.errorCount();
    if (trouble) {
      reportServerTrouble(server, 'the flow bench failed');
      throw new Error(
        `flow bench failed: ${failures} failed flows, ${staffFailures} staff failures, ${timed.errorCount()} error answers, ${unfinished} unfinished applications, ${server.log.errors} server errors`,
      );
    }
  } finally {
    agent.destroy();
    await server?.stop();
    await db.drop();
  }
}
