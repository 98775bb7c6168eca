/**
 * Training options (`TrainOptions`, every default marked) and their validation: `resolveTrainConfig`
 * checks everything before any work starts and throws `TrainingError` `invalid-argument` whose
 * `field` (and message prefix) names the offending option.
 */
import type { tfl } from '../engine/index.js';
import type { AugmentOptions, Dataset } from '../data/index.js';
import { HELD_OUT_SOURCE } from './held-out.js';
import { getModelInfo } from '../models/index.js';
import type { ArtifactStore } from '../storage/index.js';
import { invalidArgument } from './errors.js';
import type { TrainingEvent } from './events.js';
import type { LossWeights, TrainingMethod } from './method.js';
import { getMethod } from './methods.js';
import { checkSchedule, type LrSchedule } from './schedules.js';
import type { GradientMode } from './step.js';

export interface TrainOptions {
  /** `standard | pgd-at | trades | mart | lbgat | d2r`. */
  method: string;
  /** The model to harden; outputs logits `[batch, classes]`. Trained in place. */
  target: tfl.LayersModel;
  /**
   * The guidance model, co-trained from its current weights (from scratch: a freshly built model);
   * required by `lbgat` and `d2r`, rejected by the other methods. Same input shape and class count.
   */
  guidance?: tfl.LayersModel;
  /** Training data (values in [0, 1]); its class count must match the models'. */
  train: Dataset;
  /**
   * Held-out data for the per-epoch clean and PGD accuracy (which picks the best checkpoint); its first
   * `evalSize` samples are used. A slice of the training split (`splitHeldOut`); the test split is refused.
   */
  heldOut?: Dataset;
  /** @default 100 (the paper's) */
  epochs?: number;
  /** @default 128 */
  batchSize?: number;
  /** Base learning rate. @default 0.1 */
  lr?: number;
  /** SGD momentum. @default 0.9 */
  momentum?: number;
  /** Weight decay added to the gradient, all parameters. @default 2e-4 */
  weightDecay?: number;
  /** @default { kind: 'piecewise' } (the paper's, scaled to `epochs`) */
  schedule?: LrSchedule;
  /** L∞ radius of the inner maximisation, input units in (0, 1]. @default 0.031 (the paper's) */
  eps?: number;
  /** Inner step size. @default the method's: ε/4 for pgd-at (2/255 at 8/255), ε·0.007/0.031 for the KL methods (0.007 at 0.031) */
  alpha?: number;
  /** Inner steps K. @default 10 */
  steps?: number;
  /** Linear ε (and α) ramp over this many epochs, per batch; 0 is off (the paper has none). @default 0 */
  epsWarmupEpochs?: number;
  /** TRADES / LBGAT β. @default 6 for trades, 0 for lbgat */
  beta?: number;
  /** MART λ. @default 6 */
  lambda?: number;
  /** Random crop + flip. @default true for images at least 32 pixels wide (CIFAR-style), false below (MNIST) */
  augment?: boolean | AugmentOptions;
  /** Seed of the batch order, augmentation and random starts. @default 0 */
  seed?: number;
  /** Held-out samples evaluated after each epoch; 0 turns evaluation (and collapse detection) off. @default 500 */
  evalSize?: number;
  /** PGD steps of the held-out check. @default 20 */
  evalSteps?: number;
  /** PGD step size of the held-out check. @default eps / 4 */
  evalAlpha?: number;
  /** Samples per pass in the held-out check. @default 256 */
  evalBatchSize?: number;
  /**
   * Where checkpoints go (the run's `<out>/checkpoints/` store); none are written without it. A store
   * that already holds a run (a `latest.json`) is refused unless `resume` is set.
   */
  checkpoints?: ArtifactStore;
  /** Continue from `checkpoints`' latest checkpoint when there is one (else start fresh). @default false */
  resume?: boolean;
  /**
   * `tape`: every forward pass of the loss under one gradient tape (fastest). `recompute`: one pass's
   * activations at a time, each pass run twice (≈ 1/3 more forward work in the loss step; peak memory
   * of the loss step 2.7× lower for D2R on ResNet-18s). Same updates (see `step.ts`). @default 'tape'
   */
  gradients?: GradientMode;
  /**
   * A `batch` progress event every this many batches. It is also how often the losses are read back
   * from the device (all of the window's in one read; none inside a step), so on a GPU it bounds how
   * far the CPU runs ahead. 10 was not measured on a real GPU: choose it there, as the smallest value
   * whose read costs little against the batches between reads. @default 10
   */
  progressEvery?: number;
  onEvent?: (event: TrainingEvent) => void;
  /** Checked between batches (and between attack steps); the run then throws `TrainingError('aborted')`. */
  signal?: AbortSignal;
}

