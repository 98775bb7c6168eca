/**
 * One forward + backward pass: per-sample loss values, logits values and the input gradient of the
 * summed loss. The model's weights get no gradient (only `x` is differentiated).
 */
import { tf, type Tensor4D } from '../engine/index.js';
import type { LossFn } from './losses.js';
import type { AttackModel } from './types.js';

export interface LossGradient {
  /** ∇ₓ Σᵢ loss_i, same shape as x. Owned by the caller. */
  readonly grad: Tensor4D;
  /** Logits `[n * C]` at x. */
  readonly logits: Float32Array;
  /** Per-sample loss `[n]` at x. */
  readonly loss: Float32Array;
}

export function lossAndGradient(model: AttackModel, x: Tensor4D, lossFn: LossFn): LossGradient {
  let logits = new Float32Array(0);
  let loss = new Float32Array(0);
  const grad = tf.tidy(() =>
    tf.grad((xi) => {
      const z = model.logits(xi as Tensor4D);
      logits = Float32Array.from(z.dataSync() as Float32Array);
      const perSample = lossFn(z, logits);
      loss = Float32Array.from(perSample.dataSync() as Float32Array);
      return tf.sum(perSample);
    })(x),
  ) as Tensor4D;
  return { grad, logits, loss };
}

/** Per-sample loss and logits without a gradient (one forward pass). */
export function lossValues(model: AttackModel, x: Tensor4D, lossFn: LossFn): { logits: Float32Array; loss: Float32Array } {
  return tf.tidy(() => {
    const z = model.logits(x);
    const logits = Float32Array.from(z.dataSync() as Float32Array);
    const loss = Float32Array.from(lossFn(z, logits).dataSync() as Float32Array);
    return { logits, loss };
  });
}

/** Σ|g| per sample, for the zero-gradient check. */
export function gradientAbsSums(grad: Tensor4D): Float32Array {
  return tf.tidy(() => Float32Array.from(tf.sum(tf.abs(tf.reshape(grad, [grad.shape[0], -1])), 1).dataSync() as Float32Array));
}
