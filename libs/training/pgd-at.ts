/**
 * PGD-AT (Madry et al., arXiv:1706.06083): CE on PGD examples. Inner max: PGD-K on the
 * cross-entropy, uniform random start, α = ε/4 by default (2/255 at ε = 8/255, the doc's setting;
 * 0.075 at MNIST's ε = 0.3).
 */
import { cePgdExamples } from './inner-max.js';
import { crossEntropy } from './losses.js';
import type { TrainingMethod } from './method.js';

export const pgdAt: TrainingMethod = {
  name: 'pgd-at',
  summary: 'PGD adversarial training: CE(z(x\'), y), x\' from PGD-10 on CE (uniform start, α = ε/4)',
  usesGuidance: false,
  weight: undefined,
  defaultAlpha: (eps) => eps / 4,
  perturb: ({ target }, x, labels, s) => cePgdExamples(target, x, labels, s, 'uniform'),
  forwards: () => [{ model: 'target', input: 'xAdv' }],
  lossFromLogits: ([zAdv], yOneHot) => crossEntropy(zAdv, yOneHot),
};