/** The options after validation, every default filled in. */
export interface TrainConfig {
  method: TrainingMethod;
  target: tfl.LayersModel;
  guidance: tfl.LayersModel | undefined;
  train: Dataset;
  heldOut: Dataset | undefined;
  numClasses: number;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  schedule: LrSchedule;
  eps: number;
  alpha: number;
  steps: number;
  epsWarmupEpochs: number;
  weights: LossWeights;
  augment: boolean | AugmentOptions;
  seed: number;
  evalSize: number;
  evalSteps: number;
  evalAlpha: number;
  evalBatchSize: number;
  checkpoints: ArtifactStore | undefined;
  resume: boolean;
  gradients: GradientMode;
  progressEvery: number;
  onEvent: ((event: TrainingEvent) => void) | undefined;
  signal: AbortSignal | undefined;
}

function positiveNumber(field: string, value: unknown, fallback: number, max = Infinity): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
    throw invalidArgument(field, `must be a number > 0${max < Infinity ? ` and ≤ ${max}` : ''}; got ${JSON.stringify(value)}`);
  }
  return v;
}

function nonNegativeNumber(field: string, value: unknown, fallback: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalidArgument(field, `must be a number ≥ 0; got ${JSON.stringify(value)}`);
  return v;
}

function integer(field: string, value: unknown, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidArgument(field, `must be an integer ≥ ${min}; got ${JSON.stringify(value)}`);
  return v;
}

