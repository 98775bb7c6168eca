/**
 * Option validation shared by every attack: each `…Options` object is compiled once into a resolved
 * internal type; a bad value is an `AttackError('invalid-argument')` naming the field, raised before
 * any tensor work.
 */
import { AttackError } from './errors.js';
import { NORMS, type Norm, type RunOptions } from './types.js';

function fail(attack: string, field: string, expected: string, value: unknown): never {
  const shown = typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  throw new AttackError('invalid-argument', `${attack}: ${field} must be ${expected}; got ${shown}`, { field });
}

/** Rejects option keys the attack does not know (typos would otherwise be ignored silently). */
export function checkKnownKeys(attack: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if ((options as Record<string, unknown>)[key] !== undefined && !known.includes(key)) {
      throw new AttackError('invalid-argument', `${attack} has no option "${key}"; its options are: ${known.join(', ') || '(none)'}`, {
        field: key,
      });
    }
  }
}

export function positiveInt(attack: string, field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) fail(attack, field, 'a positive integer', value);
  return value;
}

export function nonNegativeInt(attack: string, field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(attack, field, 'a non-negative integer', value);
  return value;
}

export function positiveNumber(attack: string, field: string, value: unknown, fallback: number): number;
export function positiveNumber(attack: string, field: string, value: unknown, fallback: undefined): number | undefined;
export function positiveNumber(attack: string, field: string, value: unknown, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(attack, field, 'a finite number > 0', value);
  return value;
}

/** A number in the closed interval [lo, hi]. */
export function numberIn(attack: string, field: string, value: unknown, lo: number, hi: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= lo && value <= hi)) fail(attack, field, `a number in [${lo}, ${hi}]`, value);
  return value;
}

export function oneOf<T extends string>(attack: string, field: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) fail(attack, field, `one of ${allowed.join(', ')}`, value);
  return value as T;
}

export function boolean(attack: string, field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(attack, field, 'a boolean', value);
  return value;
}

/** Run options after validation. */
export interface CompiledRunOptions {
  readonly eps: readonly number[];
  readonly norm: Norm;
  readonly seed: number;
  readonly batchSize: number;
  readonly indexOffset: number;
  readonly signal: AbortSignal | undefined;
  readonly onStep: RunOptions['onStep'];
}

/** @default batchSize */
export const DEFAULT_BATCH_SIZE = 256;

export function compileRunOptions(attack: string, options: RunOptions): CompiledRunOptions {
  if (typeof options !== 'object' || options === null) fail(attack, 'options', 'an object', options);
  const rawEps = options.eps;
  const list = typeof rawEps === 'number' ? [rawEps] : Array.isArray(rawEps) ? [...rawEps] : undefined;
  if (!list || list.length === 0) fail(attack, 'eps', 'a number ≥ 0 or a non-empty list of them', rawEps);
  for (const e of list) {
    if (typeof e !== 'number' || !Number.isFinite(e) || e < 0) fail(attack, 'eps', 'a finite number ≥ 0 (or a list of them)', rawEps);
  }
  const seed = options.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) fail(attack, 'seed', 'a safe integer', seed);
  if (options.onStep !== undefined && typeof options.onStep !== 'function') fail(attack, 'onStep', 'a function', typeof options.onStep);
  return {
    eps: list,
    norm: oneOf(attack, 'norm', options.norm, NORMS, 'Linf'),
    seed,
    batchSize: positiveInt(attack, 'batchSize', options.batchSize, DEFAULT_BATCH_SIZE),
    indexOffset: nonNegativeInt(attack, 'indexOffset', options.indexOffset, 0),
    signal: options.signal,
    onStep: options.onStep,
  };
}
