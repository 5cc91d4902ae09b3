import { EngineError, type Variables } from '../contract.ts';
import type { ElementModel } from './definition/model.ts';
import { evaluateFeel, FeelError } from './feel.ts';

/** Variables are JSON objects, as on Zeebe: anything else (functions, class instances, undefined) is dropped. */
export function sanitizeVariables(variables: unknown): Variables {
  if (variables === undefined || variables === null) return {};
  if (typeof variables !== 'object' || Array.isArray(variables))
    throw new EngineError('INVALID_VARIABLES', 'variables must be a JSON object');
  return JSON.parse(JSON.stringify(variables));
}

/** A FEEL failure tied to the element whose mapping or property it came from. */
export class ElementFailure extends Error {
  constructor(
    public readonly elementId: string,
    public readonly cause: Error,
  ) {
    super(cause.message);
    this.name = 'ElementFailure';
  }
}

export function atElement<T>(elementId: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FeelError) throw new ElementFailure(elementId, err);
    throw err;
  }
}

/** zeebe:input mappings, each seeing the ones before it: the element's local variables. */
export function applyInputs(element: ElementModel, variables: Variables): Variables {
  const locals: Variables = {};
  if (!element.inputs.length) return locals;
  atElement(element.id, () => {
    for (const input of element.inputs) locals[input.target] = evaluateFeel(input.source, { ...variables, ...locals });
  });
  return locals;
}

/**
 * Merges a result (task completion, job output, message payload) into the process scope. With output mappings
 * only the mapped targets reach the process; without, every result variable does (Zeebe semantics).
 */
export function applyOutputs(element: ElementModel, variables: Variables, locals: Variables, result: Variables): void {
  if (!element.outputs) {
    Object.assign(variables, result);
    return;
  }
  const scope = { ...variables, ...locals, ...result };
  const mapped: Variables = {};
  atElement(element.id, () => {
    for (const output of element.outputs!) mapped[output.target] = evaluateFeel(output.source, scope);
  });
  Object.assign(variables, mapped);
}
