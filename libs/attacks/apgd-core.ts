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
import { tf, type Tensor4D } from '../engine/index.js';
import type { StepContext } from './attack.js';
import { checkFiniteLoss, checkZeroGradient } from './checks.js';
import { gradientAbsSums, lossAndGradient } from './gradient.js';
import type { LossFn } from './losses.js';
import { clipToBounds, normalizeL2, projectToBall, sampleNorms } from './norms.js';
import { checkKnownKeys, numberIn, positiveInt } from './options.js';
import { normalNoise, uniformNoise } from './random.js';
import { selectRows, sum } from './rows.js';
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

/** One APGD run (Algorithm 1) on every sample of `ctx`, maximising `lossFn`. */
export async function apgdSingleRun(ctx: StepContext, lossFn: LossFn, o: ResolvedApgd, stream: number, checks: boolean): Promise<ApgdRun> {
  const { n, eps } = ctx;
  const N = o.steps;
  const nIter2 = Math.max(Math.floor(0.22 * N), 1);
  const nIterMin = Math.max(Math.floor(0.06 * N), 1);
  const sizeDecr = Math.max(Math.floor(0.03 * N), 1);

  let xAdv = ctx.own(startPoint(ctx, stream));
  const first = await lossAndGradient(ctx.model, xAdv, lossFn);
  let grad = ctx.own(first.grad);
  if (checks) {
    ctx.warn(checkZeroGradient(await gradientAbsSums(grad), ctx.attack));
    ctx.warn(checkFiniteLoss(first.loss, ctx.attack));
  }
  ctx.reportStep(0, sum(first.loss));
  let xBest = ctx.own(xAdv.clone());
  let xBestAdv = ctx.own(xAdv.clone());
  let gradBest = ctx.own(grad.clone());
  let xAdvOld = ctx.own(xAdv.clone());
  const fooled = ctx.isAdversarial(first.logits);
  const lossBest = Float32Array.from(first.loss);
  const lossSteps = new Float32Array(N * n); // row i: losses after step i (zeros until written)
  const stepSize = new Float32Array(n).fill(2 * eps);
  let lossBestLastCheck = Float32Array.from(lossBest);
  let reducedLastCheck = new Uint8Array(n).fill(1);
  let k = nIter2;
  let counter3 = 0;

  for (let i = 0; i < N; i++) {
    const a = i > 0 ? o.momentum : 1;
    const prev = xAdv;
    const old = xAdvOld;
    const g = grad;
    const next = tf.tidy(() => {
      const eta = tf.tensor4d(stepSize, [n, 1, 1, 1]);
      const momentumTerm = tf.mul(tf.sub(prev, old), 1 - a);
      const z = feasible(ctx, tf.add(prev, tf.mul(direction(g, ctx.norm), eta)) as Tensor4D);
      return feasible(ctx, tf.add(tf.add(prev, tf.mul(tf.sub(z, prev), a)), momentumTerm) as Tensor4D);
    });
    xAdvOld = ctx.swap(xAdvOld, prev);
    xAdv = ctx.own(next);

    const evald = await lossAndGradient(ctx.model, xAdv, lossFn);
    grad = ctx.swap(grad, evald.grad);
    const adv = ctx.isAdversarial(evald.logits);
    for (let s = 0; s < n; s++) if (adv[s]) fooled[s] = 1;
    xBestAdv = ctx.swap(xBestAdv, selectRows(adv, xAdv, xBestAdv));
    ctx.reportStep(i + 1, sum(evald.loss));

    const improved = new Uint8Array(n);
    for (let s = 0; s < n; s++) {
      const l = evald.loss[s];
      lossSteps[i * n + s] = l;
      if (l > lossBest[s]) {
        improved[s] = 1;
        lossBest[s] = l;
      }
    }
    xBest = ctx.swap(xBest, selectRows(improved, xAdv, xBest));
    gradBest = ctx.swap(gradBest, selectRows(improved, grad, gradBest));

    counter3 += 1;
    if (counter3 === k) {
      const reduce = new Uint8Array(n);
      let any = false;
      for (let s = 0; s < n; s++) {
        let rises = 0;
        for (let j = 0; j < k; j++) {
          // As the reference: index −1 wraps to the last (still zero) row.
          const cur = lossSteps[((i - j + N) % N) * n + s];
          const before = lossSteps[((i - j - 1 + N) % N) * n + s];
          if (cur > before) rises += 1;
        }
        const oscillating = rises <= k * o.rho;
        const stalled = !reducedLastCheck[s] && lossBestLastCheck[s] >= lossBest[s];
        reduce[s] = oscillating || stalled ? 1 : 0;
        if (reduce[s]) {
          stepSize[s] /= 2;
          any = true;
        }
      }
      reducedLastCheck = reduce;
      lossBestLastCheck = Float32Array.from(lossBest);
      if (any) {
        xAdv = ctx.swap(xAdv, selectRows(reduce, xBest, xAdv));
        grad = ctx.swap(grad, selectRows(reduce, gradBest, grad));
      }
      k = Math.max(k - sizeDecr, nIterMin);
      counter3 = 0;
    }
    await ctx.checkpoint();
  }
  const result = ctx.own(selectRows(fooled, xBestAdv, xBest));
  for (const t of [xAdv, xAdvOld, grad, gradBest, xBest, xBestAdv]) t.dispose();
  return { adv: result, fooled };
}
