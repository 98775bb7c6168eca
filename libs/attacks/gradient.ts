/**
 * One forward + backward pass: per-sample loss values, logits values and the input gradient of the
 * summed loss. The model's weights get no gradient (only `x` is differentiated).
 *
 * Values come back to the CPU with asynchronous reads after the pass, never inside it: a synchronous
 * read stalls a GPU backend, and tfjs-backend-webgpu cannot read synchronously in Node at all.
 */
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../engine/index.js';
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

/** A copy of a tensor's values (float32), read asynchronously; disposes the tensor. */
export async function takeValues(t: Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from((await t.data()) as Float32Array);
  } finally {
    t.dispose();
  }
}

/** ∇ₓ Σᵢ loss_i only (no values read back): for loops that need nothing else, e.g. CAG in training. */
export function inputGradient(model: AttackModel, x: Tensor4D, lossFn: LossFn): Tensor4D {
  return tf.tidy(() => tf.grad((xi) => tf.sum(lossFn(model.logits(xi as Tensor4D))))(x)) as Tensor4D;
}

export async function lossAndGradient(model: AttackModel, x: Tensor4D, lossFn: LossFn): Promise<LossGradient> {
  let z: Tensor2D | undefined;
  let perSample: Tensor1D | undefined;
  let grad: Tensor4D;
  try {
    grad = tf.tidy(() =>
      tf.grad((xi) => {
        z = tf.keep(model.logits(xi as Tensor4D));
        perSample = tf.keep(lossFn(z));
        return tf.sum(perSample);
      })(x),
    ) as Tensor4D;
  } catch (error) {
    tf.dispose([z, perSample].filter((t) => t !== undefined) as Tensor[]);
    throw error;
  }
  try {
    const logits = await takeValues(z!);
    const loss = await takeValues(perSample!);
    return { grad, logits, loss };
  } catch (error) {
    tf.dispose([grad, z!, perSample!]);
    throw error;
  }
}

/** Per-sample loss and logits without a gradient (one forward pass). */
export async function lossValues(model: AttackModel, x: Tensor4D, lossFn: LossFn): Promise<{ logits: Float32Array; loss: Float32Array }> {
  const [z, loss] = tf.tidy(() => {
    const zi = model.logits(x);
    return [zi, lossFn(zi)];
  });
  try {
    return { logits: await takeValues(z), loss: await takeValues(loss) };
  } finally {
    tf.dispose([z, loss]);
  }
}

/** Σ|g| per sample, for the zero-gradient check. */
export function gradientAbsSums(grad: Tensor4D): Promise<Float32Array> {
  return takeValues(tf.tidy(() => tf.sum(tf.abs(tf.reshape(grad, [grad.shape[0], -1])), 1)));
}
