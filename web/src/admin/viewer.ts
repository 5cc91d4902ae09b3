/** bpmn-js NavigatedViewer for the instance page (~62 KiB gzip, without the modeler's weight). */
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { translateModule } from './bpmn-translate.ts';

/**
 * The viewer's only text is the drill-down button's title on a collapsed sub-process; the modeler's full
 * dictionary (bpmn-zh.ts) stays out of this chunk.
 */
const viewerZh = { 'Open {element}': '打开 {element}' };

export interface DiagramState {
  completed: string[];
  current: string[];
  incidents: string[];
}

/** Shows the diagram with finished steps green, the current ones blue and those with an incident red. */
export async function showInstanceDiagram(container: HTMLElement, xml: string, state: DiagramState): Promise<NavigatedViewer> {
  const viewer = new NavigatedViewer({ container, additionalModules: [translateModule(viewerZh)] });
  await viewer.importXML(xml);
  const canvas = viewer.get<any>('canvas');
  const registry = viewer.get<any>('elementRegistry');
  canvas.zoom('fit-viewport', 'auto');
  const mark = (ids: string[], marker: string) => {
    for (const id of ids) if (registry.get(id)) canvas.addMarker(id, marker);
  };
  mark(state.completed.filter((id) => !state.current.includes(id)), 'vf-done');
  // A flow between two finished steps was taken: draw the path walked so far.
  const finished = new Set([...state.completed, ...state.current]);
  for (const el of registry.filter((e: any) => e.waypoints && e.source && e.target)) {
    if (state.completed.includes(el.source.id) && finished.has(el.target.id)) canvas.addMarker(el.id, 'vf-done');
  }
  mark(state.current, 'vf-current');
  mark(state.incidents, 'vf-incident');
  return viewer;
}
