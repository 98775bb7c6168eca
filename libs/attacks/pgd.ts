/**
 * PGD — Projected Gradient Descent (iterated FGSM with projection, random start and restarts).
 *
 * Paper: Madry, Makelov, Schmidt, Tsipras & Vladu, "Towards Deep Learning Models Resistant to
 * Adversarial Attacks", arXiv:1706.06083. Threat model: white-box, L∞ (sign steps) or L2
 * (normalised-gradient steps), each iterate projected onto the ε-ball and into the bounds.
 *
 * Losses: `ce` (cross-entropy; Madry et al.), `kl` (TRADES, Zhang et al. arXiv:1901.08573:
 * KL(p(x) ‖ p(x')) with the clean prediction held fixed, via the element-wise kl of ARCHITECTURE.md),
 * `cw` (Carlini & Wagner margin max_{j≠y} z_j − z_y, arXiv:1608.04644; "CW∞" in the protocol).
 * Restarts run only on the samples still robust; per sample the first success is kept, else the
 * highest final loss.
 *
 * `earlyStop` (evaluation, as the robust-training references' `attack_pgd` runs it): a sample stops
 * moving at the first iterate that meets the criterion, so it counts as broken when any iterate fooled
 * the model, not only the last. Off by default (training-time attacks run every step on every sample).
 *
 * Example: PGD-20 at ε = 8/255: `createPgd({ steps: 20 }).run(model, x, y, { eps: 8 / 255 })`
 * (α defaults to ε/4 = 2/255).
 */
import { tf, type Tensor1D, type Tensor4D } from '../engine/index.js';
import { defineAttack, nameTag, sampleStream, type StepContext } from './attack.js';
import { AttackError } from './errors.js';
import { ascendLinf, lossAndGradientTensors, lossTensors, takeValues } from './gradient.js';
import { crossEntropy, oneHotRows, type LossFn } from './losses.js';
import { ascentStep, clipToBounds, project } from './norms.js';
import { objective, PGD_LOSSES, type PgdLoss } from './objectives.js';
import { boolean, checkKnownKeys, oneOf, positiveInt, positiveNumber } from './options.js';
import { firstStepChecks, stepReadout } from './readback.js';
import { replaceRows, rowsWhere, sum } from './rows.js';
import { NORMAL_START_STD, startingPoint, type StartKind } from './start.js';
import type { Attack, AttackModel } from './types.js';

export interface PgdOptions {
  /** Gradient steps per restart. @default 20 */
  steps?: number;
  /** Step size in input units (absolute, for every ε). @default eps / 4 */
  alpha?: number;
  /**
   * Start point: `true` — uniform in the ε-ball (Madry et al.); `'normal'` — x + 0.001·N(0, I)
   * (TRADES); `false` — x itself. @default true
   */
  randomStart?: boolean | 'normal';
  /** Independent random starts; each after the first runs on the samples still robust. @default 1 */
  restarts?: number;
  /** Objective to maximise. @default 'ce' */
  loss?: PgdLoss;
  /**
   * Freeze each sample at the first iterate that meets the criterion (checked before every step and
   * after the last), so any fooling iterate counts. @default false
   */
  earlyStop?: boolean;
}

/** PGD options after validation. */
export interface ResolvedPgdOptions {
  readonly steps: number;
  readonly alpha: number | undefined;
  readonly start: StartKind;
  readonly restarts: number;
  readonly loss: PgdLoss;
  readonly earlyStop: boolean;
}

const KEYS = ['steps', 'alpha', 'randomStart', 'restarts', 'loss', 'earlyStop'];