/** `[h, w, c]` input and class count of a logits model; throws naming `field` when it is not one. */
export function modelSignature(model: tfl.LayersModel | undefined, field: string): { inputShape: number[]; numClasses: number } {
  const input = model?.inputs?.[0]?.shape;
  const output = model?.outputs?.[0]?.shape;
  if (!model || !input || !output || model.inputs.length !== 1 || model.outputs.length !== 1 || input.length !== 4 || output.length !== 2) {
    throw invalidArgument(field, 'must be a tfjs layers model from [batch, h, w, c] images to [batch, classes] logits');
  }
  const numClasses = output[1];
  if (typeof numClasses !== 'number' || numClasses < 2) throw invalidArgument(field, `must output at least 2 classes; got ${numClasses}`);
  return { inputShape: input.slice(1) as number[], numClasses };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkDataset(field: string, data: Dataset | undefined, inputShape: number[], numClasses: number): void {
  if (!data || !(data.images instanceof Float32Array) || !(data.labels instanceof Int32Array)) {
    throw invalidArgument(field, 'must be a Dataset (libs/data loadDataset)');
  }
  if (data.size < 1) throw invalidArgument(field, 'has no examples');
  if (!sameShape(data.shape, inputShape)) {
    throw invalidArgument(field, `images are [${data.shape.join(', ')}] but the target model takes [${inputShape.join(', ')}]`);
  }
  if (data.numClasses !== numClasses) throw invalidArgument(field, `has ${data.numClasses} classes but the target model outputs ${numClasses}`);
}

/** Validates every option and fills in the defaults. Throws `TrainingError` `invalid-argument` naming the field. */
export function resolveTrainConfig(options: TrainOptions): TrainConfig {
  const method = getMethod(options.method);
  const target = modelSignature(options.target, 'target');
  let guidance: tfl.LayersModel | undefined;
  if (method.usesGuidance) {
    if (!options.guidance) throw invalidArgument('guidance', `method ${method.name} co-trains a guidance model; none was given`);
    const g = modelSignature(options.guidance, 'guidance');
    if (g.numClasses !== target.numClasses) {
      throw invalidArgument('guidance', `the guidance model outputs ${g.numClasses} classes but the target outputs ${target.numClasses}`);
    }
    if (!sameShape(g.inputShape, target.inputShape)) {
      throw invalidArgument('guidance', `the guidance model takes [${g.inputShape.join(', ')}] but the target takes [${target.inputShape.join(', ')}]`);
    }
    if (options.guidance === options.target) throw invalidArgument('guidance', 'must be a different model from the target');
    guidance = options.guidance;
  } else if (options.guidance) {
    throw invalidArgument('guidance', `method ${method.name} does not use a guidance model (only lbgat and d2r do)`);
  }
  checkDataset('train', options.train, target.inputShape, target.numClasses);
  if (options.heldOut) {
    checkDataset('heldOut', options.heldOut, target.inputShape, target.numClasses);
    // The check picks the best checkpoint: no test image may choose anything.
    if (options.heldOut.split === 'test') throw invalidArgument('heldOut', 'is the test split; the per-epoch check picks the best checkpoint, so hold it out of the training split (splitHeldOut)');
  }

  const epochs = integer('epochs', options.epochs, 100, 1);
  const batchSize = integer('batchSize', options.batchSize, 128, 1);
  if (batchSize > options.train.size) {
    throw invalidArgument('batchSize', `${batchSize} is larger than the training data (${options.train.size} examples)`);
  }
  const lr = positiveNumber('lr', options.lr, 0.1);
  const momentum = nonNegativeNumber('momentum', options.momentum, 0.9);
  if (momentum >= 1) throw invalidArgument('momentum', `must be in [0, 1); got ${momentum}`);
  const weightDecay = nonNegativeNumber('weightDecay', options.weightDecay, 2e-4);
  const schedule = checkSchedule(options.schedule ?? { kind: 'piecewise' }, epochs);
  const eps = positiveNumber('eps', options.eps, 0.031, 1);
  const alpha = positiveNumber('alpha', options.alpha, method.defaultAlpha(eps), 1);
  const steps = integer('steps', options.steps, 10, 1);
  const epsWarmupEpochs = nonNegativeNumber('epsWarmupEpochs', options.epsWarmupEpochs, 0);
  if (epsWarmupEpochs > epochs) throw invalidArgument('epsWarmupEpochs', `${epsWarmupEpochs} is more than epochs (${epochs})`);
  for (const name of ['beta', 'lambda'] as const) {
    if (options[name] !== undefined && method.weight?.name !== name) {
      throw invalidArgument(name, `method ${method.name} has no ${name}${method.weight ? ` (it takes ${method.weight.name})` : ''}`);
    }
  }
  const weights: LossWeights = {
    beta: nonNegativeNumber('beta', options.beta, method.weight?.name === 'beta' ? method.weight.default : 0),
    lambda: nonNegativeNumber('lambda', options.lambda, method.weight?.name === 'lambda' ? method.weight.default : 0),
  };
  const augment = options.augment ?? target.inputShape[1] >= 32;
  const seed = integer('seed', options.seed, 0, 0);
  const heldOut = options.heldOut;
  const evalSize = heldOut ? Math.min(integer('evalSize', options.evalSize, 500, 0), heldOut.size) : 0;
  if (options.evalSize !== undefined && options.evalSize > 0 && !heldOut) throw invalidArgument('heldOut', `evalSize is ${options.evalSize} but no held-out data was given`);
  const evalSteps = integer('evalSteps', options.evalSteps, 20, 1);
  const evalAlpha = positiveNumber('evalAlpha', options.evalAlpha, eps / 4, 1);
  const evalBatchSize = integer('evalBatchSize', options.evalBatchSize, 256, 1);
  const progressEvery = integer('progressEvery', options.progressEvery, 10, 1);
  if (options.resume && !options.checkpoints) throw invalidArgument('resume', 'resuming needs the checkpoints store');
  const gradients = options.gradients ?? 'tape';
  if (gradients !== 'tape' && gradients !== 'recompute') throw invalidArgument('gradients', `must be "tape" or "recompute"; got ${JSON.stringify(gradients)}`);
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw invalidArgument('onEvent', 'must be a function');
  return {
    method,
    target: options.target,
    guidance,
    train: options.train,
    heldOut,
    numClasses: target.numClasses,
    epochs,
    batchSize,
    lr,
    momentum,
    weightDecay,
    schedule,
    eps,
    alpha,
    steps,
    epsWarmupEpochs,
    weights,
    augment,
    seed,
    evalSize,
    evalSteps,
    evalAlpha,
    evalBatchSize,
    checkpoints: options.checkpoints,
    resume: options.resume ?? false,
    gradients,
    progressEvery,
    onEvent: options.onEvent,
    signal: options.signal,
  };
}

/** The JSON-safe summary of a config recorded in checkpoints and reports. */
export function describeConfig(c: TrainConfig): Record<string, unknown> {
  const arch = (m: tfl.LayersModel | undefined) => (m ? (getModelInfo(m) ?? { name: m.name }) : null);
  return {
    method: c.method.name,
    epochs: c.epochs,
    batchSize: c.batchSize,
    lr: c.lr,
    momentum: c.momentum,
    weightDecay: c.weightDecay,
    schedule: c.schedule,
    eps: c.eps,
    alpha: c.alpha,
    steps: c.steps,
    epsWarmupEpochs: c.epsWarmupEpochs,
    ...(c.method.weight ? { [c.method.weight.name]: c.weights[c.method.weight.name] } : {}),
    augment: c.augment,
    seed: c.seed,
    evalSize: c.evalSize,
    evalSteps: c.evalSteps,
    evalAlpha: c.evalAlpha,
    gradients: c.gradients,
    target: arch(c.target),
    guidance: arch(c.guidance),
    train: { name: c.train.name, split: c.train.split, size: c.train.size, shape: c.train.shape },
    heldOut: c.heldOut ? { name: c.heldOut.name, split: c.heldOut.split, size: c.evalSize, source: HELD_OUT_SOURCE } : null,
  };
}
