/**
 * bpmn-js modeler with the Zeebe properties panel and the Camunda 8 modelling behaviours. Its own chunk: it
 * is most of the admin page's weight and only the process editor needs it.
 */
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import Modeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, ZeebePropertiesProviderModule } from 'bpmn-js-properties-panel';
import camundaCloudBehaviors from 'camunda-bpmn-js-behaviors/lib/camunda-cloud';
import zeebeModdle from 'zeebe-bpmn-moddle/resources/zeebe.json';
import { h } from '../lib/dom.ts';
import { groupTranslation, translateUnreachedTexts, translateModule } from './bpmn-translate.ts';
import { bpmnZh } from './bpmn-zh.ts';

export interface Problem {
  elementId: string | null;
  elementName?: string;
  message: string;
  source?: string;
  rule?: string;
  severity: 'error' | 'warning';
}

export type BpmnModeler = Modeler;

/**
 * New user tasks stay job-based, like the shipped process: our forms are referenced by `zeebe:formKey`, which
 * Camunda 8 lint refuses on a `<zeebe:userTask/>` (it wants formId/externalReference), and both engines
 * drive job-based tasks. camunda-bpmn-js-behaviors would otherwise add `<zeebe:userTask/>` to every new task.
 */
const jobBasedUserTasks = { createZeebeUserTaskBehavior: ['value', null] };

/** Palette, context pad, replace menu and properties panel in the admin page's language (bpmn-translate.ts). */
export function createModeler(canvas: HTMLElement, panel: HTMLElement): Modeler {
  const modeler = new Modeler({
    container: canvas,
    propertiesPanel: { parent: panel },
    additionalModules: [
      translateModule(bpmnZh),
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      ZeebePropertiesProviderModule,
      groupTranslation,
      camundaCloudBehaviors,
      jobBasedUserTasks,
    ],
    moddleExtensions: { zeebe: zeebeModdle },
  });
  const stopUnreachedTexts = translateUnreachedTexts(panel, modeler.get('translate'));
  modeler.on('diagram.destroy', stopUnreachedTexts);
  // Tests drive the modeler's own API where drag-and-drop is impractical; also handy from the console.
  (window as any).vfModeler = modeler;
  return modeler;
}

/** A new process that Camunda 8 linting accepts: one start event, marked for Camunda Cloud 8.5. */
export function blankProcessXml(): string {
  const id = `Process_${Math.random().toString(36).slice(2, 9)}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_${id}" targetNamespace="http://visitflow/bpmn" exporter="visitflow" exporterVersion="1" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.5.0">
  <bpmn:process id="${id}" name="新流程" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" name="开始" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="${id}">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="180" y="160" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>`;
}

const MARKERS = ['vf-problem-error', 'vf-problem-warning'];

/**
 * Puts the problems on the canvas: a red/amber outline and a badge carrying the message at each element.
 * Problems without a drawn element (the process itself) come back so the caller lists them only.
 */
export function showProblems(modeler: Modeler, problems: Problem[]): Problem[] {
  const registry = modeler.get<any>('elementRegistry');
  const canvas = modeler.get<any>('canvas');
  const overlays = modeler.get<any>('overlays');
  clearProblems(modeler);
  const unplaced: Problem[] = [];
  const byElement = new Map<string, Problem[]>();
  for (const p of problems) {
    const el = p.elementId ? registry.get(p.elementId) : null;
    if (!el || el === canvas.getRootElement()) {
      unplaced.push(p);
      continue;
    }
    byElement.set(p.elementId!, [...(byElement.get(p.elementId!) ?? []), p]);
  }
  for (const [id, list] of byElement) {
    const worst = list.some((p) => p.severity === 'error') ? 'error' : 'warning';
    canvas.addMarker(id, `vf-problem-${worst}`);
    overlays.add(id, 'vf-problem', {
      position: { top: -14, right: 14 },
      html: h('div', { class: `vf-problem-badge ${worst}`, title: list.map((p) => p.message).join('\n'), dataset: { elementId: id } }, worst === 'error' ? '!' : '?', h('span', { class: 'vf-problem-text' }, list[0].message)),
    });
  }
  return unplaced;
}

export function clearProblems(modeler: Modeler) {
  const registry = modeler.get<any>('elementRegistry');
  const canvas = modeler.get<any>('canvas');
  modeler.get<any>('overlays').remove({ type: 'vf-problem' });
  for (const el of registry.getAll()) for (const m of MARKERS) canvas.removeMarker(el, m);
}

export function selectElement(modeler: Modeler, elementId: string) {
  const el = modeler.get<any>('elementRegistry').get(elementId);
  if (!el) return;
  modeler.get<any>('selection').select(el);
  try {
    modeler.get<any>('canvas').scrollToElement(el);
  } catch {
    // the root element cannot be scrolled to
  }
}
