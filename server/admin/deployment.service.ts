import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';
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

const toDeployment = (row: any): ProcessDeployment => ({
  processDefinitionKey: row.process_definition_key,
  processId: row.process_id,
  version: row.version,
  name: row.name,
  startFormKey: row.start_form_key,
  deployedAt: row.deployed_at,
});

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

  async deploy(name: string, xml: string, deployedBy?: number): Promise<DeployedProcess[]> {
    const inspected = await inspectBpmn(xml);
    for (const p of inspected) {
      for (const key of p.formKeys) {
        if (!(await this.forms.latest(key))) {
          throw badRequest('FORM_MISSING', `流程 ${p.processId} 引用的表单 ${key} 不存在，请先保存该表单`);
        }
      }
    }
    const deployed = await this.engine.deploy(name, xml);
    for (const d of deployed) {
      const info = inspected.find((p) => p.processId === d.processId);
      await this.knex.transaction(async (trx) => {
        const inserted = await trx('process_deployments')
          .insert({
            process_definition_key: d.key,
            process_id: d.processId,
            version: d.version,
            name: d.name ?? info?.name ?? null,
            xml,
            start_form_key: info?.startFormKey ?? null,
            deployed_by: deployedBy ?? null,
            deployed_at: this.clock.now(),
          })
          .onConflict('process_definition_key')
          .ignore()
          .returning('process_definition_key');
        if (inserted.length === 0) return; // identical redeploy: keep the forms pinned the first time
        for (const key of info?.formKeys ?? []) {
          const form = await this.forms.latest(key, trx);
          if (form) await this.forms.pin(d.key, key, form.version, trx);
        }
      });
    }
    return deployed;
  }

  /** Saves the shipped forms (new versions only when changed) and deploys the shipped processes. */
  async deployBundled(root: string): Promise<DeployedProcess[]> {
    const formsDir = path.join(root, 'forms');
    for (const file of fs.readdirSync(formsDir).filter((f) => f.endsWith('.json')).sort()) {
      const schema = JSON.parse(fs.readFileSync(path.join(formsDir, file), 'utf8')) as FormSchema;
      await this.forms.save(path.basename(file, '.json'), schema);
    }
    const processesDir = path.join(root, 'processes');
    const deployed: DeployedProcess[] = [];
    for (const file of fs.readdirSync(processesDir).filter((f) => f.endsWith('.bpmn')).sort()) {
      deployed.push(...(await this.deploy(file, fs.readFileSync(path.join(processesDir, file), 'utf8'))));
    }
    return deployed;
  }

  async latest(processId: string): Promise<ProcessDeployment> {
    const row = await this.knex('process_deployments').where({ process_id: processId }).orderBy('version', 'desc').first();
    if (!row) throw notFound('PROCESS_NOT_DEPLOYED', `流程 ${processId} 尚未部署`);
    return toDeployment(row);
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
