import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FakeClock } from '../../engine-adapter/clock.ts';
import { createEmbeddedEngine, type EmbeddedEngine } from '../../engine-adapter/index.ts';
import type Koa from 'koa';
import { createApp } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import type { DatabaseKind } from '../../server/db/database.ts';
import type { AppState } from '../../server/http/context.ts';
import { seedDemoData } from '../../server/directory/demo-data.ts';
import { createLogger } from '../../server/logger.ts';
import { generateSecrets } from '../../server/secrets.ts';
import { ConsoleSmsProvider, type SmsSendRequest } from '../../server/sms/sms.provider.ts';
import { createServices, type Services } from '../../server/services.ts';
import { zeebeEngineForTests } from '../zeebe/env.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface TestServer {
  url: string;
  /** The Koa app the server runs (its middleware holds the routers, for tests that walk every route). */
  app: Koa<AppState>;
  db: TestDatabase;
  clock: FakeClock;
  services: Services;
  engine: EmbeddedEngine;
  /** Runs everything that is due now: instance starts, engine timers/jobs/events, SMS and WeChat delivery. */
  settle(): Promise<void>;
  /** Lines the server logged, as parsed JSON. */
  logs: any[];
  /**
   * With `recordSms`: what the SMS provider was handed, as the recipient's phone would get it (the outbox blots
   * link tokens once a message is sent, so tests that follow a link read it here).
   */
  smsSent: SmsSendRequest[];
  close(): Promise<void>;
}

/** A real HTTP server on a random port over a fresh database with the demo directory. */
export async function startTestServer(
  kind: DatabaseKind,
  options: {
    env?: Record<string, string>;
    demo?: boolean;
    recordSms?: boolean;
    /** A second server process on the database of this one (its directory and deployments, already there). */
    sameDatabaseAs?: TestServer;
  } = {},
): Promise<TestServer> {
  const shared = options.sameDatabaseAs;
  const db = shared?.db ?? (await createTestDatabase(kind));
  const clock = new FakeClock('2026-12-01T02:00:00Z');
  const logs: any[] = [];
  const logger = createLogger('info', {
    write: (line: string) => {
      logs.push(JSON.parse(line));
    },
  });
  const config = loadConfig({ DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'visitflow-test-')), ...options.env });
  // VISITFLOW_TEST_ENGINE=zeebe: the same server on the Zeebe adapter over the gRPC gateway double.
  const engine =
    process.env.VISITFLOW_TEST_ENGINE === 'zeebe'
      ? await zeebeEngineForTests({ knex: db.knex, clock })
      : createEmbeddedEngine({ knex: db.knex, clock, autoPoll: false });
  const smsSent: SmsSendRequest[] = [];
  // The console provider (the default) that also hands the test what it sent; tests of the integration settings
  // keep the configured one.
  const consoleSms = new ConsoleSmsProvider(logger);
  const smsProvider = options.recordSms
    ? {
        name: 'console',
        send: async (message: SmsSendRequest) => {
          smsSent.push(message);
          return consoleSms.send(message);
        },
      }
    : undefined;
  // A second process shares the first one's secrets, as the workers of one deployment do.
  const services = createServices({ config, secrets: shared?.services.secrets ?? generateSecrets(), knex: db.knex, clock, logger, engine, smsProvider });
  // As the server does: on PostgreSQL, sessions are kept between requests while their changes can be heard.
  if (kind === 'postgres') await services.sessionChanges.start();
  if (options.demo !== false && !shared) await seedDemoData(db.knex, services.directory);
  await services.deployments.deployBundled(fileURLToPath(new URL('../..', import.meta.url)));
  const settle = async () => {
    for (let round = 0; round < 20; round++) {
      await services.applications.drainStarter();
      while ((await services.applications.startBatch(50)) > 0) {}
      await engine.drain();
      const { sent, failed } = await services.sms.deliverDue(100);
      const wechat = await services.wechat.deliverDue(100);
      const [{ n }] = await db.knex('applications').where({ status: 'submitted' }).whereNull('instance_key').count({ n: '*' });
      if (sent + failed + wechat.sent + wechat.failed === 0 && Number(n) === 0) return;
    }
  };
  // Longer than any pause between a test's requests on a loaded machine: otherwise the server may close an idle
  // keep-alive socket just as the client reuses it, and fetch fails with a reset.
  const app = createApp(services);
  const server = http.createServer({ keepAliveTimeout: 120_000 }, app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    db,
    clock,
    services,
    engine,
    settle,
    logs,
    smsSent,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await services.sms.stop();
      await services.wechat.stop();
      await services.applications.drainStarter();
      await services.sessionChanges.stop();
      await engine.close();
      if (!shared) await db.close();
      fs.rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A browser-like client: keeps cookies and echoes the CSRF cookie in the header, as our pages do. */
export class ApiClient {
  private cookies = new Map<string, string>();
  constructor(
    readonly baseUrl: string,
    private readonly options: { csrf?: boolean; ip?: string } = {},
  ) {}

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** The same browser, with its cookies, sent to another server process (as a load balancer would). */
  on(baseUrl: string): ApiClient {
    const other = new ApiClient(baseUrl, this.options);
    other.cookies = this.cookies;
    return other;
  }

  /** Another client holding a copy of this one's cookies as they are now (a copied cookie, a second tab). */
  copy(baseUrl = this.baseUrl): ApiClient {
    const other = new ApiClient(baseUrl, this.options);
    other.cookies = new Map(this.cookies);
    return other;
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    if (this.options.csrf !== false && method !== 'GET' && !this.cookies.has('vf_csrf')) await this.request('GET', '/api/csrf');
    const h: Record<string, string> = { ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (this.options.csrf !== false && this.cookies.has('vf_csrf')) h['x-csrf-token'] = this.cookies.get('vf_csrf')!;
    let payload: any;
    if (body instanceof FormData || typeof body === 'string' || body instanceof Uint8Array) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] = 'application/json';
    }
    const res = await fetch(this.baseUrl + path, { method, headers: h, body: payload, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /expires=thu, 01 jan 1970/i.test(a.trim()));
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    let parsed: any = text;
    if (res.headers.get('content-type')?.includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, body: parsed, headers: res.headers };
  }

  get<T = any>(path: string) {
    return this.request<T>('GET', path);
  }
  post<T = any>(path: string, body?: unknown) {
    return this.request<T>('POST', path, body ?? {});
  }
}
