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
 * The shapes most models write (`=name`, `=[name]`, `=name = "text"`, `=flag = true`,
 * `=if name = "text" then other else null`), evaluated without feelin: feelin parses and builds its interpreter
 * tree on every call (50-120 µs here), a dozen times per visit flow. Anything else, or a value these shapes
 * would compare differently from FEEL (a comparison across types), goes to feelin.
 */
type FastPath = (variables: Variables) => { value: unknown } | undefined;

const RESERVED = new Set(['true', 'false', 'null', 'not', 'and', 'or', 'if', 'then', 'else', 'for', 'in', 'return', 'some', 'every', 'satisfies', 'between', 'instance', 'of', 'function', 'external']);
const NAME_SOURCE = '[A-Za-z_][A-Za-z0-9_]*';
const NAME = new RegExp(`^${NAME_SOURCE}$`);
const TEXT = /^"([^"\\]*)"$/;
const CONSTANTS: Record<string, unknown> = { true: true, false: false, null: null };

/** A variable name, a string without escapes, true, false or null. */
function atom(source: string): FastPath | null {
  const s = source.trim();
  if (Object.hasOwn(CONSTANTS, s)) return () => ({ value: CONSTANTS[s] });
  const text = TEXT.exec(s);
  if (text) return () => ({ value: text[1] });
  if (NAME.test(s) && !RESERVED.has(s)) return (v) => ({ value: lookup(v, s) });
  return null;
}

const COMPARISON = new RegExp(`^\\s*(${NAME_SOURCE})\\s*(=|!=)\\s*("[^"\\\\]*"|true|false)\\s*$`);

/** `name = "text"`, `name != "text"`, `name = true` ...: null equals nothing; a value of another type goes to feelin. */
function comparison(source: string): FastPath | null {
  const m = COMPARISON.exec(source);
  if (!m || RESERVED.has(m[1])) return null;
  const [, name, op, right] = m;
  const expected = right.startsWith('"') ? right.slice(1, -1) : right === 'true';
  return (v) => {
    const value = lookup(v, name);
    if (value === null) return { value: op === '!=' };
    if (typeof value !== typeof expected) return undefined;
    return { value: op === '=' ? value === expected : value !== expected };
  };
}

function compileFastPath(source: string): FastPath | null {
  const list = /^\s*\[(.*)\]\s*$/.exec(source);
  if (list) {
    const item = atom(list[1]);
    return item && ((v) => ({ value: [item(v)!.value] }));
  }
  const conditional = /^\s*if\s+(.+?)\s+then\s+(.+?)\s+else\s+(.+)$/.exec(source);
  if (conditional) {
    const [test, then, otherwise] = [comparison(conditional[1]), atom(conditional[2]), atom(conditional[3])];
    if (!test || !then || !otherwise) return null;
    // Only the branch taken is read: the other may name a variable the instance does not have.
    return (v) => {
      const taken = test(v);
      return taken && (taken.value ? then(v) : otherwise(v));
    };
  }
  return atom(source) ?? comparison(source);
}

const fastPaths = new Map<string, FastPath | null>();

class MissingVariable extends Error {}

function lookup(variables: Variables, name: string): unknown {
  if (!Object.hasOwn(variables, name)) throw new MissingVariable(name);
  return variables[name] ?? null;
}

function fastPathOf(source: string): FastPath | null {
  let path = fastPaths.get(source);
  if (path !== undefined) return path;
  path = compileFastPath(source);
  // Expressions come from deployed models: a few hundred at most, but never let a caller grow this unbounded.
  if (fastPaths.size < 10_000) fastPaths.set(source, path);
  return path;
}

/** Whether an `=`-prefixed expression is one of the shapes evaluated without feelin (its tests ask). */
export function hasFastPath(expression: string): boolean {
  return isFeel(expression) && fastPathOf(expression.slice(1)) !== null;
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
