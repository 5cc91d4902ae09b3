export type TemplateVars = Record<string, string | number | undefined>;

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The placeholder names a template uses, in order of first appearance (for checking an admin's edit). */
export function templatePlaceholders(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]))];
}

/**
 * Fills `{name}` placeholders. A placeholder without a value is left visible as `{name}` (a visibly broken
 * text is better than a silently shortened one) and reported through `onMissing`, once per call.
 */
export function renderTemplate(template: string, vars: TemplateVars, onMissing?: (names: string[]) => void): string {
  const missing = new Set<string>();
  const text = template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined || value === null) {
      missing.add(name);
      return whole;
    }
    return String(value);
  });
  if (missing.size && onMissing) onMissing([...missing]);
  return text;
}

/** Like renderTemplate, but returns the missing names with the text. */
export function renderTemplateChecked(template: string, vars: TemplateVars): { text: string; missing: string[] } {
  let missing: string[] = [];
  const text = renderTemplate(template, vars, (names) => {
    missing = names;
  });
  return { text, missing };
}
