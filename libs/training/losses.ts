/**
 * The outer-minimisation losses of every method, as functions of logits (no models), so each can be
 * checked against hand arithmetic and against the reference values PyTorch computed from each
 * method's released code (`../shared/fixtures/losses-reference.json`, reproduced by
 * `losses-reference.spec.ts`). All return scalars averaged over the batch; none detaches anything:
 * gradients flow through both arguments of every KL term (as in the reference codes).
 *
 * KL convention (ARCHITECTURE.md, "The algorithm"): KL(P ‖ Q) is weighted by its first argument, P,
 * always. Two forms, each as its reference code computes it:
 * - D2R (the authors' code): element-wise `P · (log(P + 1e-5) − log_softmax(z_Q))`, averaged over
 *   batch × classes: `klBar(p_P, z_Q)`, the doc's `KL̄(P ‖ Q)`.
 * - TRADES, MART, LBGAT (torch's `KLDivLoss(log_softmax(z_Q), softmax(z_P))`, no smoothing): summed
 *   over classes, averaged over the batch: `klBatchMean(z_P, z_Q)`.
 */
import { tf, type Tensor2D } from '../engine/index.js';
import { elementwiseKl } from '../attacks/index.js';

type Scalar = ReturnType<typeof tf.scalar>;

/** `KL̄(P ‖ Q)`: mean over batch × classes of `P · (log(P + 1e-5) − log_softmax(z_Q))` (the authors' D2R KL). */
export function klBar(probsP: Tensor2D, logitsQ: Tensor2D): Scalar {
  return tf.tidy(() => tf.mean(elementwiseKl(probsP, logitsQ)) as Scalar);
}

/** Per-sample KL(softmax(z_P) ‖ softmax(z_Q)) from logits, unsmoothed: `Σ_c p_P · (log_softmax(z_P) − log_softmax(z_Q))`. */
export function klRows(logitsP: Tensor2D, logitsQ: Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(tf.softmax(logitsP), tf.sub(tf.logSoftmax(logitsP), tf.logSoftmax(logitsQ))), 1) as tf.Tensor1D);
}

/**
 * Batch-mean KL(softmax(z_P) ‖ softmax(z_Q)), summed over classes: TRADES' and LBGAT's
 * `(1/n) · KLDivLoss(sum)(log_softmax(z_Q), softmax(z_P))`.
 */
export function klBatchMean(logitsP: Tensor2D, logitsQ: Tensor2D): Scalar {
  return tf.tidy(() => tf.div(tf.sum(klRows(logitsP, logitsQ)), logitsP.shape[0]) as Scalar);
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
  /** 20 · |KL̄(p_g(x) ‖ p_t(x)) − KL̄(p_t(x) ‖ p_g(x))|. */
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
 * D2R, exactly as ARCHITECTURE.md states the authors' code:
 *
 *   L = CE(z_g(x), y) + MSE(z_t(x'), z_g(x))
 *       + 20 · | KL̄(p_g(x) ‖ p_t(x)) − KL̄(p_t(x) ‖ p_g(x)) | + 30 · KL̄(p_t(x') ‖ p_g(x))
 *
 * with `KL̄(P ‖ Q) = klBar(p_P, z_Q)`. The last term is weighted by the target's adversarial
 * probabilities: `p_t(x') · (log(p_t(x') + 1e-5) − log_softmax(z_g(x)))` (the authors' `kl_Loss5`;
 * its mirror, their `kl_Loss3`, is computed there but never added). The target is trained only
 * through the last three terms; the guidance model through all four.
 */
export function d2rTerms({ guidanceClean, targetClean, targetAdv, yOneHot }: D2rLogits): D2rTerms {
  return tf.tidy(() => {
    const pg = tf.softmax(guidanceClean) as Tensor2D;
    const pt = tf.softmax(targetClean) as Tensor2D;
    const ptAdv = tf.softmax(targetAdv) as Tensor2D;
    const ce = crossEntropy(guidanceClean, yOneHot);
    const mse = meanSquaredError(targetAdv, guidanceClean);
    const symmetry = tf.mul(D2R_WEIGHTS.symmetry, tf.abs(tf.sub(klBar(pg, targetClean), klBar(pt, guidanceClean)))) as Scalar;
    const adversarial = tf.mul(D2R_WEIGHTS.adversarial, klBar(ptAdv, guidanceClean)) as Scalar;
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
 * classes and averaged over the batch, i.e. `klBatchMean(z(x), z(x'))`.
 */
export function tradesLoss(clean: Tensor2D, adv: Tensor2D, yOneHot: Tensor2D, beta: number): Scalar {
  return tf.tidy(() => tf.add(crossEntropy(clean, yOneHot), tf.mul(beta, klBatchMean(clean, adv))) as Scalar);
}

/**
 * MART (Wang et al., ICLR 2020), as its reference code computes it:
 *
 *   BCE = CE(z(x'), y) + mean(−log(1.0001 − p'_ŷ + 1e-12)),  ŷ = argmax_{j≠y} p'_j,  p' = softmax(z(x'))
 *   L   = BCE + λ · mean_i[ KL(p(x_i) ‖ p'_i) · (1.0000001 − p_y(x_i)) ]
 *
 * with MART's KL, `KLDivLoss(log(p' + 1e-12), p)` summed over classes.
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
    const kl = tf.sum(tf.mul(pClean, tf.sub(tf.logSoftmax(clean), tf.log(tf.add(pAdv, 1e-12)))), 1);
    const robust = tf.mean(tf.mul(kl, tf.sub(1.0000001, pTrue)));
    return tf.add(bce, tf.mul(lambda, robust)) as Scalar;
  });
}

/**
 * LBGAT (Cui et al., arXiv:2011.11164): `CE(z_g(x), y) + MSE(z_t(x'), z_g(x)) + β · KL(p_t(x) ‖ p_t(x'))`,
 * the KL batch-mean as in TRADES (`klBatchMean(z_t(x), z_t(x'))`). The β term is always in the graph,
 * as in the reference (`beta * loss_robust`): with β = 0 it adds exactly 0 and a zero gradient for the
 * clean logits, whose train-mode pass the reference still runs (it updates BatchNorm).
 */
export function lbgatLoss(guidanceClean: Tensor2D, targetAdv: Tensor2D, targetClean: Tensor2D, yOneHot: Tensor2D, beta: number): Scalar {
  return tf.tidy(() => {
    const base = tf.add(crossEntropy(guidanceClean, yOneHot), meanSquaredError(targetAdv, guidanceClean)) as Scalar;
    return tf.add(base, tf.mul(beta, klBatchMean(targetClean, targetAdv))) as Scalar;
  });
}
