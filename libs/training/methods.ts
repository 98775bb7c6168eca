/** The method registry: one table from name to method. */
import { d2r } from './d2r.js';
import { invalidArgument } from './errors.js';
import { lbgat } from './lbgat.js';
import { mart } from './mart.js';
import { METHOD_NAMES, type MethodName, type TrainingMethod } from './method.js';
import { pgdAt } from './pgd-at.js';
import { standard } from './standard.js';
import { trades } from './trades.js';

const METHODS: { readonly [K in MethodName]: TrainingMethod } = {
  standard,
  'pgd-at': pgdAt,
  trades,
  mart,
  lbgat,
  d2r,
};

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && (METHOD_NAMES as readonly string[]).includes(name);
}

/** The method called `name`; throws `invalid-argument` (field `method`) for unknown names. */
export function getMethod(name: string): TrainingMethod {
  if (!isMethodName(name)) throw invalidArgument('method', `unknown method ${JSON.stringify(name)}; expected one of ${METHOD_NAMES.join(', ')}`);
  return METHODS[name];
}

/** One line per method (for `--help` and docs). */
export function describeMethods(): { name: MethodName; summary: string; usesGuidance: boolean }[] {
  return METHOD_NAMES.map((name) => ({ name, summary: METHODS[name].summary, usesGuidance: METHODS[name].usesGuidance }));
}