export function resolvePgdOptions(name: string, options: PgdOptions, defaults: { steps: number; loss: PgdLoss }): ResolvedPgdOptions {
  checkKnownKeys(name, options, KEYS);
  const rs = options.randomStart;
  const start: StartKind = rs === 'normal' ? 'normal' : boolean(name, 'randomStart', rs, true) ? 'uniform' : 'none';
  const restarts = positiveInt(name, 'restarts', options.restarts, 1);
  if (restarts > 1 && start === 'none') {
    throw new AttackError('invalid-argument', `${name}: restarts > 1 need a random start (randomStart: false makes every restart identical)`, {
      field: 'restarts',
    });
  }
  return {
    steps: positiveInt(name, 'steps', options.steps, defaults.steps),
    alpha: positiveNumber(name, 'alpha', options.alpha, undefined),
    start,
    restarts,
    loss: oneOf(name, 'loss', options.loss, PGD_LOSSES, defaults.loss),
    earlyStop: boolean(name, 'earlyStop', options.earlyStop, false),
  };
}

interface RestartOutcome {
  xAdv: Tensor4D;
  success: Uint8Array;
  loss: Float32Array;
}

/**
 * One PGD run from a fresh start on every sample of `ctx`.
 *
 * Read-backs (`readback.ts`): none inside a step. Every `STEPS_PER_READBACK` steps one read of the
 * queued progress objectives (when the caller listens) and, with `earlyStop`, of "is every sample
 * frozen?" (to stop early); then one read after the last step (final logits and loss, and the
 * starting point's checks). The early-stop mask stays on the device. A custom criterion without
 * `adversarialMask` makes `earlyStop` read the logits every step instead (the criterion runs in JS).
 */
async function singleRun(ctx: StepContext, o: ResolvedPgdOptions, lossFn: LossFn, restart: number): Promise<RestartOutcome> {
  const alpha = o.alpha ?? ctx.eps / 4;
  let xAdv = ctx.own(startingPoint(ctx, o.start, restart));
  const readout = stepReadout(ctx, o.steps);
  const checks = firstStepChecks(ctx);
  // earlyStop: rows that met the criterion at some iterate stay there (true = frozen), on the device.
  let frozen = o.earlyStop ? ctx.own(tf.zeros([ctx.n], 'bool') as Tensor1D) : undefined;
  try {
    for (let step = 0; step < o.steps; step++) {
      const { grad, loss, logits } = lossAndGradientTensors(ctx.model, xAdv, lossFn);
      let stop = false;
      try {
        if (step === 0 && restart === 0) checks.record(grad, loss);
        readout.record(step, loss);
        if (frozen) {
          const fooled = ctx.adversarialMask(logits) ?? tf.tensor1d(ctx.isAdversarial(await takeValues(logits.clone())), 'bool');
          const was = frozen;
          frozen = ctx.swap(frozen, tf.tidy(() => tf.logicalOr(was, fooled) as Tensor1D));
          fooled.dispose();
        }
        if (readout.due(step)) {
          const [allFrozen] = await readout.flush(frozen ? [tf.all(frozen)] : []);
          stop = allFrozen !== undefined && allFrozen[0] === 1;
        }
      } finally {
        tf.dispose([logits, loss]);
      }
      if (stop) {
        grad.dispose();
        break;
      }
      const cur = xAdv;
      const mask = frozen;
      const next = tf.tidy(() => {
        const moved = project(ascentStep(cur, grad, alpha, ctx.norm), ctx.x, ctx.eps, ctx.norm, ctx.model.bounds);
        return mask ? (tf.where(tf.reshape(mask, [ctx.n, 1, 1, 1]), cur, moved) as Tensor4D) : moved;
      });
      grad.dispose();
      xAdv = ctx.swap(xAdv, next);
      await ctx.checkpoint();
    }
    const [logits, loss, ...checked] = await readout.flush([...lossTensors(ctx.model, xAdv, lossFn), ...checks.tensors()]);
    checks.warn(checked);
    ctx.reportStep(o.steps, sum(loss));
    return { xAdv, success: ctx.isAdversarial(logits), loss };
  } finally {
    readout.dispose();
    checks.dispose();
  }
}

