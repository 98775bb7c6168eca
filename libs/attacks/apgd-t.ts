/**
 * APGD-T — Auto-PGD on the targeted DLR loss, AutoAttack's second stage.
 *
 * Paper: Croce & Hein, arXiv:2003.01690 (Sec. 4, targeted DLR loss
 * −(z_y − z_t) / (z_π1 − (z_π3 + z_π4)/2)). Threat model: white-box, L∞ or L2 ε-ball, inputs in the
 * bounds; success is untargeted misclassification. For each of the `targets` most likely wrong
 * classes of the clean prediction (2nd, 3rd, … highest logit), one APGD run per restart on the
 * samples still robust. Needs at least 4 classes.
 *
 * Example: `createApgdT().run(model, x, y, { eps: 8 / 255 })` — 9 target classes × 100 iterations.
 */
import type { Tensor4D } from '../engine/index.js';
import { apgdSingleRun, resolveApgd, type ApgdOptions } from './apgd-core.js';
import { defineAttack, type AttackSteps, type StepContext } from './attack.js';
import { checkTargetCount } from './checks.js';
import { AttackError } from './errors.js';
import { dlrTargeted, topClasses } from './losses.js';
import { positiveInt } from './options.js';
import { replaceRows, rowsWhere } from './rows.js';
import type { Attack } from './types.js';

export interface ApgdTOptions extends ApgdOptions {
  /** Target classes tried, by decreasing clean logit after the top one. @default 9 */
  targets?: number;
}

/** Random-stream number of (target class rank, restart). */
const stream = (rank: number, restart: number) => rank * 1000 + restart;

/** APGD-T's step logic (for composition, e.g. AutoAttack). */
export function apgdTSteps(options: ApgdTOptions = {}): AttackSteps {
  const o = resolveApgd('apgd-t', options, ['targets']);
  const targets = positiveInt('apgd-t', 'targets', options.targets, 9);
  return {
    name: 'apgd-t',
    norms: ['Linf', 'L2'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const C = ctx.model.numClasses;
      if (C < 4) throw new AttackError('unsupported', `apgd-t's targeted DLR loss needs at least 4 classes; the model has ${C}`, { field: 'model' });
      ctx.warn(checkTargetCount(targets, C, ctx.attack));
      const used = Math.min(targets, C - 1);
      const robust = ctx.isAdversarial(ctx.cleanLogits).map((a) => 1 - a);
      let out = ctx.own(ctx.x.clone());
      for (let rank = 2; rank <= used + 1; rank++) {
        for (let r = 0; r < o.restarts; r++) {
          const rows = rowsWhere(robust, 1);
          if (rows.length === 0) break;
          const sub = ctx.subset(rows);
          try {
            const yTarget = Int32Array.from(topClasses(sub.cleanLogits, C, rank), (top) => top[rank - 1]);
            const lossFn = dlrTargeted(sub.labels, yTarget, C);
            const run = await apgdSingleRun(sub, lossFn, o, stream(rank, r), rank === 2 && r === 0);
            out = ctx.swap(out, replaceRows(out, rows, run.adv, run.fooled));
            run.adv.dispose();
            rows.forEach((row, j) => {
              if (run.fooled[j]) robust[row] = 0;
            });
          } finally {
            sub.release();
          }
        }
      }
      return out;
    },
  };
}

export function createApgdT(options: ApgdTOptions = {}): Attack {
  return defineAttack(apgdTSteps(options));
}
