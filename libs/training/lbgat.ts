/**
 * LBGAT (Cui et al., arXiv:2011.11164, "Learnable Boundary Guided Adversarial Training"):
 * CE(z_g(x), y) + MSE(z_t(x'), z_g(x)) + β·KL(p_t(x) ‖ p_t(x')), β = 0 by default (6 is the
 * paper's TRADES-style variant). The guidance model is co-trained with the target by one optimizer.
 * Inner max: TRADES' KL-PGD on the target (anchored on its own clean prediction), α = ε·0.007/0.031.
 */
import { klPgdExamples } from './inner-max.js';
import { lbgatLoss } from './losses.js';
import type { TrainingMethod } from './method.js';
import { KL_ALPHA_RATIO } from './trades.js';

export const lbgat: TrainingMethod = {
  name: 'lbgat',
  summary: 'LBGAT: CE(z_g(x), y) + MSE(z_t(x\'), z_g(x)) + β·KL(p_t(x) ‖ p_t(x\')), β = 0, guidance co-trained',
  usesGuidance: true,
  weight: { name: 'beta', default: 0 },
  defaultAlpha: (eps) => eps * KL_ALPHA_RATIO,
  perturb: async ({ target }, x, _labels, s) => klPgdExamples(target, x, s),
  // The reference runs T(x') and T(x) and then G(x) in train mode, T(x) even with β = 0 (it is only
  // in the β term, but the pass updates BatchNorm's running statistics with the clean batch).
  forwards: () => [
    { model: 'target', input: 'xAdv' },
    { model: 'target', input: 'x' },
    { model: 'guidance', input: 'x' },
  ],
  lossFromLogits: ([zAdv, zClean, zg], yOneHot, { beta }) => lbgatLoss(zg, zAdv, zClean, yOneHot, beta),
};
