/**
 * The APGD iteration shared by APGD-CE and APGD-T (Croce & Hein, "Reliable evaluation of
 * adversarial robustness with an ensemble of diverse parameter-free attacks", arXiv:2003.01690,
 * Algorithm 1), following the authors' `autopgd_base.py`:
 *
 * - start x⁰ = x + ε·t/‖t‖ (t uniform in [−1, 1] for L∞, normal for L2), clipped to the bounds;
 * - step size η = 2ε per sample; x^{k+1} = P(x^k + α(z^{k+1} − x^k) + (1 − α)(x^k − x^{k−1})) with
 *   z^{k+1} = P(x^k + η ∇/sign step), momentum α = 0.75 (1 at the first step);
 * - checkpoints w₀ = 0, w₁ = ⌈0.22·N⌉, then periods shrinking by 0.03·N down to 0.06·N; at each
 *   checkpoint η is halved (and the iterate reset to the best point) for samples whose loss rose in at
 *   most ρ = 75% of the steps since the last checkpoint, or whose step size was not reduced last time
 *   while the best loss did not improve.
 *
 * Everything is per sample (step sizes, checkpoints, bests), so a sample's trajectory does not depend
 * on the others in its batch.
 */
import { tf, type Tensor, type Tensor1D, type Tensor2D, type Tensor4D } from '../engine/index.js';
import type { StepContext } from './attack.js';
import { lossAndGradientTensors, takeValues } from './gradient.js';
import type { LossFn } from './losses.js';
import { clipToBounds, normalizeL2, projectToBall, sampleNorms } from './norms.js';
import { checkKnownKeys, numberIn, positiveInt } from './options.js';
import { normalNoise, uniformNoise } from './random.js';
import { firstStepChecks, stepReadout } from './readback.js';
import { selectRows } from './rows.js';
import type { Norm } from './types.js';

export interface ApgdOptions {
  /** Iterations per restart (N). @default 100 */
  steps?: number;
  /** Random restarts, each on the samples still robust. @default 1 */
  restarts?: number;
  /** Checkpoint threshold ρ: halve η when the loss rose in at most ρ of the steps. @default 0.75 */
  rho?: number;
  /** Momentum α of the update. @default 0.75 */
  momentum?: number;
}

export interface ResolvedApgd {
  readonly steps: number;
  readonly restarts: number;
  readonly rho: number;
  readonly momentum: number;
}

export const APGD_KEYS = ['steps', 'restarts', 'rho', 'momentum'] as const;

export function resolveApgd(name: string, options: ApgdOptions, extraKeys: readonly string[] = []): ResolvedApgd {
  checkKnownKeys(name, options, [...APGD_KEYS, ...extraKeys]);
  return {
    steps: positiveInt(name, 'steps', options.steps, 100),
    restarts: positiveInt(name, 'restarts', options.restarts, 1),
    rho: numberIn(name, 'rho', options.rho, 0, 1, 0.75),
    momentum: numberIn(name, 'momentum', options.momentum, 0, 1, 0.75),
  };
}

export interface ApgdRun {
  /** Per sample: the last misclassified iterate where one was found, else the highest-loss iterate. */
  readonly adv: Tensor4D;
  /** 1 where an adversarial iterate was found. */
  readonly fooled: Uint8Array;
}

/** Projection of APGD: onto the ε-ball around x, then into the bounds. */
function feasible(ctx: StepContext, t: Tensor4D): Tensor4D {
  return clipToBounds(projectToBall(t, ctx.x, ctx.eps, ctx.norm), ctx.model.bounds);
}

function direction(grad: Tensor4D, norm: Norm): Tensor4D {
  return norm === 'Linf' ? tf.sign(grad) : normalizeL2(grad);
}

/** ‖t‖ per sample normalised start: ε·t/‖t‖ (max-abs for L∞, as the reference). */
function startPoint(ctx: StepContext, stream: number): Tensor4D {
  const noise = ctx.norm === 'Linf' ? uniformNoise(ctx, stream) : normalNoise(ctx, stream);
  const out = tf.tidy(() => {
    const n = tf.reshape(sampleNorms(noise, ctx.norm), [-1, 1, 1, 1]);
    return clipToBounds(tf.add(ctx.x, tf.mul(tf.div(noise, tf.add(n, 1e-12)), ctx.eps)) as Tensor4D, ctx.model.bounds);
  });
  noise.dispose();
  return out;
}

