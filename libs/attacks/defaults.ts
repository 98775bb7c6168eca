/**
 * The one place that decides what an attack runs with when the caller leaves something out, and
 * which values it accepts — for `harden attack`/`eval`/`train` and for GenerateAdversarial, Evaluate
 * and Harden alike:
 *
 * - ε by data set (ARCHITECTURE.md's protocol): MNIST 0.3, Fashion-MNIST 0.1; elsewhere the
 *   attack's own default (8/255; CAG its published 0.031). Training's inner attack uses the same
 *   rule for CAG (`trainingEps`), so a model is trained and attacked at one ε per data set.
 * - α and the step budget: the attack's registry defaults; `steps` means queries for Square.
 * - whether the attack needs a guidance model (`needsGuidance`, from the registry).
 * - ranges: ε and α in (0, 1] (inputs are in [0, 1]), steps a whole number ≥ 1; a flag the attack
 *   does not take (α for APGD, steps for FGSM) is refused. Failures are `AttackError`
 *   `invalid-argument` naming the field (`eps`, `alpha`, `steps`, `norm`).
 */
import { AttackError } from './errors.js';
import { describeAttack, type AttackName } from './registry.js';
import type { Norm } from './types.js';

/** ε of the data sets the protocol names (by the data set spec's kind, `mnist:…` → `mnist`). */
const DATASET_EPS: Readonly<Record<string, number>> = { mnist: 0.3, 'fashion-mnist': 0.1 };

function datasetKind(datasetSpec: string): string {
  return datasetSpec.split(':')[0].trim().toLowerCase();
}

/** The ε `attack` runs at on `datasetSpec` when none is given. */
export function defaultEps(attack: AttackName, datasetSpec: string): number {
  return DATASET_EPS[datasetKind(datasetSpec)] ?? describeAttack(attack).defaultEps;
}

/** The ε of training (its inner attack, CAG for D2R) on `datasetSpec` when none is given. */
export function trainingEps(datasetSpec: string): number {
  return defaultEps('cag', datasetSpec);
}

/** The ε of robustness evaluation (the suites' attacks) on `datasetSpec` when none is given. */
export function evaluationEps(datasetSpec: string): number {
  return defaultEps('pgd', datasetSpec);
}

/** Checks an ε: a number in (0, 1]. Returns it. */
export function checkEps(eps: number, field = 'eps'): number {
  if (!Number.isFinite(eps) || eps <= 0 || eps > 1) {
    throw new AttackError('invalid-argument', `must be in (0, 1] (inputs are in [0, 1]); got ${eps}`, { field });
  }
  return eps;
}

/** What the caller asked for; absent = the default. */
export interface AttackRequest {
  eps?: number | undefined;
  /** Iterations, or queries for score-based attacks (Square). */
  steps?: number | undefined;
  alpha?: number | undefined;
  norm?: Norm | undefined;
}

/** What an attack will run with on a data set. */
export interface AttackSettings {
  attack: AttackName;
  eps: number;
  norm: Norm;
  /** Options for `createAttack` beyond ε and the norm (only what the caller set; the rest are the attack's defaults). */
  options: { steps?: number; queries?: number; alpha?: number };
  /** The attack's step budget and step size as it will run (`alpha` may be a rule such as `eps / 4`). */
  steps: number | null;
  alpha: number | string | null;
  needsGuidance: boolean;
}

/** Resolves and checks an attack request on `datasetSpec` (see the module comment). */
export function attackSettings(attack: AttackName, datasetSpec: string, request: AttackRequest = {}): AttackSettings {
  const d = describeAttack(attack);
  const eps = request.eps === undefined ? defaultEps(attack, datasetSpec) : checkEps(request.eps);
  const norm = request.norm ?? 'Linf';
  if (!d.norms.includes(norm)) throw new AttackError('invalid-argument', `${attack} does not run in ${norm}; it takes ${d.norms.join(', ')}`, { field: 'norm' });
  const budgetKey = 'steps' in d.defaults ? 'steps' : 'queries' in d.defaults ? 'queries' : null;
  const options: AttackSettings['options'] = {};
  if (request.steps !== undefined) {
    if (!Number.isSafeInteger(request.steps) || request.steps < 1) throw new AttackError('invalid-argument', `must be a whole number ≥ 1; got ${request.steps}`, { field: 'steps' });
    if (!budgetKey) throw new AttackError('invalid-argument', `${attack} has no step or query budget`, { field: 'steps' });
    options[budgetKey] = request.steps;
  }
  if (request.alpha !== undefined) {
    if (!Number.isFinite(request.alpha) || request.alpha <= 0 || request.alpha > 1) {
      throw new AttackError('invalid-argument', `must be in (0, 1]; got ${request.alpha}`, { field: 'alpha' });
    }
    if (!('alpha' in d.defaults)) throw new AttackError('invalid-argument', `${attack} has no step size (its schedule is its own)`, { field: 'alpha' });
    options.alpha = request.alpha;
  }
  const budget = budgetKey ? (options[budgetKey] ?? d.defaults[budgetKey]) : null;
  const alpha = options.alpha ?? d.defaults.alpha ?? null;
  return {
    attack,
    eps,
    norm,
    options,
    steps: typeof budget === 'number' ? budget : null,
    alpha: typeof alpha === 'number' || typeof alpha === 'string' ? alpha : null,
    needsGuidance: d.needsGuidance,
  };
}
