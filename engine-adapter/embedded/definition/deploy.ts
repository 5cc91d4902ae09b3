import type { Knex } from 'knex';
import type { Clock } from '../../clock.ts';
import { type DeployedProcess, EngineError } from '../../contract.ts';
import type { KeyGenerator } from '../keys.ts';
import { type CompiledProcess, compileBpmn } from './compile.ts';

export interface DeployedDefinition extends CompiledProcess {
  key: string;
  version: number;
}

interface DefinitionRow {
  key: string;
  process_id: string;
  version: number;
  name: string;
  checksum: string;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Versioned process definitions: identical XML returns the existing version, changed XML becomes version+1,
 * and running instances keep the version they started with. Compiled definitions are cached per key, since a
 * version never changes once deployed.
 */
export class DefinitionRepository {
  private readonly compiled = new Map<string, Promise<DeployedDefinition>>();
  /** process id + version -> its row: a deployed version never changes, so only "latest" needs the database. */
  private readonly versions = new Map<string, DeployedProcess>();

  constructor(
    private readonly knex: Knex,
    private readonly clock: Clock,
    private readonly keys: KeyGenerator,
  ) {}

  async deploy(resourceName: string, xml: string): Promise<DeployedProcess> {
    const compiled = await compileBpmn(xml);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.knex.transaction(async (trx) => {
          const latest: DefinitionRow | undefined = await trx('engine_definitions')
            .where({ process_id: compiled.processId })
            .orderBy('version', 'desc')
            .first()
            .forUpdate();
          if (latest && latest.checksum === compiled.checksum) return toDeployed(latest);
          const row: DefinitionRow = {
            key: await this.keys.next(trx),
            process_id: compiled.processId,
            version: (latest?.version ?? 0) + 1,
            name: compiled.name,
            checksum: compiled.checksum,
          };
          await trx('engine_definitions').insert({ ...row, resource_name: resourceName, xml, deployed_at: this.clock.now() });
          this.compiled.set(row.key, Promise.resolve({ ...compiled, key: row.key, version: row.version }));
          return toDeployed(row);
        });
      } catch (err) {
        // Two engines deploying the first version at once: the loser sees the winner's row on retry.
        if ((err as any)?.code === UNIQUE_VIOLATION && attempt < 2) continue;
        throw err;
      }
    }
  }

  async find(db: Knex | Knex.Transaction, processId: string, version?: number): Promise<DeployedProcess> {
    const known = version === undefined ? undefined : this.versions.get(`${processId}@${version}`);
    if (known) return known;
    const query = db('engine_definitions').select('key', 'process_id', 'version', 'name', 'checksum').where({ process_id: processId });
    const row: DefinitionRow | undefined = await (version === undefined
      ? query.orderBy('version', 'desc').first()
      : query.andWhere({ version }).first());
    if (!row) throw new EngineError('PROCESS_NOT_FOUND', `no deployed process ${processId}${version ? ` version ${version}` : ''}`);
    const found = toDeployed(row);
    this.versions.set(`${processId}@${found.version}`, found);
    return found;
  }

  /** The compiled definition of a version; pass the open transaction (PGlite has a single connection). */
  get(db: Knex | Knex.Transaction, key: string): Promise<DeployedDefinition> {
    let entry = this.compiled.get(key);
    if (!entry) {
      entry = (async () => {
        const row = await db('engine_definitions').where({ key }).first();
        if (!row) throw new EngineError('DEFINITION_NOT_FOUND', `no process definition ${key}`);
        return { ...(await compileBpmn(row.xml)), key, version: row.version };
      })();
      entry.catch(() => this.compiled.delete(key));
      this.compiled.set(key, entry);
    }
    return entry;
  }
}

function toDeployed(row: DefinitionRow): DeployedProcess {
  return { processId: row.process_id, name: row.name, version: row.version, key: row.key };
}
