import { evaluate } from 'feelin';
import type { Variables } from '../contract.ts';

/**
 * FEEL as Zeebe reads it: a value starting with `=` is an expression, anything else is a literal.
 * Strict where Zeebe users get bitten: an unknown variable or function is an error (an incident at run time),
 * never a silent null that takes the wrong branch of a gateway.
 */
export class FeelError extends Error {
  constructor(
    public readonly expression: string,
    message: string,
  ) {
    super(`FEEL ${JSON.stringify(expression)}: ${message}`);
    this.name = 'FeelError';
  }
}

const FATAL_WARNINGS = new Set(['NO_VARIABLE_FOUND', 'NO_FUNCTION_FOUND', 'FUNCTION_INVOCATION_FAILURE']);

export function isFeel(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('=');
}

/**
 * The shapes most models write (`=name`, `=[name]`, `=name = "text"`), evaluated without feelin: feelin parses
 * and builds its interpreter tree on every call (50-120 µs here), a dozen times per visit flow. Anything else,
 * or a value these shapes would compare differently from FEEL (not a string), goes to feelin.
 */
type FastPath = (variables: Variables) => { value: unknown } | undefined;

const RESERVED = new Set(['true', 'false', 'null', 'not', 'and', 'or', 'if', 'then', 'else', 'for', 'in', 'return', 'some', 'every', 'satisfies', 'between', 'instance', 'of', 'function', 'external']);
const NAME = '([A-Za-z_][A-Za-z0-9_]*)';
const SHAPES: Array<[RegExp, (m: RegExpMatchArray) => FastPath]> = [
  [new RegExp(`^\\s*${NAME}\\s*$`), ([, name]) => (v) => ({ value: lookup(v, name) })],
  [new RegExp(`^\\s*\\[\\s*${NAME}\\s*\\]\\s*$`), ([, name]) => (v) => ({ value: [lookup(v, name)] })],
  [
    new RegExp(`^\\s*${NAME}\\s*(=|!=)\\s*"([^"\\\\]*)"\\s*$`),
    ([, name, op, text]) =>
      (v) => {
        const value = lookup(v, name);
        if (value === null) return { value: op === '!=' };
        if (typeof value !== 'string') return undefined;
        return { value: op === '=' ? value === text : value !== text };
      },
  ],
];
const fastPaths = new Map<string, FastPath | null>();

class MissingVariable extends Error {}

function lookup(variables: Variables, name: string): unknown {
  if (!Object.hasOwn(variables, name)) throw new MissingVariable(name);
  return variables[name] ?? null;
}

function fastPathOf(source: string): FastPath | null {
  let path = fastPaths.get(source);
  if (path !== undefined) return path;
  path = null;
  for (const [shape, make] of SHAPES) {
    const m = source.match(shape);
    if (m && !RESERVED.has(m[1])) {
      path = make(m);
      break;
    }
  }
  // Expressions come from deployed models: a few hundred at most, but never let a caller grow this unbounded.
  if (fastPaths.size < 10_000) fastPaths.set(source, path);
  return path;
}

/** Evaluates an `=`-prefixed expression (or returns a literal unchanged) and converts the result to plain JSON. */
export function evaluateFeel(expression: string, variables: Variables): unknown {
  if (!isFeel(expression)) return expression;
  const source = expression.slice(1);
  const fast = fastPathOf(source);
  if (fast) {
    try {
      const result = fast(variables);
      if (result) return toPlain(result.value);
    } catch (err) {
      if (!(err instanceof MissingVariable)) throw err;
      throw new FeelError(expression, `Variable '${err.message}' not found`);
    }
  }
  let result: ReturnType<typeof evaluate>;
  try {
    result = evaluate(source, variables);
  } catch (err) {
    throw new FeelError(expression, (err as Error).message);
  }
  const fatal = result.warnings.find((w) => FATAL_WARNINGS.has(w.type));
  if (fatal) throw new FeelError(expression, fatal.message);
  return toPlain(result.value);
}

/** Deploy-time check: the expression parses. Returns the problem, or undefined. */
export function checkFeelSyntax(expression: string): string | undefined {
  if (!isFeel(expression)) return undefined;
  try {
    evaluate(expression.slice(1), {});
    return undefined;
  } catch (err) {
    return `FEEL syntax error in ${JSON.stringify(expression)}: ${(err as Error).message}`;
  }
}

/** FEEL temporal values and contexts become JSON values, so variables stay serialisable. */
export function toPlain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object') return typeof value === 'function' ? null : value;
  if (Array.isArray(value)) return value.map(toPlain);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return String(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toPlain(v);
  return out;
}

/** Evaluates to a string list: a FEEL list, or a literal comma list as the Modeler writes it. */
export function evaluateList(expression: string | undefined, variables: Variables): string[] {
  if (!expression) return [];
  const value = evaluateFeel(expression, variables);
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(String);
  if (typeof value === 'string')
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (value === null) return [];
  throw new FeelError(expression, `expected a list, got ${JSON.stringify(value)}`);
}

export function evaluateOptionalString(expression: string | undefined, variables: Variables): string | undefined {
  if (expression === undefined || expression === '') return undefined;
  const value = evaluateFeel(expression, variables);
  if (value === null || value === undefined) return undefined;
  return String(value);
}
