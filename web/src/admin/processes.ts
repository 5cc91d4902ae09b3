/** Process definitions: the version list, and the bpmn-js editor with validate, deploy, import and export. */
import { ApiError, errorMessage, get, post } from '../lib/api.ts';
import { busy, clear, fmtDateTime, h, loading } from '../lib/dom.ts';
import { at } from './i18n.ts';
import type { View } from './main.ts';
import type { Problem } from './modeler.ts';
import { button, download, failed, go, needsLogin, panel, say, sayRestored, table } from './ui.ts';

/** An imported or blank document waiting for the editor (the hash cannot carry a whole file). */
let pending: { xml: string; laidOut?: boolean; problems?: Problem[]; fileName?: string } | null = null;

async function importFile(file: File, slot: HTMLElement) {
  const xml = await file.text();
  try {
    const result = await post<{ xml: string; laidOut: boolean; valid: boolean; problems: Problem[] }>('/api/admin/processes/import', { xml });
    pending = { xml: result.xml, laidOut: result.laidOut, problems: result.problems, fileName: file.name };
    go('#/processes/new?imported=1');
  } catch (err) {
    if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
  }
}

export const processList: View = async (main) => {
  main.classList.add('vf-wide');
  const slot = h('div');
  const fileInput = h('input', { type: 'file', accept: '.bpmn,.xml,application/xml,text/xml', class: 'd-none', id: 'bpmn-file' });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) void importFile(file, slot);
  });
  const body = h('div', null, loading('正在加载…'));
  main.append(
    panel(
      at('proc.title'),
      h(
        'div',
        { class: 'd-flex gap-2 mb-3' },
        h('a', { class: 'btn btn-primary btn-sm', href: '#/processes/new', id: 'proc-new' }, at('proc.new')),
        button(at('proc.import'), () => fileInput.click(), 'btn-outline-primary', { id: 'proc-import' }),
        fileInput,
      ),
      slot,
      body,
    ),
  );
  try {
    const { processes } = await get<{ processes: any[] }>('/api/admin/processes');
    clear(body);
    for (const p of processes) {
      const rows = p.versions.map((v: any) =>
        h(
          'tr',
          { dataset: { process: p.processId, version: String(v.version) } },
          h('td', null, `v${v.version}`, v.version === p.latestVersion ? h('span', { class: 'badge text-bg-success ms-2' }, at('proc.latest')) : null),
          h('td', null, fmtDateTime(v.deployedAt)),
          h('td', null, v.deployedBy?.name ?? at('proc.system')),
          h('td', { class: 'small' }, v.forms.map((f: any) => `${f.formKey}@${f.version}`).join('，') || '—'),
          h('td', null, String(v.runningApplications)),
          h(
            'td',
            { class: 'text-nowrap' },
            h('a', { class: 'btn btn-sm btn-outline-primary me-1', href: `#/processes/${encodeURIComponent(p.processId)}/${v.version}` }, at('common.open')),
            h('a', { class: 'btn btn-sm btn-outline-secondary', href: `/api/admin/processes/${encodeURIComponent(p.processId)}/versions/${v.version}/export`, download: `${p.processId}-v${v.version}.bpmn` }, at('proc.export')),
          ),
        ),
      );
      body.append(
        h('h3', { class: 'h6 mt-3' }, p.name || p.processId, h('code', { class: 'ms-2 small' }, p.processId)),
        table([at('proc.versions'), at('proc.deployedAt'), at('proc.deployedBy'), at('proc.forms'), at('proc.running'), at('common.actions')], rows, { id: `proc-${p.processId}` }),
      );
    }
  } catch (err) {
    failed(body, err);
  }
};

export const processNew: View = async (main, _p, query) => {
  const { blankProcessXml } = await import('./modeler.ts');
  const doc = query.get('imported') && pending ? pending : { xml: blankProcessXml() };
  pending = null;
  return editor(main, {
    xml: doc.xml,
    title: doc.fileName ? `${at('proc.import')}：${doc.fileName}` : at('proc.newTitle'),
    fileName: doc.fileName,
    laidOut: doc.laidOut,
    problems: doc.problems,
    unsaved: Boolean(doc.fileName),
  });
};

