/** Standard (clean) training: CE(z_t(x), y). No inner maximisation. */
import { crossEntropy } from './losses.js';
import type { TrainingMethod } from './method.js';

export const standard: TrainingMethod = {
  name: 'standard',
  summary: 'clean training: CE(z(x), y)',
  usesGuidance: false,
  weight: undefined,
  defaultAlpha: (eps) => eps / 4,
  perturb: async () => undefined,
  forwards: () => [{ model: 'target', input: 'x' }],
  lossFromLogits: ([z], yOneHot) => crossEntropy(z, yOneHot),
};
