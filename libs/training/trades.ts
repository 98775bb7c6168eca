/**
 * TRADES (Zhang et al., arXiv:1901.08573): CE(z(x), y) + β·KL(p(x) ‖ p(x')), β = 6. Inner max: KL-PGD
 * from x + 0.001·N(0, I), anchored on the model's own clean prediction (CAG with the target as its own
 * guidance). α defaults to ε·0.007/0.031 (TRADES' 0.007 at ε = 0.031).
 */
import { klPgdExamples } from './inner-max.js';
import { tradesLoss } from './losses.js';
import type { TrainingMethod } from './method.js';

/** α/ε of the TRADES and CAG reference settings (0.007 at ε = 0.031). */
export const KL_ALPHA_RATIO = 0.007 / 0.031;

export const trades: TrainingMethod = {
  name: 'trades',
  summary: 'TRADES: CE(z(x), y) + β·KL(p(x) ‖ p(x\')), β = 6, x\' from KL-PGD on the model\'s own prediction',
  usesGuidance: false,
  weight: { name: 'beta', default: 6 },
  defaultAlpha: (eps) => eps * KL_ALPHA_RATIO,
  perturb: async ({ target }, x, _labels, s) => klPgdExamples(target, x, s),
  forwards: () => [
    { model: 'target', input: 'x' },
    { model: 'target', input: 'xAdv' },
  ],
  lossFromLogits: ([clean, adv], yOneHot, { beta }) => tradesLoss(clean, adv, yOneHot, beta),
};
