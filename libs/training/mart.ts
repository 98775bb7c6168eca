/**
 * MART (Wang et al., ICLR 2020, "Improving Adversarial Robustness Requires Revisiting Misclassified
 * Examples"): BCE(z(x'), y) + λ·KL(p(x) ‖ p(x'))·(1 − p_y(x)), λ = 6 (see `martLoss`). Inner max: PGD on
 * the cross-entropy from x + 0.001·N(0, I), as MART's reference code; α defaults to ε·0.007/0.031.
 */
import { cePgdExamples } from './inner-max.js';
import { martLoss } from './losses.js';
import type { TrainingMethod } from './method.js';
import { KL_ALPHA_RATIO } from './trades.js';

export const mart: TrainingMethod = {
  name: 'mart',
  summary: 'MART: BCE(z(x\'), y) + λ·KL(p(x) ‖ p(x\'))·(1 − p_y(x)), λ = 6, x\' from PGD on CE',
  usesGuidance: false,
  weight: { name: 'lambda', default: 6 },
  defaultAlpha: (eps) => eps * KL_ALPHA_RATIO,
  perturb: ({ target }, x, labels, s) => cePgdExamples(target, x, labels, s, 'normal'),
  forwards: () => [
    { model: 'target', input: 'x' },
    { model: 'target', input: 'xAdv' },
  ],
  lossFromLogits: ([clean, adv], yOneHot, { lambda }) => martLoss(clean, adv, yOneHot, lambda),
};
