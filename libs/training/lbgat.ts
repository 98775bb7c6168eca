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
  // T(x) is needed only for the β term.
  forwards: ({ beta }) => [
    { model: 'guidance', input: 'x' },
    { model: 'target', input: 'xAdv' },
    ...(beta === 0 ? [] : [{ model: 'target', input: 'x' } as const]),
  ],
  lossFromLogits: ([zg, zAdv, zClean], yOneHot, { beta }) => lbgatLoss(zg, zAdv, zClean, yOneHot, beta),
};
