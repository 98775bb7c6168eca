/**
 * CW∞ — PGD on the Carlini–Wagner margin loss (the protocol's "CW∞-20").
 *
 * Papers: Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", arXiv:1608.04644
 * (the margin loss max_{j≠y} z_j − z_y); optimised with PGD as in Madry et al., arXiv:1706.06083.
 * Threat model: white-box, L∞ (or L2), ε-ball around x, inputs in the bounds. This is the
 * fixed-budget PGD variant used in robustness evaluations, not the original L2 minimum-norm CW attack.
 *
 * Example: `createCw().run(model, x, y, { eps: 8 / 255 })` — 20 steps of α = ε/4, uniform start.
 */
import { defineAttack } from './attack.js';
import { checkKnownKeys } from './options.js';
import { pgdSteps, resolvePgdOptions, type PgdOptions } from './pgd.js';
import type { Attack } from './types.js';

/** As `PgdOptions`, except the loss is always the CW margin. */
export type CwOptions = Omit<PgdOptions, 'loss'>;

export function createCw(options: CwOptions = {}): Attack {
  checkKnownKeys('cw', options, ['steps', 'alpha', 'randomStart', 'restarts', 'earlyStop']);
  const resolved = resolvePgdOptions('cw', { ...options, loss: 'cw' }, { steps: 20, loss: 'cw' });
  return defineAttack(pgdSteps('cw', resolved));
}
