/**
 * MART (Wang et al., ICLR 2020, "Improving Adversarial Robustness Requires Revisiting Misclassified
 * Examples"): BCE(z(x'), y) + λ·KL(p(x) ‖ p(x'))·(1 − p_y(x)), λ = 6 (see `martLoss`). Inner max: PGD on
 * the cross-entropy from x + 0.001·N(0, I), as MART's reference code; α defaults to ε·0.007/0.031.
 */
import { TrainingError } from './errors.js';
import { cePgdExamples } from './inner-max.js';
import { martLoss } from './losses.js';
import { logitsOf, type TrainingMethod } from './method.js';
import { KL_ALPHA_RATIO } from './trades.js';

export const mart: TrainingMethod = {
  name: 'mart',
  summary: 'MART: BCE(z(x\'), y) + λ·KL(p(x) ‖ p(x\'))·(1 − p_y(x)), λ = 6, x\' from PGD on CE',
  usesGuidance: false,
  weight: { name: 'lambda', default: 6 },
  defaultAlpha: (eps) => eps * KL_ALPHA_RATIO,
  perturb: ({ target }, x, labels, s) => cePgdExamples(target, x, labels, s, 'normal'),
  loss({ target }, { x, xAdv, yOneHot }, { lambda }) {
    if (!xAdv) throw new TrainingError('invalid-argument', 'mart needs adversarial examples');
    return martLoss(logitsOf(target, x, true), logitsOf(target, xAdv, true), yOneHot, lambda);
  },
};
