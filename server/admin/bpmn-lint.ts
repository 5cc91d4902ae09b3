import { createRequire } from 'node:module';
// @ts-expect-error bpmn-moddle 10 ships its types under an export path its package.json does not map for NodeNext
import { BpmnModdle } from 'bpmn-moddle';
import modelerSchema from 'modeler-moddle/resources/modeler.json' with { type: 'json' };
import zeebeSchema from 'zeebe-bpmn-moddle/resources/zeebe.json' with { type: 'json' };

// bpmnlint and the Camunda compatibility plugin are CommonJS and resolve rules by require().
const require = createRequire(import.meta.url);
const { Linter } = require('bpmnlint') as { Linter: new (options: unknown) => { lint(root: unknown): Promise<Record<string, any[]>> } };
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver') as new () => unknown;
const compat = require('bpmnlint-plugin-camunda-compat') as { configs: Record<string, unknown> };

export interface BpmnProblem {
  elementId: string;
  elementName?: string;
  message: string;
  /** lint: bpmnlint + Camunda 8 compatibility rules; engine: the engine's own deploy-time validation. */
  source: 'lint' | 'engine';
  rule?: string;
  severity: 'error' | 'warning';
}

/** The Camunda 8 version the lint rules follow when the document does not name one (modeler:executionPlatformVersion). */
export const DEFAULT_PLATFORM_VERSION = '8.5';

export interface ParsedBpmn {
  definitions: any;
  warnings: Array<{ message: string; element?: { id?: string } }>;
  names: Map<string, string>;
}

export async function parseForAdmin(xml: string): Promise<ParsedBpmn> {
  const moddle = new BpmnModdle({ zeebe: zeebeSchema, modeler: modelerSchema });
  const { rootElement, warnings, elementsById } = await moddle.fromXML(xml, 'bpmn:Definitions');
  const names = new Map<string, string>();
  for (const [id, el] of Object.entries<any>(elementsById ?? {})) if (el?.name) names.set(id, el.name);
  return { definitions: rootElement, warnings, names };
}

function configName(definitions: any): string {
  const version = String(definitions.get?.('modeler:executionPlatformVersion') ?? DEFAULT_PLATFORM_VERSION);
  const [major, minor] = version.split('.');
  const name = `camunda-cloud-${major}-${minor ?? '0'}`;
  return name in compat.configs ? name : `camunda-cloud-${DEFAULT_PLATFORM_VERSION.replace('.', '-')}`;
}

/** bpmnlint with the Camunda 8 compatibility rules, as the Camunda Modeler runs them. */
export async function lintBpmn(parsed: ParsedBpmn): Promise<BpmnProblem[]> {
  const linter = new Linter({
    config: { extends: ['bpmnlint:correctness', `plugin:camunda-compat/${configName(parsed.definitions)}`] },
    resolver: new NodeResolver(),
  });
  const reports = await linter.lint(parsed.definitions);
  const problems: BpmnProblem[] = [];
  for (const [rule, list] of Object.entries(reports)) {
    for (const r of list) {
      const elementId = String(r.id ?? '(document)');
      problems.push({
        elementId,
        elementName: parsed.names.get(elementId),
        message: String(r.message),
        source: 'lint',
        rule,
        severity: r.category === 'error' ? 'error' : 'warning',
      });
    }
  }
  return problems;
}
