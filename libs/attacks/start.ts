/**
 * Starting points of iterative attacks, drawn from per-sample streams.
 *
 * - `uniform` (Madry et al. 2018): L∞ — x + U(−ε, ε) per pixel; L2 — x + ε·u·n/‖n‖₂ with n ~ N(0, I)
 *   and u ~ U(0, 1) per sample (as torchattacks' PGDL2). Clipped into the bounds.
 * - `normal` (TRADES, CAG): x + 0.001·N(0, I), not clipped (the first step's projection does it).
 * - `none`: x itself.
 */
import { tf, type Tensor4D } from '../engine/index.js';
import type { StepContext } from './attack.js';
import { clipToBounds, normalizeL2 } from './norms.js';
import { normalNoise, perSampleUniform, uniformNoise } from './random.js';

export type StartKind = 'uniform' | 'normal' | 'none';

/** Scale of the `normal` start (TRADES / CAG reference code). */
export const NORMAL_START_STD = 0.001;

/** Offset between a restart's noise stream and its radius stream. */
const RADIUS_STREAM = 1 << 20;

export function startingPoint(ctx: StepContext, kind: StartKind, stream: number): Tensor4D {
  const { x, eps, norm } = ctx;
  if (kind === 'none') return x.clone();
  if (kind === 'normal') {
    const noise = normalNoise(ctx, stream);
    const out = tf.tidy(() => tf.add(x, tf.mul(noise, NORMAL_START_STD)) as Tensor4D);
    noise.dispose();
    return out;
  }
  if (norm === 'Linf') {
    const noise = uniformNoise(ctx, stream);
    const out = tf.tidy(() => clipToBounds(tf.add(x, tf.mul(noise, eps)) as Tensor4D, ctx.model.bounds));
    noise.dispose();
    return out;
  }
  const noise = normalNoise(ctx, stream);
  const radius = perSampleUniform(ctx, stream + RADIUS_STREAM);
  const out = tf.tidy(() => {
    const r = tf.mul(tf.tensor4d(radius, [ctx.n, 1, 1, 1]), eps);
    return clipToBounds(tf.add(x, tf.mul(normalizeL2(noise), r)) as Tensor4D, ctx.model.bounds);
  });
  noise.dispose();
  return out;
}
