import type { Knex } from 'knex';
import type { Clock } from '../clock.ts';
import type { EngineLogger } from '../embedded/logger.ts';

/** How the adapter reaches a Camunda 8 cluster; the names follow @camunda8/sdk's environment variables. */
export interface ZeebeConnection {
  /** host:port of the gateway (ZEEBE_ADDRESS), e.g. `localhost:26500` or `<cluster>.bru-2.zeebe.camunda.io:443`. */
  address: string;
  /** true: plaintext gRPC (a local or in-cluster gateway); false: TLS. Default: TLS when OAuth is configured, else plaintext. */
  plaintext?: boolean;
  /** OAuth client credentials (SaaS or self-managed with Identity/Keycloak). Absent: no authentication. */
  oauth?: {
    clientId: string;
    clientSecret: string;
    /** Token endpoint (CAMUNDA_OAUTH_URL), e.g. https://login.cloud.camunda.io/oauth/token. */
    url: string;
    /** CAMUNDA_ZEEBE_OAUTH_AUDIENCE, e.g. `zeebe.camunda.io` (SaaS) or `zeebe-api` (self-managed). */
    audience?: string;
    scope?: string;
  };
  /** PEM root certificate for a self-managed gateway with a private CA. */
  rootCertPath?: string;
  tenantId?: string;
}

export interface ZeebeEngineOptions extends ZeebeConnection {
  /** The server database: the adapter keeps its task mirror, event outbox and incident list there (zeebe_* tables). */
  knex: Knex;
  clock?: Clock;
  logger?: EngineLogger;
  /** Name the cluster sees for this process's workers (default visitflow-<pid>). */
  workerName?: string;
  /** How long the first topology call may take before start-up fails (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Long-poll of the job workers (default 10000 ms); close() cancels it. */
  longPollMs?: number;
  /** Lock of an activated service job (default 5 min). */
  jobTimeoutMs?: number;
  /** Lock of an activated user-task job, renewed by the heartbeat while the task is open (default 10 min). */
  userTaskLockMs?: number;
  /** How often open tasks and held jobs are renewed, and vanished ones detected (default 30 s). */
  heartbeatIntervalMs?: number;
  /** How often pending events are looked for besides right after a change (default 1000 ms). */
  deliveryIntervalMs?: number;
  /** First retry delay of a failing job, doubled per attempt (default 1000 ms). */
  retryBackoffMs?: number;
  /** Retries given back when an incident is resolved without a count (default 3). */
  defaultRetries?: number;
  /** Background timers (default true). Tests turn them off and call settle(). */
  background?: boolean;
}

/** The SDK configuration for a connection; explicit values win over any ZEEBE_* / CAMUNDA_* in the environment. */
export function sdkConfig(connection: ZeebeConnection, longPollMs: number): Record<string, unknown> {
  const plaintext = connection.plaintext ?? !connection.oauth;
  const config: Record<string, unknown> = {
    // The scheme picks TLS; the SDK's older ZEEBE_INSECURE_CONNECTION / CAMUNDA_SECURE_CONNECTION are deprecated.
    ZEEBE_GRPC_ADDRESS: `${plaintext ? 'grpc' : 'grpcs'}://${connection.address}`,
    CAMUNDA_TENANT_ID: connection.tenantId ?? '',
    zeebeGrpcSettings: {
      // The SDK retries a failing call forever by default: the adapter decides itself what to retry.
      ZEEBE_GRPC_CLIENT_RETRY: false,
      ZEEBE_GRPC_CLIENT_EAGER_CONNECT: false,
      ZEEBE_CLIENT_LOG_LEVEL: 'NONE',
      ZEEBE_GRPC_WORKER_LONGPOLL_SECONDS: Math.max(1, Math.round(longPollMs / 1000)),
      ZEEBE_GRPC_WORKER_POLL_INTERVAL_MS: 100,
    },
    CAMUNDA_LOG_LEVEL: 'none',
  };
  if (connection.oauth) {
    Object.assign(config, {
      CAMUNDA_AUTH_STRATEGY: 'OAUTH',
      ZEEBE_CLIENT_ID: connection.oauth.clientId,
      ZEEBE_CLIENT_SECRET: connection.oauth.clientSecret,
      CAMUNDA_OAUTH_URL: connection.oauth.url,
      CAMUNDA_ZEEBE_OAUTH_AUDIENCE: connection.oauth.audience ?? 'zeebe.camunda.io',
      CAMUNDA_TOKEN_DISK_CACHE_DISABLE: true,
    });
    if (connection.oauth.scope) config.CAMUNDA_TOKEN_SCOPE = connection.oauth.scope;
  } else {
    config.CAMUNDA_AUTH_STRATEGY = 'NONE';
    config.CAMUNDA_OAUTH_DISABLED = true;
  }
  if (connection.rootCertPath) config.CAMUNDA_CUSTOM_ROOT_CERT_PATH = connection.rootCertPath;
  return config;
}

/**
 * The connection described by @camunda8/sdk's variable names, from process.env or from the server's parsed
 * config (same names; booleans already parsed). main.ts: `createEngine({ kind: 'zeebe', ...connectionFromEnv(config), knex })`.
 */
export function connectionFromEnv(env: Record<string, unknown>): ZeebeConnection | undefined {
  const text = (key: string) => (typeof env[key] === 'string' && env[key] !== '' ? (env[key] as string) : undefined);
  const address = text('ZEEBE_ADDRESS') ?? text('ZEEBE_GRPC_ADDRESS');
  if (!address) return undefined;
  const connection: ZeebeConnection = { address: address.replace(/^grpcs?:\/\//, '') };
  const insecure = env.ZEEBE_INSECURE_CONNECTION;
  if (address.startsWith('grpc://')) connection.plaintext = true;
  else if (address.startsWith('grpcs://')) connection.plaintext = false;
  else if (typeof insecure === 'boolean') connection.plaintext = insecure;
  else if (typeof insecure === 'string' && insecure) connection.plaintext = insecure === 'true';
  const clientId = text('ZEEBE_CLIENT_ID');
  const clientSecret = text('ZEEBE_CLIENT_SECRET');
  if (clientId && clientSecret) {
    connection.oauth = { clientId, clientSecret, url: text('CAMUNDA_OAUTH_URL') ?? 'https://login.cloud.camunda.io/oauth/token' };
    const audience = text('CAMUNDA_ZEEBE_OAUTH_AUDIENCE') ?? text('ZEEBE_TOKEN_AUDIENCE');
    if (audience) connection.oauth.audience = audience;
    const scope = text('CAMUNDA_TOKEN_SCOPE');
    if (scope) connection.oauth.scope = scope;
  }
  const cert = text('CAMUNDA_CUSTOM_ROOT_CERT_PATH');
  if (cert) connection.rootCertPath = cert;
  const tenant = text('CAMUNDA_TENANT_ID');
  if (tenant) connection.tenantId = tenant;
  return connection;
}
