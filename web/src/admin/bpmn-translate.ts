/**
 * The `translate` service of bpmn-js / diagram-js, following the admin page's language switch.
 *
 * bpmn-js, diagram-js and bpmn-js-properties-panel call `translate(template, replacements)` for their texts; an
 * additional module `{ translate: ['value', fn] }` replaces the default (English) one. The language is read at
 * each call, so whatever renders after a switch is in the new language (the admin page also rebuilds the editor
 * on a switch, which redraws the palette).
 *
 * @bpmn-io/properties-panel draws the group and list buttons ("Create", "Toggle section", "Delete item"…) with
 * its own English fallback unless the group definition carries a `translate` prop; bpmn-js-properties-panel
 * never passes one, so `groupTranslation` adds it to every group through a last-running properties provider.
 * Its FEEL fields and nested lists get no `translate` at all from bpmn-js-properties-panel:
 * `translateUnreachedTexts` rewrites their few fixed English titles and messages in the panel's DOM.
 */
import { currentLang } from '../lib/i18n.ts';

type Replacements = Record<string, string | number | undefined>;
export type Translate = (template: string, replacements?: Replacements) => string;

/** diagram-js semantics: `{key}` replaced, an unknown or empty key left as `{key}`. */
function fill(template: string, replacements: Replacements): string {
  return template.replace(/{([^}]+)}/g, (_, key) => {
    const value = replacements[key];
    return value === undefined || value === null || value === '' ? `{${key}}` : String(value);
  });
}

export function createTranslate(zh: Readonly<Record<string, string>>): Translate {
  return (template, replacements = {}) => {
    if (currentLang() !== 'zh') return fill(template, replacements);
    // Task listener items pass their English event name ("Creating") and '<no type>' as replacements.
    if (template === '{eventType}: {type}') {
      replacements = { ...replacements };
      for (const k of ['eventType', 'type']) {
        const v = replacements[k];
        if (typeof v === 'string' && (k === 'eventType' || v === '<no type>')) replacements[k] = zh[v] ?? v;
      }
    }
    return fill(zh[template] ?? template, replacements);
  };
}

/** The additional module replacing diagram-js' translate service. */
export function translateModule(zh: Readonly<Record<string, string>>) {
  return { translate: ['value', createTranslate(zh)] };
}

const LAST = 1;

/** Lets @bpmn-io/properties-panel's Group and ListGroup translate their buttons and badges too. */
function GroupTranslation(this: any, propertiesPanel: any, translate: Translate) {
  this.getGroups = () => (groups: any[]) => groups.map((group) => (group.translate ? group : { ...group, translate }));
  propertiesPanel.registerProvider(LAST, this);
}
GroupTranslation.$inject = ['propertiesPanel', 'translate'];

export const groupTranslation = {
  __init__: ['vfGroupTranslation'],
  vfGroupTranslation: ['type', GroupTranslation],
};

/**
 * @bpmn-io/properties-panel texts that no `translate` reaches: bpmn-js-properties-panel renders its FEEL fields
 * and the lists nested in a list item (an execution listener's headers) without passing one.
 */
const UNREACHED_TITLES = new Set([
  'FEEL expression is mandatory',
  'Click to set a dynamic value with FEEL expression',
  'Click to remove dynamic value with FEEL expression',
  'Open pop-up editor',
  'Create new list item',
  'Toggle list item',
  'Delete item',
]);
const UNREACHED_TEXTS = new Set(['Create', 'Opened in editor', 'Unparsable FEEL expression.', 'JSON contains errors']);
/** Only text in these library elements is rewritten: never an editor's content (CodeMirror reads DOM edits as input). */
const TEXT_HOSTS = '.bio-properties-panel-add-entry-label, .bio-properties-panel-error, .bio-properties-panel-feel-editor__open-popup-placeholder';
const LIST_BADGE = /^List contains (\d+) items?$/;

/**
 * Keeps those texts translated in the panel while it lives. Preact only writes an attribute or a text node when
 * its own value changes, so a rewritten one stays until the library changes it (then it is rewritten again).
 * Returns the disconnect function.
 */
export function translateUnreachedTexts(container: HTMLElement, translate: Translate): () => void {
  const fixTitle = (el: Element) => {
    const title = el.getAttribute('title');
    if (!title) return;
    const badge = LIST_BADGE.exec(title);
    if (badge) el.setAttribute('title', translate(title.replace(badge[1], '{numOfItems}'), { numOfItems: badge[1] }));
    else if (UNREACHED_TITLES.has(title)) el.setAttribute('title', translate(title));
  };
  const fixText = (node: Node) => {
    const text = node.textContent?.trim() ?? '';
    if (UNREACHED_TEXTS.has(text) && node.parentElement?.closest(TEXT_HOSTS)) node.textContent = translate(text);
  };
  const fix = (node: Node) => {
    if (node.nodeType === Node.TEXT_NODE) return fixText(node);
    if (!(node instanceof Element)) return;
    fixTitle(node);
    node.querySelectorAll('[title]').forEach(fixTitle);
    for (const host of [...(node.matches(TEXT_HOSTS) ? [node] : []), ...node.querySelectorAll(TEXT_HOSTS)]) host.childNodes.forEach(fixText);
  };
  const observer = new MutationObserver((records) => {
    if (currentLang() !== 'zh') return;
    for (const r of records) {
      if (r.type === 'childList') r.addedNodes.forEach(fix);
      else if (r.type === 'attributes') fixTitle(r.target as Element);
      else fixText(r.target);
    }
  });
  observer.observe(container, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['title'] });
  if (currentLang() === 'zh') fix(container);
  return () => observer.disconnect();
}
