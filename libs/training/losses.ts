/**
 * The outer-minimisation losses of every method, as functions of logits (no models), so each can be
 * checked against hand arithmetic. All return scalars averaged over the batch; none detaches
 * anything: gradients flow through both arguments of every KL term (as in the reference codes).
 *
 * KL convention (ARCHITECTURE.md, "The algorithm"): the element-wise
 * `kl(a ‖ b) = b · (log(b + 1e-5) − log_softmax(a))`, with `a` given as logits and `b` as
 * probabilities; summed over classes it is the usual KL(b ‖ softmax(a)). So the doc's
 * `KL̄(p_t(x') ‖ p_g(x))` is `klBar(z_t(x'), p_g(x))` = KL(p_g(x) ‖ p_t(x')) / C averaged over the
 * batch — exactly the quantity CAG maximises, which the outer step then minimises.
 */
import { tf, type Tensor2D } from '../engine/index.js';
import { elementwiseKl } from '../attacks/index.js';

type Scalar = ReturnType<typeof tf.scalar>;

/** `KL̄(a ‖ b)`: mean over batch × classes of `kl(a ‖ b)` (1/C of the batch-mean KL(b ‖ softmax(a))). */
export function klBar(logitsA: Tensor2D, probsB: Tensor2D): Scalar {
  return tf.tidy(() => tf.mean(elementwiseKl(logitsA, probsB)) as Scalar);
}

/** Batch-mean KL(b ‖ softmax(a)): `Σ_c kl(a ‖ b)` averaged over the batch (TRADES' `(1/n)·KLDivLoss(sum)`). */
export function klBatchMean(logitsA: Tensor2D, probsB: Tensor2D): Scalar {
  return tf.tidy(() => tf.div(tf.sum(elementwiseKl(logitsA, probsB)), logitsA.shape[0]) as Scalar);
}

/** Mean cross-entropy `logsumexp(z) − z_y` with one-hot labels `[n, C]`. */
export function crossEntropy(logits: Tensor2D, yOneHot: Tensor2D): Scalar {
  return tf.tidy(() => tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.sum(tf.mul(logits, yOneHot), 1))) as Scalar);
}

/** Mean squared error over all elements (PyTorch `MSELoss()`). */
export function meanSquaredError(a: Tensor2D, b: Tensor2D): Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(a, b)) as Scalar);
}

/** The D2R loss's terms (each already weighted) and their sum. */
export interface D2rTerms {
  /** CE(z_g(x), y). */
  ce: Scalar;
  /** MSE(z_t(x'), z_g(x)). */
  mse: Scalar;
  /** 20 · |KL̄(p_t(x) ‖ p_g(x)) − KL̄(p_g(x) ‖ p_t(x))|. */
  symmetry: Scalar;
  /** 30 · KL̄(p_t(x') ‖ p_g(x)). */
  adversarial: Scalar;
  /** The sum of the four. */
  total: Scalar;
}

/** The D2R weights of the symmetry and adversarial KL terms. */
export const D2R_WEIGHTS = { symmetry: 20, adversarial: 30 } as const;

export interface D2rLogits {
  /** z_g(x): guidance model, clean inputs, train mode. */
  guidanceClean: Tensor2D;
  /** z_t(x): target model, clean inputs, train mode. */
  targetClean: Tensor2D;
  /** z_t(x'): target model, CAG examples, train mode. */
  targetAdv: Tensor2D;
  /** One-hot labels `[n, C]`. */
  yOneHot: Tensor2D;
}

/**
 * D2R, exactly as ARCHITECTURE.md states it:
 *
 *   L = CE(z_g(x), y) + MSE(z_t(x'), z_g(x))
 *       + 20 · | KL̄(p_t(x) ‖ p_g(x)) − KL̄(p_g(x) ‖ p_t(x)) | + 30 · KL̄(p_t(x') ‖ p_g(x))
 *
 * with `KL̄(p_a ‖ p_b) = klBar(z_a, softmax(z_b))`. The target is trained only through the last three
 * terms; the guidance model through all four.
 */
