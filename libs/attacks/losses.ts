/**
 * Per-sample attack objectives (to be maximised), as functions of the logits `z` `[n, C]`.
 *
 * Losses that need an ordering of the classes (DLR) build their selection masks from `z` on the
 * device, outside the gradient tape (`classRankMasks`), so no loss reads values back to the CPU in
 * the middle of a step. Tensors passed to the factories (one-hot labels, anchor probabilities) stay
 * owned by the caller.
 */
import { tf, type Tensor1D, type Tensor2D } from '../engine/index.js';

export type LossFn = (z: Tensor2D) => Tensor1D;

/** The smoothing inside `log(b + 1e-5)` of the project's element-wise KL (ARCHITECTURE.md). */
export const KL_SMOOTHING = 1e-5;

/** One-hot rows `[n, numClasses]` (float32) for class indices. */
export function oneHotRows(indices: Int32Array, numClasses: number): Tensor2D {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(indices, 'int32'), numClasses), 'float32') as Tensor2D);
}

/**
 * The element-wise KL of the architecture doc, in its one convention (the first argument weights):
 * `KL(P ‖ Q)` per class as `P · (log(P + 1e-5) − log_softmax(z_Q))`, so summing over classes gives
 * KL(P ‖ softmax(z_Q)) up to the smoothing. `probsP` `[n, C]` probabilities, `logitsQ` `[n, C]` logits.
 * This is the authors' D2R code's element-wise KL (their `kl_Loss*`).
 */
export function elementwiseKl(probsP: Tensor2D, logitsQ: Tensor2D): Tensor2D {
  return tf.tidy(() => tf.mul(probsP, tf.sub(tf.log(tf.add(probsP, KL_SMOOTHING)), tf.logSoftmax(logitsQ))) as Tensor2D);
}

/** Cross-entropy with the true class: `logsumexp(z) − z_y`. */
export function crossEntropy(yOneHot: Tensor2D): LossFn {
  return (z) => tf.sub(tf.logSumExp(z, 1), tf.sum(tf.mul(z, yOneHot), 1)) as Tensor1D;
}

/** Targeted: `−CE(z, t)`, maximised by moving towards class t. */
export function targetedCrossEntropy(tOneHot: Tensor2D): LossFn {
  return (z) => tf.neg(tf.sub(tf.logSumExp(z, 1), tf.sum(tf.mul(z, tOneHot), 1))) as Tensor1D;
}

/**
 * TRADES-style KL: Σ_c KL(p_anchor ‖ softmax(z)) per sample (element-wise as {@link elementwiseKl}),
 * with `anchorProbs` the clean prediction (held constant).
 */
export function klDivergence(anchorProbs: Tensor2D): LossFn {
  return (z) => tf.sum(elementwiseKl(anchorProbs, z), 1) as Tensor1D;
}

function maxOther(z: Tensor2D, oneHot: Tensor2D): Tensor1D {
  const masked = tf.where(tf.cast(oneHot, 'bool'), tf.fill(z.shape, -Infinity), z);
  return tf.max(masked, 1) as Tensor1D;
}

/** Carlini–Wagner margin: `max_{j≠y} z_j − z_y` (positive once misclassified). */
export function cwMargin(yOneHot: Tensor2D): LossFn {
  return (z) => tf.sub(maxOther(z, yOneHot), tf.sum(tf.mul(z, yOneHot), 1)) as Tensor1D;
}

/** Targeted CW margin: `z_t − max_{j≠t} z_j`. */
export function targetedCwMargin(tOneHot: Tensor2D): LossFn {
  return (z) => tf.sub(tf.sum(tf.mul(z, tOneHot), 1), maxOther(z, tOneHot)) as Tensor1D;
}

/** Class indices of each row sorted by decreasing logit (first `k`). */
export function topClasses(zValues: Float32Array, numClasses: number, k: number): Int32Array[] {
  const n = zValues.length / numClasses;
  const out: Int32Array[] = [];
  const order = Array.from({ length: numClasses }, (_, c) => c);
  for (let i = 0; i < n; i++) {
    const row = zValues.subarray(i * numClasses, (i + 1) * numClasses);
    // Stable on ties (lower class first), like a stable descending sort.
    const sorted = order.slice().sort((a, b) => row[b] - row[a] || a - b);
    out.push(Int32Array.from(sorted.slice(0, k)));
  }
  return out;
}

/**
 * `[n, C]` float masks, one per entry of `positions`: mask k is 1 at the class ranked `positions[k]`
 * in its row (0 = highest logit), else 0. Ties rank the lower class first, as `topClasses` does. The
 * masks are constants of the tape: built inside `customGrad` (whose forward ops are not recorded),
 * with a zero gradient towards `z`, so a loss can select classes by rank without reading `z` back.
 */
export function classRankMasks(z: Tensor2D, positions: readonly number[]): Tensor2D[] {
  const ranks = (zi: Tensor2D) => {
    const [n, c] = zi.shape;
    const mine = tf.reshape(zi, [n, c, 1]);
    const others = tf.reshape(zi, [n, 1, c]);
    // before[c, j] = 1 where class j ranks ahead of class c: a larger logit, or an equal one with j < c.
    const earlier = tf.tensor2d(Float32Array.from({ length: c * c }, (_, k) => (k % c < Math.floor(k / c) ? 1 : 0)), [c, c]);
    const before = tf.add(tf.cast(tf.greater(others, mine), 'float32'), tf.mul(tf.cast(tf.equal(others, mine), 'float32'), earlier));
    return tf.sum(before, 2) as Tensor2D;
  };
  return positions.map((p) =>
    tf.customGrad((zi) => ({
      value: tf.cast(tf.equal(ranks(zi as Tensor2D), p), 'float32'),
      // −0, not 0: x + (−0) = x for every x (also x = −0), so the gradient reaching z is bit for bit
      // the one the other terms give, as if the masks were constants.
      gradFunc: (dy) => tf.fill(dy.shape, -0),
    }))(z) as Tensor2D,
  );
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020, eq. 6):
 * `−(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12)`, π the classes by decreasing logit. Needs ≥ 3 classes.
 */
export function dlr(labels: Int32Array, numClasses: number): LossFn {
  return (z) => {
    const y = oneHotRows(labels, numClasses);
    const [first, second, third] = classRankMasks(z, [0, 1, 2]);
    // numerator weights: +1 on y, −1 on the best other class (the second when y ranks first)
    const yFirst = tf.sum(tf.mul(first, y), 1, true);
    const num = tf.sub(y, tf.add(tf.mul(first, tf.sub(1, yFirst)), tf.mul(second, yFirst)));
    const den = tf.sub(first, third);
    return tf.neg(tf.div(tf.sum(tf.mul(z, num), 1), tf.add(tf.sum(tf.mul(z, den), 1), 1e-12))) as Tensor1D;
  };
}

/**
 * Targeted DLR (Croce & Hein 2020, eq. 7): `−(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)`.
 * Needs ≥ 4 classes.
 */
export function dlrTargeted(labels: Int32Array, targets: Int32Array, numClasses: number): LossFn {
  return (z) => {
    const num = tf.sub(oneHotRows(labels, numClasses), oneHotRows(targets, numClasses));
    const [first, third, fourth] = classRankMasks(z, [0, 2, 3]);
    const den = tf.sub(tf.sub(first, tf.mul(third, 0.5)), tf.mul(fourth, 0.5));
    return tf.neg(tf.div(tf.sum(tf.mul(z, num), 1), tf.add(tf.sum(tf.mul(z, den), 1), 1e-12))) as Tensor1D;
  };
}
