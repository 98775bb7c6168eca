/**
 * The attack contract: a model wrapper, a criterion, run options and per-epsilon results.
 *
 * Inputs are NHWC float32 tensors with values inside the model's `bounds` (the project uses [0, 1],
 * no normalisation). Perturbation sizes (`eps`, `alpha`) are in the same units as the inputs.
 */
import type { Tensor1D, Tensor2D, Tensor4D } from '../engine/index.js';
import type { CheckWarning } from './checks.js';

/** Threat models: the L∞ ball (max per-pixel change) and the L2 ball (Euclidean norm of the change). */
export const NORMS = ['Linf', 'L2'] as const;
export type Norm = (typeof NORMS)[number];

/** A classifier as attacks see it: logits in inference mode, input bounds, class count. */
export interface AttackModel {
  /**
   * Pre-softmax logits `[batch, numClasses]` for inputs `[batch, h, w, c]`, computed in inference mode
   * (BatchNorm uses its running statistics and never updates them; dropout is off). Differentiable
   * with respect to `x`. The caller owns (and disposes) the returned tensor.
   */
  logits(x: Tensor4D): Tensor2D;
  /** Valid input range, inclusive. Inputs outside it are rejected; outputs are clipped to it. */
  readonly bounds: readonly [number, number];
  readonly numClasses: number;
}

/** Decides per sample whether an input counts as adversarial (after Foolbox's `Criterion`). */
export interface Criterion {
  readonly name: string;
  /** Targeted criteria: the target class of each sample of the batch, in batch order. */
  readonly targets?: Int32Array;
  /**
   * Whether one sample is adversarial, from its logits row, its true label and its target
   * (`-1` for untargeted criteria).
   */
  isAdversarialRow(logits: Float32Array, label: number, target: number): boolean;
  /**
   * The same decision for a batch on the device: a bool `[n]` tensor from logits `[n, C]`, labels
   * and targets (int32 `[n]`). Lets loops keep per-sample success on the GPU between steps; a
   * criterion without it is evaluated on values read back each time it is needed.
   */
  adversarialMask?(logits: Tensor2D, labels: Tensor1D, targets: Tensor1D | undefined): Tensor1D;
}

/** Labels as accepted by `run`: class indices in [0, numClasses). */
export type Labels = Int32Array | readonly number[] | Tensor1D;

/**
 * Progress of an iterative attack, one per step when `onStep` is given. Loops read values back only
 * every few steps (`STEPS_PER_READBACK`, APGD's checkpoints), so events arrive in bursts, in order.
 */
export interface StepEvent {
  /** The attack (or AutoAttack stage) that took the step. */
  readonly attack: string;
  /** 0 for the starting point, then 1, 2, … after each update. */
  readonly step: number;
  /** The attack's objective summed over the samples it is working on (e.g. Σ CE, Σ KL). */
  readonly objective: number;
  /** Samples the objective is summed over. */
  readonly samples: number;
  /** Set by `runAttackParallel`: the shard (0-based) these steps belong to, of `count`. */
  readonly shard?: { readonly index: number; readonly count: number };
}

export interface RunOptions {
  /** Radius (or radii) of the threat model, in input units; one result per value, in order. */
  eps: number | readonly number[];
  /** Threat model. @default 'Linf' */
  norm?: Norm;
  /** Seed of every random draw (random starts, Square's windows). Same seed, same backend → same result. @default 0 */
  seed?: number;
  /** Stops the run between steps with an `AttackError('aborted')`. */
  signal?: AbortSignal;
  /** What counts as success. @default misclassification() */
  criterion?: Criterion;
  /** Samples processed together (memory vs. speed); results do not depend on it. @default 256 */
  batchSize?: number;
  /** Called after each step of iterative attacks (costs one read of a scalar per step). */
  onStep?: (event: StepEvent) => void;
  /**
   * Global index of `x`'s first sample. Per-sample random streams are keyed by global index, so a
   * shard of a batch run with its offset draws exactly what the whole batch would. @default 0
   */
  indexOffset?: number;
}

/** Robust accuracy after one stage of a composed attack (AutoAttack), over the whole batch. */
export interface StageResult {
  /** `clean`, then the stage's attack name. */
  readonly name: string;
  /** Samples still robust (criterion not met) after this stage. */
  readonly robust: number;
  readonly n: number;
  /** `robust / n`. */
  readonly robustAccuracy: number;
}

/** One epsilon's outcome (Foolbox's `(raw, clipped, success)`). */
export interface EpsilonResult {
  readonly eps: number;
  /** The attack's own output, before the shared projection. Owned by the caller. */
  readonly raw: Tensor4D;
  /**
   * `raw` projected onto the ε-ball around x (in the run's norm) and into the model's bounds; where
   * the clean input already meets the criterion and the projection does not, the clean input itself
   * (the worst case per sample). Owned by the caller.
   */
  readonly clipped: Tensor4D;
  /** 1 where `clipped` meets the criterion (the sample is not robust). */
  readonly success: Uint8Array;
  /** `1 − mean(success)`: robust accuracy under the misclassification criterion. */
  readonly robustAccuracy: number;
  /** Composed attacks only: robust accuracy after each stage, from `clean` on. */
  readonly stages?: readonly StageResult[];
}

export interface AttackResult {
  readonly attack: string;
  readonly norm: Norm;
  /** 1 where the clean input already meets the criterion (misclassified). */
  readonly clean: Uint8Array;
  /** `1 − mean(clean)`. */
  readonly cleanAccuracy: number;
  /** One entry per requested epsilon, in the order given. */
  readonly results: readonly EpsilonResult[];
  /** Sanity-check findings (see CHECKS.md), deduplicated by id. */
  readonly warnings: readonly CheckWarning[];
}

/** An attack with its options compiled: run it on any model, batch and epsilons. */
export interface Attack {
  readonly name: string;
  /** Threat models this attack supports. */
  readonly norms: readonly Norm[];
  /**
   * Attacks `x` (`[n, h, w, c]`, inside `model.bounds`) with labels `y`. Disposes every tensor it
   * creates except the `raw` and `clipped` tensors it returns; never disposes `x` or `y`.
   */
  run(model: AttackModel, x: Tensor4D, y: Labels, options: RunOptions): Promise<AttackResult>;
}