export const processEditor: View = async (main, params) => {
  main.classList.add('vf-wide');
  try {
    const { process } = await get<{ process: any }>(`/api/admin/processes/${encodeURIComponent(params.processId)}/versions/${encodeURIComponent(params.version)}`);
    return editor(main, { xml: process.xml, title: at('proc.editing', { name: process.name || process.processId }), subtitle: at('proc.editingVersion', { version: process.version }), fileName: `${process.processId}.bpmn` });
  } catch (err) {
    failed(main, err);
  }
};

interface EditorDoc {
  xml: string;
  title: string;
  subtitle?: string;
  fileName?: string;
  laidOut?: boolean;
  problems?: Problem[];
  /** Not in the engine yet (an imported file): undeployed work from the start. */
  unsaved?: boolean;
}

/**
 * Undeployed work by page address, kept while the admin page is open: switching the language or opening another
 * screen rebuilds the editor, and the administrator's edits (or an imported file) must come back with it.
 */
const drafts = new Map<string, string>();

async function editor(main: HTMLElement, doc: EditorDoc) {
  const draftKey = location.hash;
  const draft = drafts.get(draftKey);
  main.classList.add('vf-wide', 'vf-editor-page');
  const { createModeler, showProblems, clearProblems, selectElement } = await import('./modeler.ts');
  const slot = h('div', { id: 'proc-messages' });
  const problemList = h('ol', { class: 'vf-problems list-group list-group-numbered small', id: 'proc-problems' });
  const canvas = h('div', { class: 'vf-canvas', id: 'bpmn-canvas' });
  const propsPanel = h('div', { class: 'vf-props', id: 'bpmn-properties' });
  const validateBtn = button(at('proc.validate'), () => void validate(), 'btn-outline-primary', { id: 'proc-validate' });
  const deployBtn = button(at('proc.deploy'), () => void deploy(), 'btn-primary', { id: 'proc-deploy' });
  const exportBtn = button(at('proc.export'), () => void exportXml(), 'btn-outline-secondary', { id: 'proc-export' });
  const dirtyMark = h('span', { class: 'badge text-bg-warning d-none', id: 'proc-dirty' }, at('proc.dirty'));
  main.append(
    h(
      'div',
      { class: 'd-flex flex-wrap align-items-center gap-2 mb-2' },
      h('a', { href: '#/processes', class: 'btn btn-sm btn-link' }, `← ${at('common.back')}`),
      h('h1', { class: 'h5 mb-0', id: 'proc-title' }, doc.title),
      doc.subtitle ? h('span', { class: 'text-secondary small' }, doc.subtitle) : null,
      dirtyMark,
      h('div', { class: 'ms-auto d-flex gap-2' }, validateBtn, exportBtn, deployBtn),
    ),
    h('p', { class: 'small text-secondary mb-2' }, at('proc.readOnlyHint')),
    slot,
    h('div', { class: 'vf-modeler' }, canvas, propsPanel),
    problemList,
  );

  const modeler = createModeler(canvas, propsPanel);
  let dirty = false;
  const onUnload = (ev: BeforeUnloadEvent) => {
    if (dirty) ev.preventDefault();
  };
  window.addEventListener('beforeunload', onUnload);
  // Undeployed work is flagged and kept as a draft (see drafts); deployed or discarded, it is neither.
  const setDirty = (value: boolean, xml?: string) => {
    dirty = value;
    dirtyMark.classList.toggle('d-none', !value);
    if (!value) drafts.delete(draftKey);
    else if (xml !== undefined) drafts.set(draftKey, xml);
  };
  try {
    await modeler.importXML(draft ?? doc.xml);
    modeler.get<any>('canvas').zoom('fit-viewport', 'auto');
  } catch (err: any) {
    say(slot, err?.message ?? String(err), 'danger');
  }
  modeler.on('commandStack.changed', () => {
    setDirty(true);
    void currentXml().then((xml) => dirty && drafts.set(draftKey, xml));
  });
  if (draft) {
    setDirty(true, draft);
    sayRestored(slot, at('proc.restored'), 'proc-discard', async () => {
      await modeler.importXML(doc.xml);
      modeler.get<any>('canvas').zoom('fit-viewport', 'auto');
      setDirty(false);
    });
  } else if (doc.unsaved) setDirty(true, doc.xml);
  if (doc.laidOut !== undefined && !draft) say(slot, doc.laidOut ? at('proc.imported') : at('proc.importedAsIs'), 'info');
  if (doc.problems?.length) listProblems(doc.problems);

  function listProblems(problems: Problem[]) {
    showProblems(modeler, problems);
    clear(problemList);
    for (const p of problems) {
      const item = h(
        'li',
        {
          class: `list-group-item list-group-item-action vf-problem-item ${p.severity === 'error' ? 'list-group-item-danger' : 'list-group-item-warning'}`,
          role: 'button',
          tabindex: '0',
          dataset: { elementId: p.elementId ?? '' },
          onclick: () => p.elementId && selectElement(modeler, p.elementId),
        },
        h('span', { class: 'badge text-bg-light me-2' }, p.severity === 'error' ? at('proc.error') : at('proc.warning')),
        p.elementId ? h('strong', { class: 'me-2' }, `${p.elementName ? `${p.elementName} ` : ''}(${p.elementId})`) : null,
        p.message,
        p.rule ? h('span', { class: 'text-secondary ms-2' }, `[${p.rule}]`) : null,
      );
      problemList.append(item);
    }
  }

  async function currentXml(): Promise<string> {
    const { xml } = await modeler.saveXML({ format: true });
    return xml!;
  }

  async function validate() {
    await busy(validateBtn, async () => {
      try {
        const report = await post<{ valid: boolean; problems: Problem[] }>('/api/admin/processes/validate', { xml: await currentXml() });
        listProblems(report.problems);
        const errors = report.problems.filter((p) => p.severity === 'error').length;
        if (report.problems.length === 0) say(slot, at('proc.valid'));
        else say(slot, at('proc.problems', { count: report.problems.length }), errors ? 'danger' : 'warning');
      } catch (err) {
        if (!needsLogin(err)) say(slot, errorMessage(err), 'danger');
      }
    });
  }

  async function deploy() {
    await busy(deployBtn, async () => {
      try {
        const result = await post<{ deployments: any[]; warnings?: Problem[] }>('/api/admin/processes/deploy', { xml: await currentXml(), name: doc.fileName });
        const d = result.deployments[0];
        clearProblems(modeler);
        clear(problemList);
        if (result.warnings?.length) listProblems(result.warnings);
        say(slot, d.created ? at('proc.deployed', { name: d.name || d.processId, version: d.version }) : at('proc.unchanged', { version: d.version }), 'success');
        slot.firstElementChild?.setAttribute('data-deployed-version', String(d.version));
        setDirty(false);
      } catch (err) {
        if (needsLogin(err)) return;
        if (err instanceof ApiError && Array.isArray(err.details)) listProblems(err.details as Problem[]);
        say(slot, at('proc.refused', { message: errorMessage(err) }), 'danger');
      }
    });
  }

  async function exportXml() {
    const xml = await currentXml();
    const id = modeler.get<any>('canvas').getRootElement()?.businessObject?.id ?? 'process';
    download(doc.fileName ?? `${id}.bpmn`, new Blob([xml], { type: 'application/xml' }));
  }

  return () => {
    window.removeEventListener('beforeunload', onUnload);
    if ((window as any).vfModeler === modeler) delete (window as any).vfModeler;
    modeler.destroy();
  };
}
