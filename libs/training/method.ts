/**
 * The pluggable part of the trainer: a method is its inner maximisation (adversarial examples, with
 * every model in inference mode) and its outer loss (with every model in train mode). The trainer
 * loop, optimizer, schedules, evaluation and checkpoints are shared by all methods.
 */
import type { Tensor2D, Tensor4D, tfl } from '../engine/index.js';
import type { tf } from '../engine/index.js';
import { withDropoutPass } from '../models/index.js';
import { TrainingError } from './errors.js';

export type Scalar = ReturnType<typeof tf.scalar>;

export const METHOD_NAMES = ['standard', 'pgd-at', 'trades', 'mart', 'lbgat', 'd2r'] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export interface MethodModels {
  /** The model being hardened (T). */
  target: tfl.LayersModel;
  /** The co-trained guidance model (G) for `lbgat` and `d2r`; `undefined` for the others. */
  guidance: tfl.LayersModel | undefined;
}

/** Inner-maximisation settings for one batch (ε and α may be ramped by the ε warm-up). */
export interface InnerMaxSettings {
  /** L∞ radius, input units. */
  eps: number;
  /** Step size, input units. */
  alpha: number;
  /** Sign-gradient steps. */
  steps: number;
  /** Seed of the random start (per-sample streams keyed by (seed, sample index)). */
  seed: number;
  signal?: AbortSignal;
}

/** The methods' loss weights (each method reads the one it has). */
export interface LossWeights {
  /** TRADES β and LBGAT β. */
  beta: number;
  /** MART λ. */
  lambda: number;
}

export interface LossInputs {
  x: Tensor4D;
  /** The inner maximisation's output; `undefined` for `standard`. */
  xAdv: Tensor4D | undefined;
  /** One-hot labels `[n, C]` float32. */
  yOneHot: Tensor2D;
}

export interface TrainingMethod {
  readonly name: MethodName;
  /** One line, for `--help` and docs. */
  readonly summary: string;
  /** Whether the method co-trains a guidance model (then the optimizer covers both models). */
  readonly usesGuidance: boolean;
  /** Which of `LossWeights` the method uses, with its default; `undefined` when none. */
  readonly weight: { readonly name: keyof LossWeights; readonly default: number } | undefined;
  /** The step size the method uses for ε when none is given. */
  defaultAlpha(eps: number): number;
  /**
   * Adversarial examples for `x` (`labels` are its classes), computed with every model in inference
   * mode (`model.apply(x, { training: false })`: BatchNorm running statistics, not updated).
   * Returns a new tensor the caller disposes, or `undefined` when the method trains on clean inputs.
   */
  perturb(models: MethodModels, x: Tensor4D, labels: Int32Array, settings: InnerMaxSettings): Promise<Tensor4D | undefined>;
  /**
   * The train-mode forward passes the loss is made of, in order (`{ training: true }`: batch
   * statistics, moving statistics updated, dropout on). The loss depends on the models only through
   * these passes' logits.
   */
  forwards(weights: LossWeights): readonly ForwardPass[];
  /** The scalar loss from the logits of `forwards(weights)`, in the same order. */
  lossFromLogits(logits: readonly Tensor2D[], yOneHot: Tensor2D, weights: LossWeights): Scalar;
}

/** One train-mode forward pass: which model, on which input. */
export interface ForwardPass {
  readonly model: 'target' | 'guidance';
  readonly input: 'x' | 'xAdv';
}

/** Logits of `model` on `x` in train (`true`) or inference mode. */
export function logitsOf(model: tfl.LayersModel, x: Tensor4D, training: boolean): Tensor2D {
  return model.apply(x, { training }) as Tensor2D;
}

/** The model and input of a pass; throws when the method's inputs lack them. */
export function passOperands(pass: ForwardPass, models: MethodModels, inputs: LossInputs): { model: tfl.LayersModel; input: Tensor4D } {
  const model = models[pass.model];
  const input = inputs[pass.input];
  if (!model || !input) {
    throw new TrainingError('invalid-argument', `the loss needs the ${pass.model} model on ${pass.input === 'x' ? 'clean inputs' : 'adversarial examples'}`, {
      field: pass.model === 'guidance' ? 'guidance' : 'method',
    });
  }
  return { model, input };
}

/**
 * A method's loss with every forward pass in train mode: `lossFromLogits` of `forwards`. Call it
 * under the gradient tape.
 */
export function methodLoss(method: TrainingMethod, models: MethodModels, inputs: LossInputs, weights: LossWeights): Scalar {
  const logits = method.forwards(weights).map((pass, i) => {
    const { model, input } = passOperands(pass, models, inputs);
    return withDropoutPass(i, () => logitsOf(model, input, true));
  });
  return method.lossFromLogits(logits, inputs.yOneHot, weights);
}
