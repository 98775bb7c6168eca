/**
 * Threat-model geometry shared by every attack: projection onto the ε-ball (L∞ or L2) and into the
 * input bounds, normalised steps, per-sample norms. Tensor functions do not dispose their inputs and
 * leave nothing else behind.
 */
import { tf, type Tensor1D, type Tensor4D } from '../engine/index.js';
import type { Norm } from './types.js';

/** Per-sample norm of a batch `[n, …]` → `[n]`. */
export function sampleNorms(delta: Tensor4D, norm: Norm): Tensor1D {
  return tf.tidy(() => {
    const flat = tf.reshape(delta, [delta.shape[0], -1]);
    return (norm === 'Linf' ? tf.max(tf.abs(flat), 1) : tf.sqrt(tf.sum(tf.square(flat), 1))) as Tensor1D;
  });
}

/** `t / (‖t‖₂ + 1e-12)` per sample. */
export function normalizeL2(t: Tensor4D): Tensor4D {
  return tf.tidy(() => {
    const n = tf.reshape(sampleNorms(t, 'L2'), [-1, 1, 1, 1]);
    return tf.div(t, tf.add(n, 1e-12)) as Tensor4D;
  });
}

/** Projects `adv` onto the ε-ball around `x` (no bounds). */
export function projectToBall(adv: Tensor4D, x: Tensor4D, eps: number, norm: Norm): Tensor4D {
  return tf.tidy(() => {
    if (norm === 'Linf') return tf.minimum(tf.maximum(adv, tf.sub(x, eps)), tf.add(x, eps)) as Tensor4D;
    const delta = tf.sub(adv, x) as Tensor4D;
    const n = tf.reshape(sampleNorms(delta, 'L2'), [-1, 1, 1, 1]);
    // Scale down only when outside the ball; the (1 − 1e-7) keeps float32 rounding inside it.
    const factor = tf.minimum(1, tf.div(eps * (1 - 1e-7), tf.add(n, 1e-12)));
    return tf.add(x, tf.mul(delta, factor)) as Tensor4D;
  });
}

/** Clips into the model's input bounds. */
export function clipToBounds(t: Tensor4D, bounds: readonly [number, number]): Tensor4D {
  return tf.clipByValue(t, bounds[0], bounds[1]);
}

/**
 * Projects onto the ε-ball, then into the bounds. Clipping to the box after the ball projection can
 * only shrink each coordinate's change (x itself is inside the box), so the result is in both sets.
 */
export function project(adv: Tensor4D, x: Tensor4D, eps: number, norm: Norm, bounds: readonly [number, number]): Tensor4D {
  return tf.tidy(() => clipToBounds(projectToBall(adv, x, eps, norm), bounds));
}

/**
 * One steepest-ascent step of size `alpha` in the norm's geometry: `alpha · sign(g)` (L∞) or
 * `alpha · g / ‖g‖₂` (L2). `alpha` may be a per-sample `[n, 1, 1, 1]` tensor.
 */
export function ascentStep(x: Tensor4D, grad: Tensor4D, alpha: number | Tensor4D, norm: Norm): Tensor4D {
  return tf.tidy(() => {
    const dir = norm === 'Linf' ? tf.sign(grad) : normalizeL2(grad);
    return tf.add(x, tf.mul(dir, alpha)) as Tensor4D;
  });
}

/** Per-sample perturbation norms in float64, from flat values of `[n, d]` adversarial and clean inputs. */
export function perturbationNorms(adv: Float32Array, x: Float32Array, n: number, norm: Norm): Float64Array {
  const d = n === 0 ? 0 : adv.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let j = i * d; j < (i + 1) * d; j++) {
      const v = Math.abs(adv[j] - x[j]);
      if (norm === 'Linf') acc = Math.max(acc, v);
      else acc += v * v;
    }
    out[i] = norm === 'Linf' ? acc : Math.sqrt(acc);
  }
  return out;
}
