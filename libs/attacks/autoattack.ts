/**
 * AutoAttack (standard) — an ensemble of parameter-free attacks run in sequence, each on the
 * samples still robust, reported as the per-sample worst case.
 *
 * Paper: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of diverse
 * parameter-free attacks", arXiv:2003.01690, following `autoattack.py`'s `run_standard_evaluation`.
 * Threat model: white-box (plus one score-based black-box stage), untargeted, L∞ or L2 ε-ball,
 * inputs in the bounds.
 *
 * Standard version: APGD-CE (100 iterations, 1 restart) → APGD-T (9 target classes) → FAB-T
 * (9 target classes) → Square (5,000 queries), in L∞ or L2. The `custom` version runs the listed
 * stages; giving `attacks` with the standard version is an error (presets and custom lists do not
 * mix). Robust accuracy after each stage (from `clean` on) comes back in `EpsilonResult.stages`.
 *
 * Checks (CHECKS.md): `randomized-model` (two clean passes differ), `black-box-stronger` (Square
 * lowers robust accuracy after the white-box stages), plus every stage's own checks.
 *
 * Example: `createAutoAttack().run(model, x, y, { eps: 0.3 })`.
 */
import type { Tensor4D } from '../engine/index.js';
import { tf } from '../engine/index.js';
import { apgdCeSteps } from './apgd-ce.js';
import { apgdTSteps } from './apgd-t.js';
import { attackRows, defineAttack, type AttackSteps, type StepContext } from './attack.js';
import { checkBlackBoxStronger, checkRandomized, type CheckWarning } from './checks.js';
import { AttackError } from './errors.js';
import { fabTSteps } from './fab-t.js';
import { logitsValues } from './model.js';
import { checkKnownKeys, oneOf, positiveInt } from './options.js';
import { rowsWhere } from './rows.js';
import { squareSteps } from './square.js';
import type { Attack, StageResult } from './types.js';

export const AUTOATTACK_STAGES = ['apgd-ce', 'apgd-t', 'fab-t', 'square'] as const;
export type AutoAttackStage = (typeof AUTOATTACK_STAGES)[number];

/** The standard version's stages, in order. */
export const STANDARD_STAGES: readonly AutoAttackStage[] = AUTOATTACK_STAGES;

export interface AutoAttackOptions {
  /** `standard`: the four stages above; `custom`: the stages in `attacks`. @default 'standard' */
  version?: 'standard' | 'custom';
  /** Custom version only: the stages to run, in order. */
  attacks?: readonly AutoAttackStage[];
  /** Iterations of the gradient stages (APGD-CE, APGD-T, FAB-T). @default 100 */
  steps?: number;
  /** Square's query budget. @default 5000 */
  queries?: number;
  /** Target classes of APGD-T and FAB-T. @default 9 */
  targets?: number;
}

interface Budget {
  steps: number;
  queries: number;
  targets: number;
}

const STAGE_BUILDERS: { readonly [K in AutoAttackStage]: (b: Budget) => AttackSteps } = {
  'apgd-ce': (b) => apgdCeSteps({ steps: b.steps, restarts: 1 }),
  'apgd-t': (b) => apgdTSteps({ steps: b.steps, restarts: 1, targets: b.targets }),
  'fab-t': (b) => fabTSteps({ steps: b.steps, restarts: 1, targets: b.targets }),
  // AutoAttack runs Square with resc_schedule=False: p halves at fixed query counts.
  square: (b) => squareSteps({ queries: b.queries, restarts: 1, rescaleSchedule: false }),
};

function resolveStages(options: AutoAttackOptions): AutoAttackStage[] {
  const version = oneOf('autoattack', 'version', options.version, ['standard', 'custom'] as const, 'standard');
  if (version === 'standard') {
    if (options.attacks !== undefined) {
      throw new AttackError('invalid-argument', 'autoattack: `attacks` is for version "custom"; the standard version has fixed stages', {
        field: 'attacks',
      });
    }
    return [...STANDARD_STAGES];
  }
  const list = options.attacks;
  if (!Array.isArray(list) || list.length === 0) {
    throw new AttackError('invalid-argument', 'autoattack: version "custom" needs a non-empty `attacks` list', { field: 'attacks' });
  }
  for (const a of list) {
    if (!(AUTOATTACK_STAGES as readonly string[]).includes(a)) {
      throw new AttackError('invalid-argument', `autoattack: unknown stage "${a}"; expected ${AUTOATTACK_STAGES.join(', ')}`, { field: 'attacks' });
    }
  }
  return [...list];
}

/** AutoAttack's step logic. */
export function autoAttackSteps(options: AutoAttackOptions = {}): AttackSteps {
  checkKnownKeys('autoattack', options, ['version', 'attacks', 'steps', 'queries', 'targets']);
  const names = resolveStages(options);
  const budget: Budget = {
    steps: positiveInt('autoattack', 'steps', options.steps, 100),
    queries: positiveInt('autoattack', 'queries', options.queries, 5000),
    targets: positiveInt('autoattack', 'targets', options.targets, 9),
  };
  const stages = names.map((name) => STAGE_BUILDERS[name](budget));
  return {
    name: 'autoattack',
    norms: ['Linf', 'L2'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      ctx.warn(checkRandomized(ctx.cleanLogits, await logitsValues(ctx.model, ctx.x), ctx.model.numClasses, ctx.attack));
      const robust = ctx.isAdversarial(ctx.cleanLogits).map((a) => 1 - a);
      ctx.recordStage('clean', robust);
      const d = ctx.x.size / ctx.n;
      const out = Float32Array.from((await ctx.x.data()) as Float32Array);
      for (const stage of stages) {
        if (!stage.norms.includes(ctx.norm)) continue;
        const rows = rowsWhere(robust, 1);
        if (rows.length > 0) {
          const { clipped, success } = await attackRows(stage, ctx, rows);
          rows.forEach((row, j) => {
            if (!success[j]) return;
            robust[row] = 0;
            out.set(clipped.subarray(j * d, (j + 1) * d), row * d);
          });
        }
        ctx.recordStage(stage.name, robust);
      }
      return ctx.own(tf.tensor4d(out, ctx.x.shape));
    },
    checkStages(stages: readonly StageResult[]): CheckWarning[] {
      const i = stages.findIndex((s) => s.name === 'square');
      if (i < 2) return [];
      const w = checkBlackBoxStronger(stages[i - 1].robustAccuracy, stages[i].robustAccuracy, 'autoattack');
      return w ? [w] : [];
    },
  };
}

export function createAutoAttack(options: AutoAttackOptions = {}): Attack {
  return defineAttack(autoAttackSteps(options));
}
