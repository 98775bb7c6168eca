/**
 * D2R + CAG, exactly as ARCHITECTURE.md ("The algorithm") states the authors' released code:
 *
 * - Inner max (CAG), both models in inference mode: x' ← x + 0.001·N(0, I), then K = 10 times
 *   x' ← clip_[0,1](clip_[x−ε, x+ε](x' + α·sign(∇ Σ KL(p_g(x) ‖ p_t(x'))))), ε = 0.031, α = 0.007.
 * - Outer min, both models in train mode, one optimizer over both models' parameters:
 *   L = CE(z_g(x), y) + MSE(z_t(x'), z_g(x)) + 20·|KL̄(p_g(x) ‖ p_t(x)) − KL̄(p_t(x) ‖ p_g(x))| + 30·KL̄(p_t(x') ‖ p_g(x))
 *   (KL̄(P ‖ Q) weighted by P; see `d2rTerms`). The guidance model is trained from scratch with the target.
 *
 * Train-mode forward passes in the authors' order: T(x'), T(x), G(x) — each updates the BatchNorm
 * moving statistics once (T's twice per step, as the two separate calls in the reference code do),
 * so the order decides what the running statistics average.
 */
import { TrainingError } from './errors.js';
import { cagExamples } from './inner-max.js';
import { d2rLoss } from './losses.js';
import type { TrainingMethod } from './method.js';
import { KL_ALPHA_RATIO } from './trades.js';

export const d2r: TrainingMethod = {
  name: 'd2r',
  summary: 'D2R + CAG (the paper): co-trained guidance, CE + MSE + 20·|ΔKL| + 30·KL on CAG examples',
  usesGuidance: true,
  weight: undefined,
  defaultAlpha: (eps) => eps * KL_ALPHA_RATIO,
  perturb: async ({ target, guidance }, x, _labels, s) => {
    if (!guidance) throw new TrainingError('invalid-argument', 'd2r needs a guidance model', { field: 'guidance' });
    return cagExamples(target, guidance, x, s);
  },
  forwards: () => [
    { model: 'target', input: 'xAdv' },
    { model: 'target', input: 'x' },
    { model: 'guidance', input: 'x' },
  ],
  lossFromLogits: ([targetAdv, targetClean, guidanceClean], yOneHot) => d2rLoss({ guidanceClean, targetClean, targetAdv, yOneHot }),
};
