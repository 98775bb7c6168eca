/**
 * The inner maximisations the methods use, all L∞ sign-gradient iterations from the attacks library
 * (`libs/attacks`), with the models wrapped in inference mode (`fromLayersModel`: BatchNorm running
 * statistics, never updated; dropout off):
 *
 * - `cagExamples` — CAG (D2R): start x + 0.001·N(0, I), ascend KL(p_g(x) ‖ p_t(x')) (`generateCag`).
 * - `klPgdExamples` — TRADES' KL-PGD: the same iteration anchored on the model's own clean prediction
 *   (TRADES, LBGAT).
 * - `cePgdExamples` — PGD on the cross-entropy: uniform start in the ε-ball (Madry et al.; PGD-AT) or
 *   x + 0.001·N(0, I) (MART's reference code).
 *
 * Each returns a new `[n, h, w, c]` tensor inside the ε-ball and [0, 1], owned by the caller, and
 * reads nothing back from the device (no CPU round trip inside a training step).
 */
import type { Tensor4D, tfl } from '../engine/index.js';
import { fromLayersModel, generateCag, generatePgd } from '../attacks/index.js';
import type { InnerMaxSettings } from './method.js';

export function cagExamples(target: tfl.LayersModel, guidance: tfl.LayersModel, x: Tensor4D, s: InnerMaxSettings): Tensor4D {
  return generateCag(fromLayersModel(target), fromLayersModel(guidance), x, { eps: s.eps, alpha: s.alpha, steps: s.steps, seed: s.seed });
}

export function klPgdExamples(model: tfl.LayersModel, x: Tensor4D, s: InnerMaxSettings): Tensor4D {
  const m = fromLayersModel(model);
  return generateCag(m, m, x, { eps: s.eps, alpha: s.alpha, steps: s.steps, seed: s.seed });
}

export async function cePgdExamples(
  model: tfl.LayersModel,
  x: Tensor4D,
  labels: Int32Array,
  s: InnerMaxSettings,
  start: 'uniform' | 'normal',
): Promise<Tensor4D> {
  // The same iterate as createPgd(...).run's raw for the seed, without the attack wrapper's checks
  // and criterion, so that nothing is read back inside the training step.
  return generatePgd(fromLayersModel(model), x, labels, { eps: s.eps, alpha: s.alpha, steps: s.steps, seed: s.seed, start });
}
