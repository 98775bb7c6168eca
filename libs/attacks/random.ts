/**
 * Random tensors drawn from per-sample streams (see `StepContext.sampleRng`), so each sample's draws
 * depend only on the seed, the attack, its global index and the stream number.
 */
import { tf, type Tensor4D } from '../engine/index.js';
import type { Rng } from '../data/index.js';
import type { StepContext } from './attack.js';

/** A tensor shaped like `ctx.x`, each sample's values filled by `fill` from its own stream. */
export function perSampleTensor(ctx: StepContext, stream: number, fill: (rng: Rng, values: Float32Array) => void): Tensor4D {
  const [n, h, w, c] = ctx.x.shape;
  const d = h * w * c;
  const values = new Float32Array(n * d);
  for (let i = 0; i < n; i++) fill(ctx.sampleRng(i, stream), values.subarray(i * d, (i + 1) * d));
  return tf.tensor4d(values, [n, h, w, c]);
}

/** Uniform noise in [−1, 1) per element. */
export function uniformNoise(ctx: StepContext, stream: number): Tensor4D {
  return perSampleTensor(ctx, stream, (rng, v) => rng.fillUniform(v, -1, 1));
}

/** Standard normal noise per element. */
export function normalNoise(ctx: StepContext, stream: number): Tensor4D {
  return perSampleTensor(ctx, stream, (rng, v) => rng.fillNormal(v, 0, 1));
}

/** One uniform number in [0, 1) per sample (e.g. the radius of an L2 random start). */
export function perSampleUniform(ctx: StepContext, stream: number): Float32Array {
  return Float32Array.from({ length: ctx.n }, (_, i) => ctx.sampleRng(i, stream).next());
}
