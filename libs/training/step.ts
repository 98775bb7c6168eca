/**
 * One training step of any method: inner maximisation (models in inference mode), the loss and its
 * gradient (models in train mode), then one SGD update over every parameter the optimizer holds
 * (for `lbgat` and `d2r`, the union of the target's and the guidance model's trainable weights).
 *
 * Two ways to get the gradient, with the same result:
 * - `tape` (default): every forward pass of the loss under one gradient tape. Peak memory holds the
 *   activations of all passes (three ResNet-sized passes for D2R).
 * - `recompute`: the passes run once without a tape to get their logits z_i; dL/dz_i is taken on the
 *   logits alone; then each pass is run again under its own tape and back-propagated with dL/dz_i
 *   (Σ_i J_iᵀ·dL/dz_i is the same gradient, since L depends on the models only through the z_i). Peak
 *   memory holds one pass's activations; the loss step costs one more forward per pass. BatchNorm
 *   moving statistics are restored after the second round, so they are updated exactly once per pass,
 *   as with the tape. Identical arithmetic except for dropout, whose masks differ between the two
 *   rounds (tfjs dropout is unseeded).
 *
 * A step reads nothing back from the device (its loss stays a tensor): on a GPU the next step's
 * programs queue behind this one's without the CPU waiting. `test/gpu-round-trips.test.ts` pins it.
 */
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D, type Variable, type tfl } from '../engine/index.js';
import { logitsOf, methodLoss, passOperands, type InnerMaxSettings, type Scalar, type LossInputs, type LossWeights, type MethodModels, type TrainingMethod } from './method.js';
import type { Sgd } from './sgd.js';
import { withDropoutPass } from '../models/index.js';

/** The trainable variables of the models, target first, with stable names (`target/conv1/kernel`). */
export function collectParameters(models: MethodModels): { variables: Variable[]; names: string[] } {
  const variables: Variable[] = [];
  const names: string[] = [];
  const add = (role: string, model: tfl.LayersModel | undefined) => {
    if (!model) return;
    for (const w of model.trainableWeights) {
      variables.push(w.read() as Variable);
      names.push(`${role}/${w.originalName}`);
    }
  };
  add('target', models.target);
  add('guidance', models.guidance);
  return { variables, names };
}

export interface StepSettings extends InnerMaxSettings {
  /** Learning rate of this step. */
  lr: number;
}

export interface StepOutcome {
  /**
   * The loss before the update (NaN/Infinity when training diverged), as a scalar on the device,
   * owned by the caller: a step reads nothing back, so loops read losses rarely (the trainer: once
   * per progress window) and never wait for the device inside a step. `readLosses` reads several.
   */
  loss: Scalar;
}

/** The values of step losses in one read-back (in order); disposes them. */
export async function readLosses(losses: readonly Tensor[]): Promise<number[]> {
  if (losses.length === 0) return [];
  try {
    const stacked = tf.stack(losses as Tensor[]);
    try {
      return Array.from(await stacked.data());
    } finally {
      stacked.dispose();
    }
  } finally {
    tf.dispose(losses as Tensor[]);
  }
}

/** How the loss gradient is computed (see the module header). */
export type GradientMode = 'tape' | 'recompute';

export interface TrainingStepOptions {
  method: TrainingMethod;
  models: MethodModels;
  optimizer: Sgd;
  weights: LossWeights;
  numClasses: number;
  /** @default 'tape' */
  gradients?: GradientMode;
}

/** A step function for one method, models and optimizer. Leaves no tensors behind. */
export type TrainingStep = (x: Tensor4D, y: Tensor1D, labels: Int32Array, settings: StepSettings) => Promise<StepOutcome>;

type Gradients = { value: Tensor; grads: Map<Variable, Tensor> };

function tapeGradients(method: TrainingMethod, models: MethodModels, inputs: LossInputs, weights: LossWeights, variables: readonly Variable[]): Gradients {
  const { value, grads } = tf.variableGrads(() => methodLoss(method, models, inputs, weights), variables as Variable[]);
  return { value, grads: new Map(variables.filter((v) => grads[v.name]).map((v) => [v, grads[v.name]])) };
}

/** Copies of the models' non-trainable weights (BatchNorm moving statistics). */
function snapshotStats(models: MethodModels): Array<[Variable, Tensor]> {
  return [models.target, models.guidance].flatMap((m) => (m ? m.nonTrainableWeights.map((w) => [w.read() as Variable, w.read().clone()] as [Variable, Tensor]) : []));
}

function recomputeGradients(method: TrainingMethod, models: MethodModels, inputs: LossInputs, weights: LossWeights, variables: readonly Variable[]): Gradients {
  const passes = method.forwards(weights).map((pass) => passOperands(pass, models, inputs));
  // Each pass draws its dropout masks from its own stream: the same in both rounds, and as under one tape.
  const logits = passes.map(({ model, input }, i) => withDropoutPass(i, () => tf.tidy(() => logitsOf(model, input, true))));
  const stats = snapshotStats(models);
  const grads = new Map<Variable, Tensor>();
  try {
    const lossOf = (...zs: Tensor[]) => method.lossFromLogits(zs as Tensor2D[], inputs.yOneHot, weights);
    const { value, grads: dz } = tf.valueAndGrads(lossOf)(logits);
    try {
      const owned = new Set(variables);
      passes.forEach(({ model, input }, i) => {
        const vars = model.trainableWeights.map((w) => w.read() as Variable).filter((v) => owned.has(v));
        const dzi = dz[i];
        const { value: s, grads: g } = withDropoutPass(i, () => tf.variableGrads(() => tf.sum(tf.mul(logitsOf(model, input, true), dzi)) as tf.Scalar, vars));
        s.dispose();
        for (const v of vars) {
          const gi = g[v.name];
          if (!gi) continue;
          const prev = grads.get(v);
          if (prev) {
            grads.set(v, tf.add(prev, gi));
            tf.dispose([prev, gi]);
          } else grads.set(v, gi);
        }
      });
    } finally {
      tf.dispose(dz);
    }
    return { value, grads };
  } catch (error) {
    tf.dispose([...grads.values()]);
    throw error;
  } finally {
    for (const [v, saved] of stats) v.assign(saved);
    tf.dispose([...logits, ...stats.map(([, t]) => t)]);
  }
}

export function createTrainingStep({ method, models, optimizer, weights, numClasses, gradients = 'tape' }: TrainingStepOptions): TrainingStep {
  const variables = optimizer.variables;
  const compute = gradients === 'recompute' ? recomputeGradients : tapeGradients;
  return async (x, y, labels, settings) => {
    const xAdv = await method.perturb(models, x, labels, settings);
    const yOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.cast(y, 'int32') as Tensor1D, numClasses), 'float32') as Tensor2D);
    try {
      const { value, grads } = compute(method, models, { x, xAdv, yOneHot }, weights, variables);
      try {
        optimizer.step(
          variables.map((v) => grads.get(v)),
          settings.lr,
        );
      } catch (error) {
        value.dispose();
        throw error;
      } finally {
        tf.dispose([...grads.values()]);
      }
      return { loss: value as Scalar };
    } finally {
      yOneHot.dispose();
      xAdv?.dispose();
    }
  };
}
