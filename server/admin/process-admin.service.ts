import type { Knex } from 'knex';
import { DeploymentError } from '../../engine-adapter/contract.ts';
import { compileBpmn } from '../../engine-adapter/embedded/definition/compile.ts';
import type { Config } from '../config.ts';
import { type AppError, badRequest, notFound } from '../errors.ts';
import type { Actor, AuditService } from './audit.service.ts';
import { type BpmnProblem, lintBpmn, parseForAdmin } from './bpmn-lint.ts';
import { type DeploymentService, stripFormStamp } from './deployment.service.ts';

export interface ValidationReport {
  valid: boolean;
  problems: BpmnProblem[];
}

const MAX_XML = 2 * 1024 * 1024;

/** Process definitions for the admin pages: versions, lint + engine validation, deploy, import with layout. */
export class ProcessAdminService {
  constructor(
    private readonly deps: {
      knex: Knex;
      config: Config;
      deployments: DeploymentService;
      audit: AuditService;
    },
  ) {}

  async list() {
    const { knex } = this.deps;
    const rows = await knex('process_deployments')
      .leftJoin('staff', 'staff.id', 'process_deployments.deployed_by')
      .select('process_deployments.*', 'staff.name as deployed_by_name')
      .orderBy([{ column: 'process_id' }, { column: 'version', order: 'desc' }]);
    const pins = await knex('process_forms').select();
    const usage = await knex('applications')
      .select('process_definition_key')
      .count({ n: '*' })
      .whereIn('status', ['submitted', 'pending'])
      .groupBy('process_definition_key');
    const running = new Map(usage.map((u: any) => [u.process_definition_key, Number(u.n)]));
    const byProcess = new Map<string, any>();
    for (const r of rows) {
      let p = byProcess.get(r.process_id);
      if (!p) {
        p = { processId: r.process_id, name: r.name, latestVersion: r.version, versions: [] };
        byProcess.set(r.process_id, p);
      }
      p.versions.push({
        version: r.version,
        key: r.process_definition_key,
        name: r.name,
        deployedAt: r.deployed_at,
        deployedBy: r.deployed_by ? { id: r.deployed_by, name: r.deployed_by_name } : null,
        startFormKey: r.start_form_key,
        forms: pins
          .filter((f: any) => f.process_definition_key === r.process_definition_key)
          .map((f: any) => ({ formKey: f.form_key, version: f.form_version }))
          .sort((a: any, b: any) => a.formKey.localeCompare(b.formKey)),
        runningApplications: running.get(r.process_definition_key) ?? 0,
      });
    }
    return [...byProcess.values()];
  }

  async version(processId: string, version: number | 'latest') {
    const q = this.deps.knex('process_deployments').where({ process_id: processId });
    const row = await (version === 'latest' ? q.orderBy('version', 'desc').first() : q.andWhere({ version }).first());
    if (!row) throw notFound('PROCESS_VERSION_NOT_FOUND', '流程版本不存在');
    const forms = await this.deps.knex('process_forms').where({ process_definition_key: row.process_definition_key });
    return {
      processId: row.process_id,
      version: row.version,
      key: row.process_definition_key,
      name: row.name,
      deployedAt: row.deployed_at,
      startFormKey: row.start_form_key,
      forms: forms.map((f: any) => ({ formKey: f.form_key, version: f.form_version })),
      // The form stamp is how deployment versions forms; the administrator's document is the rest.
      xml: stripFormStamp(row.xml),
    };
  }

  private checkSize(xml: unknown): string {
    if (typeof xml !== 'string' || !xml.trim()) throw badRequest('BPMN_REQUIRED', '请提供 BPMN 文件内容');
    if (xml.length > MAX_XML) throw badRequest('BPMN_TOO_LARGE', 'BPMN 文件过大');
    return xml;
  }

  private async parse(xml: string) {
    try {
      return await parseForAdmin(xml);
    } catch (err: any) {
      throw badRequest('BPMN_UNREADABLE', `BPMN 文件无法解析：${err.message}`);
    }
  }

