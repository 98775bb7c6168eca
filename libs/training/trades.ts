/**
 * TRADES (Zhang et al., arXiv:1901.08573): CE(z(x), y) + β·KL(p(x) ‖ p(x')), β = 6. Inner max: KL-PGD
 * from x + 0.001·N(0, I), anchored on the model's own clean prediction (CAG with the target as its own
 * guidance). α defaults to ε·0.007/0.031 (TRADES' 0.007 at ε = 0.031).
 */
import { TrainingError } from './errors.js';
import { klPgdExamples } from './inner-max.js';
import { tradesLoss } from './losses.js';
import { logitsOf, type TrainingMethod } from './method.js';

/** α/ε of the TRADES and CAG reference settings (0.007 at ε = 0.031). */
export const KL_ALPHA_RATIO = 0.007 / 0.031;

export const trades: TrainingMethod = {
  name: 'trades',
  summary: 'TRADES: CE(z(x), y) + β·KL(p(x) ‖ p(x\')), β = 6, x\' from KL-PGD on the model\'s own prediction',
  usesGuidance: false,
  weight: { name: 'beta', default: 6 },
  defaultAlpha: (eps) => eps * KL_ALPHA_RATIO,
  perturb: async ({ target }, x, _labels, s) => klPgdExamples(target, x, s),
  loss({ target }, { x, xAdv, yOneHot }, { beta }) {
    if (!xAdv) throw new TrainingError('invalid-argument', 'trades needs adversarial examples');
    return tradesLoss(logitsOf(target, x, true), logitsOf(target, xAdv, true), yOneHot, beta);
  },
};
