/**
 * One forward + backward pass: per-sample loss values, logits values and the input gradient of the
 * summed loss. The model's weights get no gradient (only `x` is differentiated).
 *
 * Values come back to the CPU with asynchronous reads after the pass, never inside it: a synchronous
 * read stalls a GPU backend, and tfjs-backend-webgpu cannot read synchronously in Node at all. Loops
 * that step many times use `lossAndGradientTensors` and read rarely (`readback.ts`).
 */
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../engine/index.js';
import type { LossFn } from './losses.js';
import type { AttackModel } from './types.js';
import { ascentStep, project } from './norms.js';

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

/** A pass's results as tensors (owned by the caller): nothing read back. */
export interface LossGradientTensors {
  /** ∇ₓ Σᵢ loss_i, same shape as x. */
  readonly grad: Tensor4D;
  /** Logits `[n, C]` at x. */
  readonly logits: Tensor2D;
  /** Per-sample loss `[n]` at x. */
  readonly loss: Tensor1D;
}

/** One forward + backward pass that leaves every result on the device (for loops that read rarely). */
export function lossAndGradientTensors(model: AttackModel, x: Tensor4D, lossFn: LossFn): LossGradientTensors {
  let z: Tensor2D | undefined;
  let perSample: Tensor1D | undefined;
  try {
    const grad = tf.tidy(() =>
      tf.grad((xi) => {
        z = tf.keep(model.logits(xi as Tensor4D));
        perSample = tf.keep(lossFn(z));
        return tf.sum(perSample);
      })(x),
    ) as Tensor4D;
    return { grad, logits: z!, loss: perSample! };
  } catch (error) {
    tf.dispose([z, perSample].filter((t) => t !== undefined) as Tensor[]);
    throw error;
  }
}

/**
 * The values of several tensors in one read-back (flattened, concatenated on the device, split
 * here), as float32; disposes the tensors. One GPU→CPU map instead of one per tensor.
 */
export async function takeAllValues(tensors: readonly Tensor[]): Promise<Float32Array[]> {
  if (tensors.length === 0) return [];
  if (tensors.length === 1) return [await takeValues(tensors[0])];
  try {
    const all = await takeValues(tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(tf.cast(t, 'float32'), [-1])))));
    const out: Float32Array[] = [];
    let offset = 0;
    for (const t of tensors) {
      out.push(all.subarray(offset, offset + t.size));
      offset += t.size;
    }
    return out;
  } finally {
    tf.dispose(tensors as Tensor[]);
  }
}

/** One pass, then its logits and per-sample loss read back together (one read-back). */
export async function lossAndGradient(model: AttackModel, x: Tensor4D, lossFn: LossFn): Promise<LossGradient> {
  const { grad, logits, loss } = lossAndGradientTensors(model, x, lossFn);
  try {
    const [l, s] = await takeAllValues([logits, loss]);
    return { grad, logits: l, loss: s };
  } catch (error) {
    grad.dispose();
    throw error;
  }
}

/** Per-sample loss and logits without a gradient (one forward pass, one read-back). */
export async function lossValues(model: AttackModel, x: Tensor4D, lossFn: LossFn): Promise<{ logits: Float32Array; loss: Float32Array }> {
  const [logits, loss] = await takeAllValues(lossTensors(model, x, lossFn));
  return { logits, loss };
}

/** Logits `[n, C]` and per-sample loss `[n]` at x as tensors (one forward pass, nothing read). */
export function lossTensors(model: AttackModel, x: Tensor4D, lossFn: LossFn): [Tensor2D, Tensor1D] {
  return tf.tidy(() => {
    const z = model.logits(x);
    return [z, lossFn(z)] as [Tensor2D, Tensor1D];
  });
}

/** Σ|g| per sample `[n]`, for the zero-gradient check, as a tensor (read it with the step's other values). */
export function gradientAbsSumsTensor(grad: Tensor4D): Tensor1D {
  return tf.tidy(() => tf.sum(tf.abs(tf.reshape(grad, [grad.shape[0], -1])), 1) as Tensor1D);
}

/** Σ|g| per sample, for the zero-gradient check. */
export function gradientAbsSums(grad: Tensor4D): Promise<Float32Array> {
  return takeValues(gradientAbsSumsTensor(grad));
}

/**
 * `steps` signed-gradient ascent steps of size `alpha` on `lossFn` from `start`, each projected back
 * into the L∞ ball of radius `eps` around `x` and the model's bounds: the inner loop of PGD's and
 * CAG's training-time generators. Takes `start` (disposed as it is replaced, and on error).
 */
export function ascendLinf(model: AttackModel, x: Tensor4D, start: Tensor4D, lossFn: LossFn, steps: number, alpha: number, eps: number): Tensor4D {
  let xAdv = start;
  try {
    for (let step = 0; step < steps; step++) {
      const grad = inputGradient(model, xAdv, lossFn);
      const cur = xAdv;
      xAdv = tf.tidy(() => project(ascentStep(cur, grad, alpha, 'Linf'), x, eps, 'Linf', model.bounds));
      cur.dispose();
      grad.dispose();
    }
    return xAdv;
  } catch (error) {
    xAdv.dispose();
    throw error;
  }
}
