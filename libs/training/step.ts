/**
 * One training step of any method: inner maximisation (models in inference mode), the loss under the
 * gradient tape (models in train mode), then one SGD update over every parameter the optimizer holds
 * (for `lbgat` and `d2r`, the union of the target's and the guidance model's trainable weights).
 */
import { tf, type Tensor1D, type Tensor4D, type Variable, type tfl } from '../engine/index.js';
import type { InnerMaxSettings, LossWeights, MethodModels, TrainingMethod } from './method.js';
import type { Sgd } from './sgd.js';

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
  /** The loss before the update (NaN/Infinity when training diverged). */
  loss: number;
}

export interface TrainingStepOptions {
  method: TrainingMethod;
  models: MethodModels;
  optimizer: Sgd;
  weights: LossWeights;
  numClasses: number;
}

/** A step function for one method, models and optimizer. Leaves no tensors behind. */
export type TrainingStep = (x: Tensor4D, y: Tensor1D, labels: Int32Array, settings: StepSettings) => Promise<StepOutcome>;

export function createTrainingStep({ method, models, optimizer, weights, numClasses }: TrainingStepOptions): TrainingStep {
  const variables = optimizer.variables;
  return async (x, y, labels, settings) => {
    const xAdv = await method.perturb(models, x, labels, settings);
    const yOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.cast(y, 'int32') as Tensor1D, numClasses), 'float32') as tf.Tensor2D);
    try {
      const { value, grads } = tf.variableGrads(() => method.loss(models, { x, xAdv, yOneHot }, weights), variables as Variable[]);
      try {
        optimizer.step(
          variables.map((v) => grads[v.name]),
          settings.lr,
        );
        const loss = (await value.data())[0];
        return { loss };
      } finally {
        value.dispose();
        tf.dispose(grads);
      }
    } finally {
      yOneHot.dispose();
      xAdv?.dispose();
    }
  };
}
