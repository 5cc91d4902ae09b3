import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Clock } from '../engine-adapter/clock.ts';
import { SessionService } from './auth/session.service.ts';
import { ThrottleService } from './auth/throttle.service.ts';
import type { Config } from './config.ts';
import { FieldCrypto } from './crypto/field-crypto.ts';
import { DirectoryService } from './directory/directory.service.ts';
import type { Secrets } from './secrets.ts';
import { VisitorService } from './visitors/visitor.service.ts';

export interface Deps {
  config: Config;
  secrets: Secrets;
  knex: Knex;
  clock: Clock;
  logger: Logger;
}

/** The one place where the services are wired together; everything else receives what it needs. */
export function createServices(deps: Deps) {
  const fieldCrypto = new FieldCrypto(deps.secrets.fieldEncryptionKey, deps.secrets.blindIndexKey);
  const sessions = new SessionService(deps.knex, deps.clock);
  const throttle = new ThrottleService(deps.knex, deps.clock);
  const directory = new DirectoryService(deps.knex, fieldCrypto);
  const visitors = new VisitorService(deps.knex, fieldCrypto, throttle, deps.clock);
  return { ...deps, fieldCrypto, sessions, throttle, directory, visitors };
}

export type Services = ReturnType<typeof createServices>;
