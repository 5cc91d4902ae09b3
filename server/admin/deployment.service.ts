import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../engine-adapter/clock.ts';
import type { DeployedProcess, WorkflowEngine } from '../../engine-adapter/contract.ts';
import { badRequest, notFound } from '../errors.ts';
import type { FormService } from '../forms/form.service.ts';
import type { FormSchema } from '../forms/form.validator.ts';
import { inspectBpmn } from './bpmn-inspect.ts';

export interface ProcessDeployment {
  processDefinitionKey: string;
  processId: string;
  version: number;
  name: string | null;
  startFormKey: string | null;
  deployedAt: Date;
}

export interface DeployResult {
  deployed: DeployedProcess;
  /** false when the engine returned an existing version (identical document and forms). */
  created: boolean;
  forms: Array<{ formKey: string; version: number }>;
}

const STAMP = /<!-- visitflow:forms [^>]*-->\n?/g;

/** The document without the form stamp (what the administrator edited). */
export function stripFormStamp(xml: string): string {
  return xml.replace(STAMP, '');
}

const sameModel = (a: string, b: string) =>
  stripFormStamp(a).replace(/\s+/g, ' ').trim() === stripFormStamp(b).replace(/\s+/g, ' ').trim();

function stampForms(xml: string, pins: Map<string, number>): string {
  const clean = stripFormStamp(xml);
  if (pins.size === 0) return clean;
  const stamp = `<!-- visitflow:forms ${[...pins].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}@${v}`).join(' ')} -->\n`;
  const decl = /^\s*<\?xml[^>]*\?>\s*/.exec(clean);
  return decl ? `${decl[0].trimEnd()}\n${stamp}${clean.slice(decl[0].length)}` : stamp + clean;
}

const toDeployment = (row: any): ProcessDeployment => ({
  processDefinitionKey: row.process_definition_key,
  processId: row.process_id,
  version: row.version,
  name: row.name,
  startFormKey: row.start_form_key,
  deployedAt: row.deployed_at,
});

/** How long latest() reuses what it read (see there). */
const LATEST_FRESH_MS = 1000;

/**
 * Deploys a BPMN document to the engine and pins, for each new process version, the latest version of every
 * form it references: a running application keeps the process and the forms it started with.
 */
export class DeploymentService {
  constructor(
    private readonly knex: Knex,
    private readonly engine: WorkflowEngine,
    private readonly forms: FormService,
    private readonly clock: Clock,
  ) {}

  private readonly latestRows = new LRUCache<string, { found: ProcessDeployment | null }>({
    max: 64,
    ttl: LATEST_FRESH_MS,
    fetchMethod: async (processId) => {
      const row = await this.knex('process_deployments').where({ process_id: processId }).orderBy('version', 'desc').first();
      return { found: row ? toDeployment(row) : null };
    },
  });

  async deploy(name: string, xml: string, deployedBy?: number): Promise<DeployedProcess[]> {
    return (await this.deployDetailed(name, xml, deployedBy)).map((d) => d.deployed);
  }

  /**
   * Deploys with the latest version of every referenced form. The document is stamped with those versions
   * (an XML comment), so a form-only change makes the same model a new process version: both engines
   * return the existing version for identical XML. `created` is false for an identical redeploy.
   */
  async deployDetailed(name: string, xml: string, deployedBy?: number): Promise<DeployResult[]> {
    const inspected = await inspectBpmn(xml);
    const pins = new Map<string, number>();
    for (const p of inspected) {
      for (const key of p.formKeys) {
        const form = await this.forms.latest(key);
        if (!form) throw badRequest('FORM_MISSING', `流程 ${p.processId} 引用的表单 ${key} 不存在，请先保存该表单`);
        pins.set(key, form.version);
      }
    }
    const stamped = stampForms(xml, pins);
    const deployed = await this.engine.deploy(name, stamped);
    const results: DeployResult[] = [];
    for (const d of deployed) {
      const info = inspected.find((p) => p.processId === d.processId);
      const forms = (info?.formKeys ?? []).map((formKey) => ({ formKey, version: pins.get(formKey)! }));
      const created = await this.knex.transaction(async (trx) => {
        const inserted = await trx('process_deployments')
          .insert({
            process_definition_key: d.key,
            process_id: d.processId,
            version: d.version,
            name: d.name ?? info?.name ?? null,
            xml: stamped,
            start_form_key: info?.startFormKey ?? null,
            deployed_by: deployedBy ?? null,
            deployed_at: this.clock.now(),
          })
          .onConflict('process_definition_key')
          .ignore()
          .returning('process_definition_key');
        if (inserted.length === 0) return false; // identical redeploy: keep the forms pinned the first time
        for (const f of forms) await this.forms.pin(d.key, f.formKey, f.version, trx);
        return true;
      });
      this.latestRows.delete(d.processId);
      results.push({ deployed: d, created, forms });
    }
    return results;
  }

  /**
   * Saves the shipped forms and deploys the shipped processes, unless an administrator has taken them over:
   * a form version or a deployment made by an administrator is never replaced by the files at a restart, and
   * an unchanged shipped process is not redeployed (that would also publish forms saved but not deployed).
   */
  async deployBundled(root: string): Promise<DeployedProcess[]> {
    const formsDir = path.join(root, 'forms');
    for (const file of fs.readdirSync(formsDir).filter((f) => f.endsWith('.json')).sort()) {
      const formKey = path.basename(file, '.json');
      const latest = await this.knex('form_versions').where({ form_key: formKey }).orderBy('version', 'desc').first('created_by');
      if (latest && latest.created_by !== null && latest.created_by !== undefined) continue;
      const schema = JSON.parse(fs.readFileSync(path.join(formsDir, file), 'utf8')) as FormSchema;
      await this.forms.save(formKey, schema);
    }
    const processesDir = path.join(root, 'processes');
    const deployed: DeployedProcess[] = [];
    for (const file of fs.readdirSync(processesDir).filter((f) => f.endsWith('.bpmn')).sort()) {
      const xml = fs.readFileSync(path.join(processesDir, file), 'utf8');
      const ids = (await inspectBpmn(xml)).map((p) => p.processId);
      const latest = await Promise.all(
        ids.map((id) => this.knex('process_deployments').where({ process_id: id }).orderBy('version', 'desc').first('xml', 'deployed_by')),
      );
      const untouched = latest.every((row) => row && row.deployed_by === null && sameModel(row.xml, xml));
      const takenOver = latest.some((row) => row && row.deployed_by !== null);
      if (latest.length && (untouched || takenOver)) continue;
      deployed.push(...(await this.deploy(file, xml)));
    }
    return deployed;
  }

  /**
   * The version new applications run. Read for every start form and submission, so it is reused for
   * LATEST_FRESH_MS: a deployment through another server process reaches this one at most that much later
   * (an application accepted meanwhile runs the version that was current a moment before); this process
   * forgets at once.
   */
  async latest(processId: string): Promise<ProcessDeployment> {
    const row = await this.latestRows.fetch(processId);
    if (!row?.found) throw notFound('PROCESS_NOT_DEPLOYED', `流程 ${processId} 尚未部署`);
    return row.found;
  }

  async byKey(processDefinitionKey: string): Promise<ProcessDeployment> {
    const row = await this.knex('process_deployments').where({ process_definition_key: processDefinitionKey }).first();
    if (!row) throw notFound('PROCESS_NOT_DEPLOYED', '流程版本不存在');
    return toDeployment(row);
  }

  async list(): Promise<ProcessDeployment[]> {
    return (await this.knex('process_deployments').orderBy([{ column: 'process_id' }, { column: 'version', order: 'desc' }])).map(
      toDeployment,
    );
  }
}