export function d2rTerms({ guidanceClean, targetClean, targetAdv, yOneHot }: D2rLogits): D2rTerms {
  return tf.tidy(() => {
    const pg = tf.softmax(guidanceClean) as Tensor2D;
    const pt = tf.softmax(targetClean) as Tensor2D;
    const ce = crossEntropy(guidanceClean, yOneHot);
    const mse = meanSquaredError(targetAdv, guidanceClean);
    const symmetry = tf.mul(D2R_WEIGHTS.symmetry, tf.abs(tf.sub(klBar(targetClean, pg), klBar(guidanceClean, pt)))) as Scalar;
    const adversarial = tf.mul(D2R_WEIGHTS.adversarial, klBar(targetAdv, pg)) as Scalar;
    const total = tf.addN([ce, mse, symmetry, adversarial]) as Scalar;
    return { ce, mse, symmetry, adversarial, total };
  });
}

/** The D2R loss (the `total` of {@link d2rTerms}). */
export function d2rLoss(logits: D2rLogits): Scalar {
  return tf.tidy(() => d2rTerms(logits).total);
}

/**
 * TRADES (Zhang et al., arXiv:1901.08573): `CE(z(x), y) + β · KL(p(x) ‖ p(x'))`, the KL summed over
 * classes and averaged over the batch, i.e. `klBatchMean(z(x'), p(x))`.
 */
export function tradesLoss(clean: Tensor2D, adv: Tensor2D, yOneHot: Tensor2D, beta: number): Scalar {
  return tf.tidy(() => tf.add(crossEntropy(clean, yOneHot), tf.mul(beta, klBatchMean(adv, tf.softmax(clean) as Tensor2D))) as Scalar);
}

/**
 * MART (Wang et al., ICLR 2020), as its reference code computes it:
 *
 *   BCE = CE(z(x'), y) + mean(−log(1.0001 − p'_ŷ + 1e-12)),  ŷ = argmax_{j≠y} p'_j,  p' = softmax(z(x'))
 *   L   = BCE + λ · mean_i[ KL(p(x_i) ‖ p'_i) · (1.0000001 − p_y(x_i)) ]
 *
 * The KL is the project's element-wise one summed over classes (MART's code uses
 * `KLDivLoss(log(p' + 1e-12), p)`; the smoothing constants differ by < 1e-5 per class).
 */
export function martLoss(clean: Tensor2D, adv: Tensor2D, yOneHot: Tensor2D, lambda: number): Scalar {
  return tf.tidy(() => {
    const pAdv = tf.softmax(adv) as Tensor2D;
    const isTrue = tf.cast(yOneHot, 'bool');
    // ŷ: the most likely wrong class under x' (a constant selection, as argsort is in MART's code).
    const wrong = tf.argMax(tf.where(isTrue, tf.fill(pAdv.shape, -Infinity), pAdv), 1);
    const wrongOneHot = tf.oneHot(wrong, pAdv.shape[1]);
    const pWrong = tf.sum(tf.mul(pAdv, wrongOneHot), 1);
    const bce = tf.add(crossEntropy(adv, yOneHot), tf.mean(tf.neg(tf.log(tf.add(tf.sub(1.0001, pWrong), 1e-12)))));
    const pClean = tf.softmax(clean) as Tensor2D;
    const pTrue = tf.sum(tf.mul(pClean, yOneHot), 1);
    const kl = tf.sum(elementwiseKl(adv, pClean), 1);
    const robust = tf.mean(tf.mul(kl, tf.sub(1.0000001, pTrue)));
    return tf.add(bce, tf.mul(lambda, robust)) as Scalar;
  });
}

/**
 * LBGAT (Cui et al., arXiv:2011.11164): `CE(z_g(x), y) + MSE(z_t(x'), z_g(x)) + β · KL(p_t(x) ‖ p_t(x'))`,
 * the KL batch-mean as in TRADES. With β = 0 `targetClean` is not used (pass `undefined`).
 */
export function lbgatLoss(
  guidanceClean: Tensor2D,
  targetAdv: Tensor2D,
  targetClean: Tensor2D | undefined,
  yOneHot: Tensor2D,
  beta: number,
): Scalar {
  return tf.tidy(() => {
    const base = tf.add(crossEntropy(guidanceClean, yOneHot), meanSquaredError(targetAdv, guidanceClean)) as Scalar;
    if (beta === 0 || targetClean === undefined) return base;
    return tf.add(base, tf.mul(beta, klBatchMean(targetAdv, tf.softmax(targetClean) as Tensor2D))) as Scalar;
  });
}