/** Bool `[n]` mask → `[n, 1, 1, 1]` for `tf.where` over images (numpy-style broadcasting). */
function rowsMask(mask: Tensor1D): Tensor {
  return tf.reshape(mask, [mask.shape[0], 1, 1, 1]);
}

/**
 * One APGD run (Algorithm 1) on every sample of `ctx`, maximising `lossFn`.
 *
 * Read-backs (`readback.ts`): none inside a step. The per-sample state between checkpoints — best
 * loss, best and best-adversarial iterates, "ever fooled" — stays on the device, and each step's
 * losses are kept as tensors. The step-size rule needs values, so each checkpoint reads once: the
 * losses of the steps since the previous checkpoint (and the one before them) with the best losses,
 * plus the queued progress objectives; then the halved step sizes go back up as one small tensor.
 * For N = 100 that is 8 reads (checkpoints after steps 22, 41, 57, 70, 80, 87, 93, 99), and one more
 * after the last step (fooled mask, starting point's checks). A custom criterion without
 * `adversarialMask` reads the logits every step instead (it runs in JS).
 */
export async function apgdSingleRun(ctx: StepContext, lossFn: LossFn, o: ResolvedApgd, stream: number, checks: boolean): Promise<ApgdRun> {
  const { n, eps } = ctx;
  const N = o.steps;
  const nIter2 = Math.max(Math.floor(0.22 * N), 1);
  const nIterMin = Math.max(Math.floor(0.06 * N), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * N), 1);
  const readout = stepReadout(ctx, Number.POSITIVE_INFINITY);
  const firstChecks = firstStepChecks(ctx);
  /** Per-sample success at logits, on the device. */
  const adversarial = async (logits: Tensor2D): Promise<Tensor1D> =>
    ctx.adversarialMask(logits) ?? tf.tensor1d(ctx.isAdversarial(await takeValues(logits.clone())), 'bool');

  let xAdv = ctx.own(startPoint(ctx, stream));
  const first = lossAndGradientTensors(ctx.model, xAdv, lossFn);
  let grad = ctx.own(first.grad);
  if (checks) firstChecks.record(grad, first.loss);
  readout.record(0, first.loss);
  let xBest = ctx.own(xAdv.clone());
  let xBestAdv = ctx.own(xAdv.clone());
  let gradBest = ctx.own(grad.clone());
  let xAdvOld = ctx.own(xAdv.clone());
  let fooled = ctx.own(await adversarial(first.logits));
  let lossBest = ctx.own(first.loss.clone()) as Tensor1D;
  tf.dispose([first.logits, first.loss]);
  // Losses of the steps since the last checkpoint, on the device; `lastRow` is the step before them
  // (zeros before the first checkpoint: the reference's index −1 wraps to a row not yet written).
  let period: Tensor1D[] = [];
  let lastRow = ctx.own(tf.zeros([n]) as Tensor1D);
  const stepSize = new Float32Array(n).fill(2 * eps);
  let eta = ctx.own(tf.tensor4d(stepSize, [n, 1, 1, 1]));
  let lossBestLastCheck: Float32Array | undefined;
  let reducedLastCheck = new Uint8Array(n).fill(1);
  let k = nIter2;
  let counter3 = 0;

  try {
    for (let i = 0; i < N; i++) {
      const a = i > 0 ? o.momentum : 1;
      const prev = xAdv;
      const old = xAdvOld;
      const g = grad;
      const step = eta;
      const next = tf.tidy(() => {
        const momentumTerm = tf.mul(tf.sub(prev, old), 1 - a);
        const z = feasible(ctx, tf.add(prev, tf.mul(direction(g, ctx.norm), step)) as Tensor4D);
        return feasible(ctx, tf.add(tf.add(prev, tf.mul(tf.sub(z, prev), a)), momentumTerm) as Tensor4D);
      });
      xAdvOld = ctx.swap(xAdvOld, prev);
      xAdv = ctx.own(next);

      const evald = lossAndGradientTensors(ctx.model, xAdv, lossFn);
      grad = ctx.swap(grad, evald.grad);
      const adv = await adversarial(evald.logits);
      const fooledBefore = fooled;
      fooled = ctx.swap(fooled, tf.logicalOr(fooledBefore, adv) as Tensor1D);
      const cur = xAdv;
      const bestAdvBefore = xBestAdv;
      xBestAdv = ctx.swap(xBestAdv, tf.tidy(() => tf.where(rowsMask(adv), cur, bestAdvBefore) as Tensor4D));
      adv.dispose();
      readout.record(i + 1, evald.loss);

      const best = lossBest;
      const improved = tf.greater(evald.loss, best) as Tensor1D;
      lossBest = ctx.swap(lossBest, tf.where(improved, evald.loss, best) as Tensor1D);
      const [bestBefore, gradBestBefore, g2] = [xBest, gradBest, grad];
      xBest = ctx.swap(xBest, tf.tidy(() => tf.where(rowsMask(improved), cur, bestBefore) as Tensor4D));
      gradBest = ctx.swap(gradBest, tf.tidy(() => tf.where(rowsMask(improved), g2, gradBestBefore) as Tensor4D));
      improved.dispose();
      tf.dispose(evald.logits);
      period.push(ctx.own(evald.loss));

      counter3 += 1;
      if (counter3 === k) {
        // The one read of this checkpoint: losses of steps i−k … i (row 0 = step i−k) and the best losses.
        // Step i−k: the previous period's last (`lastRow`), or, before the first checkpoint, the
        // reference's wrapped row N + i − k: not yet written (zeros) unless N is tiny (N = 1: step i).
        const wrapped = i - k + N;
        const beforePeriod = i - k >= 0 || wrapped > i ? lastRow : period[wrapped - (i - k + 1)];
        const rows = tf.stack([beforePeriod, ...period]);
        const [losses, bestNow] = await readout.flush([rows, lossBest.clone()]);
        const reduce = new Uint8Array(n);
        let any = false;
        for (let s = 0; s < n; s++) {
          let rises = 0;
          for (let j = 0; j < k; j++) {
            const now = losses[(k - j) * n + s];
            const before = losses[(k - j - 1) * n + s];
            if (now > before) rises += 1;
          }
          const oscillating = rises <= k * o.rho;
          const stalled = !reducedLastCheck[s] && lossBestLastCheck !== undefined && lossBestLastCheck[s] >= bestNow[s];
          reduce[s] = oscillating || stalled ? 1 : 0;
          if (reduce[s]) {
            stepSize[s] /= 2;
            any = true;
          }
        }
        reducedLastCheck = reduce;
        lossBestLastCheck = Float32Array.from(bestNow);
        if (any) {
          xAdv = ctx.swap(xAdv, selectRows(reduce, xBest, xAdv));
          grad = ctx.swap(grad, selectRows(reduce, gradBest, grad));
          eta = ctx.swap(eta, tf.tensor4d(stepSize, [n, 1, 1, 1]));
        }
        lastRow = ctx.swap(lastRow, period[period.length - 1]);
        for (const t of period.slice(0, -1)) t.dispose();
        period = [];
        k = Math.max(k - sizeDecr, nIterMin);
        counter3 = 0;
      }
      await ctx.checkpoint();
    }
    const [fooledValues, ...checked] = await readout.flush([tf.cast(fooled, 'float32'), ...firstChecks.tensors()]);
    firstChecks.warn(checked);
    const fooledRows = Uint8Array.from(fooledValues, (v) => (v ? 1 : 0));
    const result = ctx.own(tf.tidy(() => tf.where(rowsMask(fooled), xBestAdv, xBest) as Tensor4D));
    for (const t of [xAdv, xAdvOld, grad, gradBest, xBest, xBestAdv, fooled, lossBest, lastRow, eta, ...period]) t.dispose();
    return { adv: result, fooled: fooledRows };
  } finally {
    readout.dispose();
    firstChecks.dispose();
  }
}