  /**
   * Lint (Camunda 8 rules) and, with the embedded engine, its deploy-time validation. Zeebe has no dry run:
   * there its validation answers at deploy. Warnings do not make a document invalid.
   */
  async validate(rawXml: unknown): Promise<ValidationReport> {
    const xml = this.checkSize(rawXml);
    const parsed = await this.parse(xml);
    const problems = await lintBpmn(parsed);
    if (this.deps.config.ENGINE === 'embedded') {
      try {
        await compileBpmn(xml);
      } catch (err) {
        if (!(err instanceof DeploymentError)) throw err;
        problems.push(...engineProblems(err, parsed.names));
      }
    }
    return { valid: !problems.some((p) => p.severity === 'error'), problems };
  }

  /** Validates, deploys (a new version unless nothing changed) and records who did it. */
  async deploy(actor: Actor, rawXml: unknown, resourceName?: string) {
    const xml = this.checkSize(rawXml);
    const report = await this.validate(xml);
    if (!report.valid) throw invalid(report.problems);
    const parsed = await this.parse(xml);
    const processIds: string[] = (parsed.definitions.rootElements ?? []).filter((e: any) => e.$type === 'bpmn:Process').map((e: any) => e.id);
    const before = await Promise.all(
      processIds.map((id) => this.deps.knex('process_deployments').where({ process_id: id }).orderBy('version', 'desc').first('process_id', 'version', 'process_definition_key')),
    );
    let results: Awaited<ReturnType<DeploymentService['deployDetailed']>>;
    try {
      results = await this.deps.deployments.deployDetailed(resourceName || `${processIds[0] ?? 'process'}.bpmn`, xml, actor.id);
    } catch (err) {
      if (err instanceof DeploymentError) throw invalid(engineProblems(err, parsed.names));
      throw err;
    }
    for (const r of results.filter((x) => x.created)) {
      const prev = before.find((b: any) => b?.process_id === r.deployed.processId);
      await this.deps.audit.record(this.deps.knex, actor, {
        action: 'process.deploy',
        targetType: 'process',
        targetId: r.deployed.processId,
        before: prev ? { version: prev.version, key: prev.process_definition_key } : null,
        after: { version: r.deployed.version, key: r.deployed.key, forms: r.forms },
      });
    }
    return {
      deployments: results.map((r) => ({
        processId: r.deployed.processId,
        name: r.deployed.name,
        version: r.deployed.version,
        key: r.deployed.key,
        created: r.created,
        forms: r.forms,
      })),
      warnings: report.problems.filter((p) => p.severity === 'warning'),
    };
  }

  /** Deploys the latest model again with the latest forms: how a form-only change reaches new applications. */
  async redeployLatest(actor: Actor, processId: string) {
    const latest = await this.version(processId, 'latest');
    return this.deploy(actor, latest.xml, `${processId}.bpmn`);
  }

  /** An imported document without diagram information is laid out, so the modeler can show it. */
  async importXml(rawXml: unknown) {
    let xml = this.checkSize(rawXml);
    const parsed = await this.parse(xml);
    const hasLayout = (parsed.definitions.diagrams ?? []).some((d: any) => (d.plane?.planeElement ?? []).length > 0);
    let laidOut = false;
    if (!hasLayout) {
      const { layoutProcess } = await import('bpmn-auto-layout');
      try {
        xml = await layoutProcess(xml);
      } catch (err: any) {
        throw badRequest('BPMN_LAYOUT_FAILED', `无法为该流程自动布局：${err.message}`);
      }
      laidOut = true;
    }
    return { xml, laidOut, ...(await this.validate(xml)) };
  }
}

function engineProblems(err: DeploymentError, names: Map<string, string>): BpmnProblem[] {
  return err.problems.map((p) => ({
    elementId: p.elementId,
    elementName: names.get(p.elementId),
    message: p.message,
    source: 'engine' as const,
    severity: 'error' as const,
  }));
}

function invalid(problems: BpmnProblem[]): AppError {
  const errors = problems.filter((p) => p.severity === 'error');
  // Lint and the engine may both report one element: name each element once.
  const elements = [
    ...new Map(errors.map((p) => [p.elementId, p.elementName ? `${p.elementName}（${p.elementId}）` : p.elementId])).values(),
  ];
  const named = elements.slice(0, 3).join('、');
  return badRequest('DEPLOYMENT_INVALID', `流程校验未通过，共 ${errors.length} 处问题：${named}${elements.length > 3 ? ' 等' : ''}`, problems);
}
