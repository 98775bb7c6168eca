/**
 * Per-sample attack objectives (to be maximised), as functions of the logits `z` `[n, C]`.
 *
 * Each `LossFn` also receives `z`'s values, so losses that need an ordering of the classes (DLR) can
 * build constant selection masks without differentiating through a sort. Tensors passed to the
 * factories (one-hot labels, anchor probabilities) stay owned by the caller.
 */
import { tf, type Tensor1D, type Tensor2D } from '../engine/index.js';

export type LossFn = (z: Tensor2D, zValues: Float32Array) => Tensor1D;

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

/** Builds `[n, C]` selection masks (rows of weights) from per-row class → weight lists. */
function weightRows(n: number, numClasses: number, fill: (i: number, row: Float32Array) => void): Tensor2D {
  const values = new Float32Array(n * numClasses);
  for (let i = 0; i < n; i++) fill(i, values.subarray(i * numClasses, (i + 1) * numClasses));
  return tf.tensor2d(values, [n, numClasses]);
}

/**
 * Difference of Logits Ratio (Croce & Hein 2020, eq. 6):
 * `−(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12)`, π the classes by decreasing logit. Needs ≥ 3 classes.
 */
export function dlr(labels: Int32Array, numClasses: number): LossFn {
  return (z, zValues) => {
    const top = topClasses(zValues, numClasses, 3);
    // numerator weights: +1 on y, −1 on the best other class
    const num = weightRows(labels.length, numClasses, (i, row) => {
      row[labels[i]] += 1;
      row[top[i][0] === labels[i] ? top[i][1] : top[i][0]] -= 1;
    });
    const den = weightRows(labels.length, numClasses, (i, row) => {
      row[top[i][0]] += 1;
      row[top[i][2]] -= 1;
    });
    return tf.neg(tf.div(tf.sum(tf.mul(z, num), 1), tf.add(tf.sum(tf.mul(z, den), 1), 1e-12))) as Tensor1D;
  };
}

/**
 * Targeted DLR (Croce & Hein 2020, eq. 7): `−(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)`.
 * Needs ≥ 4 classes.
 */
export function dlrTargeted(labels: Int32Array, targets: Int32Array, numClasses: number): LossFn {
  return (z, zValues) => {
    const top = topClasses(zValues, numClasses, 4);
    const num = weightRows(labels.length, numClasses, (i, row) => {
      row[labels[i]] += 1;
      row[targets[i]] -= 1;
    });
    const den = weightRows(labels.length, numClasses, (i, row) => {
      row[top[i][0]] += 1;
      row[top[i][2]] -= 0.5;
      row[top[i][3]] -= 0.5;
    });
    return tf.neg(tf.div(tf.sum(tf.mul(z, num), 1), tf.add(tf.sum(tf.mul(z, den), 1), 1e-12))) as Tensor1D;
  };
}
