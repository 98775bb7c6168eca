/** Standard (clean) training: CE(z_t(x), y). No inner maximisation. */
import { crossEntropy } from './losses.js';
import { logitsOf, type TrainingMethod } from './method.js';

export const standard: TrainingMethod = {
  name: 'standard',
  summary: 'clean training: CE(z(x), y)',
  usesGuidance: false,
  weight: undefined,
  defaultAlpha: (eps) => eps / 4,
  perturb: async () => undefined,
  loss: ({ target }, { x, yOneHot }) => crossEntropy(logitsOf(target, x, true), yOneHot),
};
