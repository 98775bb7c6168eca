/**
 * APGD-CE — Auto-PGD on the cross-entropy loss, AutoAttack's first stage.
 *
 * Paper: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", arXiv:2003.01690 (Algorithm 1; the step-size schedule and checkpoints are
 * in `apgd-core.ts`). Threat model: white-box, untargeted, L∞ or L2 ε-ball, inputs in the bounds.
 * Only samples classified correctly are attacked; each restart runs on the samples still robust.
 *
 * Example: `createApgdCe().run(model, x, y, { eps: 8 / 255 })` — 100 iterations, 1 restart.
 */
import type { Tensor4D } from '../engine/index.js';
import { apgdSingleRun, resolveApgd, type ApgdOptions } from './apgd-core.js';
import { defineAttack, type AttackSteps, type StepContext } from './attack.js';
import { crossEntropy, oneHotRows } from './losses.js';
import { replaceRows, rowsWhere } from './rows.js';
import type { Attack } from './types.js';

export type ApgdCeOptions = ApgdOptions;

/** APGD-CE's step logic (for composition, e.g. AutoAttack). */
export function apgdCeSteps(options: ApgdCeOptions = {}): AttackSteps {
  const o = resolveApgd('apgd-ce', options);
  return {
    name: 'apgd-ce',
    norms: ['Linf', 'L2'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const robust = ctx.isAdversarial(ctx.cleanLogits).map((a) => 1 - a);
      let out = ctx.own(ctx.x.clone());
      for (let r = 0; r < o.restarts; r++) {
        const rows = rowsWhere(robust, 1);
        if (rows.length === 0) break;
        const sub = ctx.subset(rows);
        try {
          const lossFn = crossEntropy(sub.own(oneHotRows(sub.labels, ctx.model.numClasses)));
          const run = await apgdSingleRun(sub, lossFn, o, r, r === 0);
          out = ctx.swap(out, replaceRows(out, rows, run.adv));
          run.adv.dispose();
          rows.forEach((row, j) => {
            if (run.fooled[j]) robust[row] = 0;
          });
        } finally {
          sub.release();
        }
      }
      return out;
    },
  };
}

export function createApgdCe(options: ApgdCeOptions = {}): Attack {
  return defineAttack(apgdCeSteps(options));
}
