import path from 'node:path';
import { z } from 'zod';
import { checkSsoEnv, ssoEnvShape } from './auth/sso.config.ts';
import { checkSmsEnv, smsEnvShape } from './sms/sms.config.ts';
import { checkWechatEnv, wechatEnvShape } from './wechat/wechat.config.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  ENGINE: z.enum(['embedded', 'zeebe']).default('embedded'),
  /**
   * How long a job of the embedded engine stays with the process that took it: after a crash another process
   * runs it once this has passed. The bundled jobs take milliseconds.
   */
  ENGINE_JOB_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /**
   * An application claimed for starting its process and not started after this is recovered (recoverStaleStarts).
   * At least 45 s: recovery learns that an instance did start from its first task, whose event the engine may
   * take up to its 30 s delivery lease (plus a retry) to hand over after a crash; shorter would start it twice.
   */
  START_CLAIM_TIMEOUT_MS: z.coerce.number().int().min(45_000).max(3_600_000).default(120_000),
  PUBLIC_URL: z.url().optional(),
  // SMS_PROVIDER, SMS_TEMPLATES and the vendors' credentials and endpoints (server/sms/sms.config.ts).
  ...smsEnvShape,
  // WECHAT_ENABLED, the official account's credentials, API base and templates (server/wechat/wechat.config.ts).
  ...wechatEnvShape,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(5 * 1024 * 1024),
  BODY_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  TIMEZONE: z.string().default('Asia/Shanghai'),
  VISIT_PROCESS_ID: z.string().default('visit-pass'),
  UNIVERSITY_NAME: z.string().default('示例大学'),
  DEMO_DATA: bool.default(true),
  // Secrets: base64 (32 bytes) or generated into DATA_DIR on first start.
  COOKIE_SECRET: z.string().min(32).optional(),
  FIELD_ENCRYPTION_KEY: z.string().optional(),
  BLIND_INDEX_KEY: z.string().optional(),
  PASS_SIGNING_PRIVATE_KEY: z.string().optional(),
  COOKIE_SECURE: bool.optional(),
  /** Behind a reverse proxy / load balancer: take the client's address from X-Forwarded-For (and https from X-Forwarded-Proto). */
  TRUST_PROXY: bool.default(false),
  /**
   * How many proxies of ours append to X-Forwarded-For: the client address is the entry that many from the
   * right. Entries further left were written by the client and are not believed (the login throttle counts per address).
   */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  ZEEBE_ADDRESS: z.string().optional(),
  // Camunda 8 (ENGINE=zeebe), with @camunda8/sdk's names. Plaintext gRPC unless OAuth is set or this says false.
  ZEEBE_INSECURE_CONNECTION: bool.optional(),
  ZEEBE_CLIENT_ID: z.string().optional(),
  ZEEBE_CLIENT_SECRET: z.string().optional(),
  /** OAuth token endpoint: https://login.cloud.camunda.io/oauth/token (SaaS) or Keycloak's (self-managed). */
  CAMUNDA_OAUTH_URL: z.url().optional(),
  /** zeebe.camunda.io (SaaS) or the audience Identity gives the Zeebe API (self-managed, often zeebe-api). */
  CAMUNDA_ZEEBE_OAUTH_AUDIENCE: z.string().optional(),
  CAMUNDA_TOKEN_SCOPE: z.string().optional(),
  CAMUNDA_CUSTOM_ROOT_CERT_PATH: z.string().optional(),
  CAMUNDA_TENANT_ID: z.string().optional(),
  /** Server processes sharing the port (node:cluster); more than one needs DATABASE_URL. */
  WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /** PostgreSQL connections per server process. */
  DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  /**
   * Statements run as named prepared statements (server/db/pg-client.ts). Set false behind a pooler that
   * cannot keep them: PgBouncer in transaction mode before 1.21.
   */
  DB_PREPARED_STATEMENTS: bool.default(true),
  /**
   * How long a server process may use a session it has read without reading it again (PostgreSQL only: a logout
   * or a staff change in any process reaches every other one at once, see server/auth/session-cache.ts). 0: read
   * the session on every request.
   */
  SESSION_CACHE_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  /** Bearer token a Prometheus scrape of /metrics must send; unset: /metrics answers local direct requests only. */
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  // Staff single sign-on (server/auth/sso.config.ts).
  ...ssoEnvShape,
});

export type Config = z.infer<typeof schema> & {
  dataDir: string;
  /**
   * The variables the environment set (not defaulted). An integration setting an administrator can also save
   * (server/integrations) is taken from the environment exactly when its variable is listed here.
   */
  explicitEnv: readonly string[];
};

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the whole configuration once; the result is passed down explicitly. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = schema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  if (parsed.data.ENGINE === 'zeebe' && !parsed.data.ZEEBE_ADDRESS) {
    throw new ConfigError(['ZEEBE_ADDRESS: required when ENGINE=zeebe']);
  }
  if (Boolean(parsed.data.ZEEBE_CLIENT_ID) !== Boolean(parsed.data.ZEEBE_CLIENT_SECRET)) {
    throw new ConfigError(['ZEEBE_CLIENT_ID / ZEEBE_CLIENT_SECRET: set both (OAuth client credentials) or neither']);
  }
  if (parsed.data.WORKERS > 1 && !parsed.data.DATABASE_URL) {
    throw new ConfigError([
      'WORKERS: more than one server process needs DATABASE_URL (PostgreSQL); the embedded PGlite database belongs to one process',
    ]);
  }
  const smsIssues = checkSmsEnv(parsed.data);
  if (smsIssues.length) throw new ConfigError(smsIssues);
  const wechatIssues = checkWechatEnv(parsed.data);
  if (wechatIssues.length) throw new ConfigError(wechatIssues);
  const ssoIssues = checkSsoEnv(parsed.data);
  if (ssoIssues.length) throw new ConfigError(ssoIssues);
  return { ...parsed.data, dataDir: path.resolve(parsed.data.DATA_DIR), explicitEnv: Object.keys(relevant) };
}
