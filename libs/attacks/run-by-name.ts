/**
 * `runAttackByName`: the entry point for the CLI (`harden attack`) and the services. One call runs a
 * registered attack at one ε and returns what a report needs: clean and robust accuracy, robust
 * accuracy per stage, the largest perturbation, the adversarial inputs and their predictions.
 */
import type { Tensor4D } from '../engine/index.js';
import type { CheckWarning } from './checks.js';
import { AttackError } from './errors.js';
import { logitsValues } from './model.js';
import { perturbationNorms } from './norms.js';
import { createAttack, describeAttack, type AttackName, type AttackOptionsByName } from './registry.js';
import type { AttackModel, AttackResult, Labels, Norm, RunOptions, StageResult } from './types.js';

/** Run options for one ε, plus the attack's own options (steps, alpha, guidance, …). */
export type RunByNameOptions<K extends AttackName = AttackName> = Omit<RunOptions, 'eps'> & {
  /** Radius of the threat model. @default the attack's usual ε (8/255; CAG 0.031) */
  eps?: number;
} & Partial<AttackOptionsByName[K]>;

export interface AttackReport {
  readonly attack: string;
  readonly eps: number;
  readonly norm: Norm;
  readonly n: number;
  readonly cleanAccuracy: number;
  readonly robustAccuracy: number;
  /** Largest ‖x' − x‖ over the batch, in the run's norm (float64 over the float32 values). */
  readonly maxPerturbation: number;
  /** `clean`, then each stage (AutoAttack) or the attack itself, with the robust accuracy after it. */
  readonly stages: readonly StageResult[];
  /** Adversarial inputs (projected; the clean input where that is already misclassified). Owned by the caller. */
  readonly adversarial: Tensor4D;
  /** Predicted class of each adversarial input. */
  readonly predictions: Int32Array;
  /** 1 where the attack succeeded (the sample is not robust). */
  readonly success: Uint8Array;
  readonly warnings: readonly CheckWarning[];
  /** Wall-clock time of the attack, seconds. */
  readonly seconds: number;
}

const RUN_KEYS = ['eps', 'norm', 'seed', 'signal', 'criterion', 'batchSize', 'onStep', 'indexOffset'] as const;

/** Splits flat options into the run's and the attack's. */
export function splitOptions(options: Record<string, unknown>): { run: Record<string, unknown>; attack: Record<string, unknown> } {
  const run: Record<string, unknown> = {};
  const attack: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if ((RUN_KEYS as readonly string[]).includes(k)) run[k] = v;
    else attack[k] = v;
  }
  return { run, attack };
}

/** Argmax per row of logits `[n * C]`. */
export function argMaxRows(logits: Float32Array, numClasses: number): Int32Array {
  const n = logits.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (logits[i * numClasses + c] > logits[i * numClasses + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** The single ε of a by-name run: the given number, or the attack's usual ε. */
export function oneEps(name: string, eps: unknown): number {
  if (eps === undefined) return describeAttack(name).defaultEps;
  if (typeof eps !== 'number') throw new AttackError('invalid-argument', `${name}: eps must be one number here; got ${JSON.stringify(eps)}`, { field: 'eps' });
  return eps;
}

/** Builds the report of a one-ε run; takes ownership of the result's tensors. */
export async function reportFromResult(model: AttackModel, x: Tensor4D, result: AttackResult, seconds: number): Promise<AttackReport> {
  const r = result.results[0];
  r.raw.dispose();
  const n = x.shape[0];
  const norms = perturbationNorms((await r.clipped.data()) as Float32Array, (await x.data()) as Float32Array, n, result.norm);
  const stages: StageResult[] = r.stages
    ? [...r.stages]
    : [
        { name: 'clean', robust: Math.round(result.cleanAccuracy * n), n, robustAccuracy: result.cleanAccuracy },
        { name: result.attack, robust: Math.round(r.robustAccuracy * n), n, robustAccuracy: r.robustAccuracy },
      ];
  return {
    attack: result.attack,
    eps: r.eps,
    norm: result.norm,
    n,
    cleanAccuracy: result.cleanAccuracy,
    robustAccuracy: r.robustAccuracy,
    maxPerturbation: norms.reduce((a, b) => Math.max(a, b), 0),
    stages,
    adversarial: r.clipped,
    predictions: argMaxRows(await logitsValues(model, r.clipped), model.numClasses),
    success: r.success,
    warnings: result.warnings,
    seconds,
  };
}

/**
 * Runs attack `name` on (x, y) at one ε. Attack options go in the same object as the run options,
 * e.g. `runAttackByName('pgd', model, x, y, { eps: 0.3, steps: 40 })` or
 * `runAttackByName('cag', target, x, y, { guidance })`. Bad names or options throw an
 * `AttackError('invalid-argument')` naming the field before any work starts.
 */
export async function runAttackByName<K extends AttackName>(
  name: K,
  model: AttackModel,
  x: Tensor4D,
  y: Labels,
  options?: RunByNameOptions<K>,
): Promise<AttackReport>;
export async function runAttackByName(
  name: string,
  model: AttackModel,
  x: Tensor4D,
  y: Labels,
  options?: Record<string, unknown>,
): Promise<AttackReport>;
export async function runAttackByName(
  name: string,
  model: AttackModel,
  x: Tensor4D,
  y: Labels,
  options: Record<string, unknown> = {},
): Promise<AttackReport> {
  const { run, attack } = splitOptions(options);
  const eps = oneEps(name, run.eps);
  const instance = createAttack(name, attack);
  const started = performance.now();
  const result = await instance.run(model, x, y, { ...(run as Omit<RunOptions, 'eps'>), eps });
  const seconds = (performance.now() - started) / 1000;
  return reportFromResult(model, x, result, seconds);
}

/** Disposes the tensors of an `AttackResult`. */
export function disposeResult(result: AttackResult): void {
  for (const r of result.results) {
    r.raw.dispose();
    r.clipped.dispose();
  }
}

/** The mean of 1 − success, as a number in [0, 1]. */
export function robustAccuracyOf(success: Uint8Array): number {
  return success.length === 0 ? 0 : 1 - success.reduce((a, b) => a + b, 0) / success.length;
}