/** The PGD step logic for resolved options (shared by `pgd` and `cw`). */
export function pgdSteps(name: string, o: ResolvedPgdOptions) {
  return {
    name,
    norms: ['Linf', 'L2'] as const,
    targeted: true,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const first = await singleRun(ctx, o, objective(ctx, o.loss), 0);
      let best = first.xAdv;
      const success = first.success;
      const bestLoss = first.loss;
      for (let r = 1; r < o.restarts; r++) {
        const rows = rowsWhere(success, 0);
        if (rows.length === 0) break;
        const sub = ctx.subset(rows);
        try {
          const out = await singleRun(sub, o, objective(sub, o.loss), r);
          const take = new Uint8Array(rows.length);
          rows.forEach((row, j) => {
            if (out.success[j] || out.loss[j] > bestLoss[row]) {
              take[j] = 1;
              success[row] = out.success[j];
              bestLoss[row] = out.loss[j];
            }
          });
          best = ctx.swap(best, replaceRows(best, rows, out.xAdv, take));
          out.xAdv.dispose();
        } finally {
          sub.release();
        }
      }
      return best;
    },
  };
}

export function createPgd(options: PgdOptions = {}): Attack {
  return defineAttack(pgdSteps('pgd', resolvePgdOptions('pgd', options, { steps: 20, loss: 'ce' })));
}

export interface GeneratePgdOptions {
  eps: number;
  /** @default eps / 4 */
  alpha?: number;
  /** @default 10 */
  steps?: number;
  /** `uniform`: x + U(−ε, ε), clipped (Madry et al.); `normal`: x + 0.001·N(0, I). @default 'uniform' */
  start?: 'uniform' | 'normal';
  /** Seed of the start; sample i uses stream (seed, 'pgd', i + indexOffset, 0), as `createPgd`. @default 0 */
  seed?: number;
  /** @default 0 */
  indexOffset?: number;
}

/**
 * L∞ PGD on the cross-entropy for training loops (PGD-AT, MART): returns x' `[n, h, w, c]` (owned by
 * the caller) and nothing else — no bounds check, criterion, warnings or restarts, and no read-back:
 * one forward/backward pass per step, all on the device. The same iterate as
 * `createPgd({ steps, alpha, randomStart, loss: 'ce' }).run(...)`'s `raw` for the same seed, bit for
 * bit (`generate-pgd.spec.ts`).
 */
export function generatePgd(model: AttackModel, x: Tensor4D, labels: Int32Array, options: GeneratePgdOptions): Tensor4D {
  checkKnownKeys('pgd', options, ['eps', 'alpha', 'steps', 'start', 'seed', 'indexOffset']);
  const eps = positiveNumber('pgd', 'eps', options.eps, undefined);
  if (eps === undefined) throw new AttackError('invalid-argument', 'pgd: eps is required', { field: 'eps' });
  const alpha = positiveNumber('pgd', 'alpha', options.alpha, eps / 4) ?? eps / 4;
  const steps = positiveInt('pgd', 'steps', options.steps, 10);
  const start = options.start ?? 'uniform';
  const seed = options.seed ?? 0;
  const offset = options.indexOffset ?? 0;
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const noise = new Float32Array(n * d);
  const tag = nameTag('pgd');
  for (let i = 0; i < n; i++) {
    const rng = sampleStream(seed, tag, offset + i, 0);
    const row = noise.subarray(i * d, (i + 1) * d);
    if (start === 'uniform') rng.fillUniform(row, -1, 1);
    else rng.fillNormal(row, 0, 1);
  }
  const yOneHot = oneHotRows(labels, model.numClasses);
  const lossFn = crossEntropy(yOneHot);
  const xStart = tf.tidy(() => {
    const u = tf.tensor4d(noise, [n, h, w, c]);
    return start === 'uniform'
      ? clipToBounds(tf.add(x, tf.mul(u, eps)) as Tensor4D, model.bounds)
      : (tf.add(x, tf.mul(u, NORMAL_START_STD)) as Tensor4D);
  });
  try {
    return ascendLinf(model, x, xStart, lossFn, steps, alpha, eps);
  } finally {
    yOneHot.dispose();
  }
}
