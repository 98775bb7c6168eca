/**
 * FAB-T — targeted Fast Adaptive Boundary attack, AutoAttack's third stage.
 *
 * Paper: Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive boundary
 * attack", arXiv:1907.02044; targeted version as in AutoAttack (arXiv:2003.01690), following its
 * `fab_base.py`. Threat model: white-box, minimum-norm in L∞ or L2; a found adversarial counts only
 * when its norm is ≤ ε. For each of the `targets` most likely wrong classes of the clean prediction,
 * each iteration linearises the target-vs-true logit difference, projects both the iterate and x
 * onto that hyperplane ∩ [0, 1]^D (`fab-projections.ts`), takes a biased combination (α ≤ αmax,
 * overshoot η), and after a success moves back towards x by β. Restarts after the first start from a
 * random point at 0.5·min(ε, best norm).
 *
 * Example: `createFabT().run(model, x, y, { eps: 0.3 })` — 9 target classes × 100 iterations.
 */
import { tf, type Tensor4D } from '../engine/index.js';
import { defineAttack, type AttackSteps, type StepContext } from './attack.js';
import { checkFiniteLoss, checkTargetCount } from './checks.js';
import { lossAndGradient, takeValues } from './gradient.js';
import { oneHotRows, topClasses, type LossFn } from './losses.js';
import { projectionL2, projectionLinf } from './fab-projections.js';
import { logitsValues } from './model.js';
import { checkKnownKeys, numberIn, positiveInt, positiveNumber } from './options.js';
import { rowsWhere, sum } from './rows.js';
import type { Attack, Norm } from './types.js';

export interface FabTOptions {
  /** Iterations per target class and restart. @default 100 */
  steps?: number;
  /** Restarts (the first from x, later ones from random points). @default 1 */
  restarts?: number;
  /** Target classes tried, by decreasing clean logit after the top one. @default 9 */
  targets?: number;
  /** Largest weight α of the projection of x in the combined step. @default 0.1 */
  alphaMax?: number;
  /** Overshoot η of the projection step. @default 1.05 */
  eta?: number;
  /** Backward step β towards x after a success. @default 0.9 */
  beta?: number;
}

interface ResolvedFab {
  steps: number;
  restarts: number;
  targets: number;
  alphaMax: number;
  eta: number;
  beta: number;
}

const PROJECTIONS: { readonly [K in Norm]: (t: ArrayLike<number>, w: ArrayLike<number>, b: number) => Float64Array } = {
  Linf: projectionLinf,
  L2: projectionL2,
};

function rowNorm(values: ArrayLike<number>, norm: Norm): number {
  let acc = 0;
  for (let i = 0; i < values.length; i++) {
    const v = Math.abs(values[i]);
    if (norm === 'Linf') acc = Math.max(acc, v);
    else acc += v * v;
  }
  return norm === 'Linf' ? acc : Math.sqrt(acc);
}

/** One FAB-T run towards `yTarget` on every sample of `ctx`; returns the best adversarial and its norm. */
async function fabSingleRun(
  ctx: StepContext,
  yTarget: Int32Array,
  o: ResolvedFab,
  randomStart: boolean,
  stream: number,
): Promise<{ adv: Float32Array; res: Float64Array }> {
  const { n, norm, eps, model } = ctx;
  const shape = ctx.x.shape;
  const d = shape[1] * shape[2] * shape[3];
  const [lo, hi] = model.bounds;
  const im = Float32Array.from((await ctx.x.data()) as Float32Array);
  const x1 = Float64Array.from(im);
  const adv = Float32Array.from(im);
  const res = new Float64Array(n).fill(1e10);
  const project = PROJECTIONS[norm];

  if (randomStart) {
    for (let i = 0; i < n; i++) {
      const rng = ctx.sampleRng(i, stream);
      const t = new Float32Array(d);
      if (norm === 'Linf') rng.fillUniform(t, -1, 1);
      else rng.fillNormal(t, 0, 1);
      const tn = rowNorm(t, norm);
      const scale = (Math.min(res[i], eps) * 0.5) / tn;
      for (let k = 0; k < d; k++) x1[i * d + k] = Math.min(Math.max(im[i * d + k] + scale * t[k], lo), hi);
    }
  }

  // df = z_t − z_y (the boundary is df = 0), differentiated w.r.t. the input.
  const diff = ctx.own(tf.tidy(() => tf.sub(oneHotRows(yTarget, model.numClasses), oneHotRows(ctx.labels, model.numClasses))));
  const diffFn: LossFn = (z) => tf.sum(tf.mul(z, diff), 1) as ReturnType<LossFn>;

  for (let it = 0; it < o.steps; it++) {
    const x1t = tf.tensor4d(Float32Array.from(x1), shape);
    let gvals: Float32Array;
    let df: Float32Array;
    try {
      const evald = await lossAndGradient(model, x1t, diffFn);
      gvals = await takeValues(evald.grad);
      df = evald.loss;
    } finally {
      x1t.dispose();
    }
    if (it === 0) ctx.warn(checkFiniteLoss(df, ctx.attack));
    ctx.reportStep(it, sum(df));
    for (let i = 0; i < n; i++) {
      const w = gvals.subarray(i * d, (i + 1) * d);
      const xr = x1.subarray(i * d, (i + 1) * d);
      const x0 = im.subarray(i * d, (i + 1) * d);
      let wx = 0;
      for (let k = 0; k < d; k++) wx += w[k] * xr[k];
      const b = -df[i] + wx;
      const d1 = project(xr, w, b);
      const d2 = project(x0, w, b);
      const a1 = Math.max(rowNorm(d1, norm), 1e-8);
      const a2 = Math.max(rowNorm(d2, norm), 1e-8);
      const alpha = Math.min(Math.max(a1 / (a1 + a2), 0), o.alphaMax);
      for (let k = 0; k < d; k++) {
        const v = (xr[k] + o.eta * d1[k]) * (1 - alpha) + (x0[k] + d2[k] * o.eta) * alpha;
        xr[k] = Math.min(Math.max(v, lo), hi);
      }
    }
    const x1f = Float32Array.from(x1);
    const x1t2 = tf.tensor4d(x1f, shape);
    let isAdv: Uint8Array;
    try {
      isAdv = ctx.isAdversarial(await logitsValues(model, x1t2));
    } finally {
      x1t2.dispose();
    }
    for (let i = 0; i < n; i++) {
      if (!isAdv[i]) continue;
      const delta = new Float64Array(d);
      for (let k = 0; k < d; k++) delta[k] = x1f[i * d + k] - im[i * d + k];
      const t = rowNorm(delta, norm);
      if (t < res[i]) {
        adv.set(x1f.subarray(i * d, (i + 1) * d), i * d);
        res[i] = t;
      }
      for (let k = 0; k < d; k++) x1[i * d + k] = im[i * d + k] + delta[k] * o.beta;
    }
    await ctx.checkpoint();
  }
  return { adv, res };
}

/** FAB-T's step logic (for composition, e.g. AutoAttack). */
export function fabTSteps(options: FabTOptions = {}): AttackSteps {
  checkKnownKeys('fab-t', options, ['steps', 'restarts', 'targets', 'alphaMax', 'eta', 'beta']);
  const o: ResolvedFab = {
    steps: positiveInt('fab-t', 'steps', options.steps, 100),
    restarts: positiveInt('fab-t', 'restarts', options.restarts, 1),
    targets: positiveInt('fab-t', 'targets', options.targets, 9),
    alphaMax: numberIn('fab-t', 'alphaMax', options.alphaMax, 0, 1, 0.1),
    eta: positiveNumber('fab-t', 'eta', options.eta, 1.05),
    beta: numberIn('fab-t', 'beta', options.beta, 0, 1, 0.9),
  };
  return {
    name: 'fab-t',
    norms: ['Linf', 'L2'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const C = ctx.model.numClasses;
      ctx.warn(checkTargetCount(o.targets, C, ctx.attack));
      const used = Math.min(o.targets, C - 1);
      const d = ctx.x.size / ctx.n;
      const robust = ctx.isAdversarial(ctx.cleanLogits).map((a) => 1 - a);
      const out = Float32Array.from((await ctx.x.data()) as Float32Array);
      for (let rank = 2; rank <= used + 1; rank++) {
        for (let r = 0; r < o.restarts; r++) {
          const rows = rowsWhere(robust, 1);
          if (rows.length === 0) break;
          const sub = ctx.subset(rows);
          try {
            const yTarget = Int32Array.from(topClasses(sub.cleanLogits, C, rank), (top) => top[rank - 1]);
            const { adv, res } = await fabSingleRun(sub, yTarget, o, r > 0, rank * 1000 + r);
            rows.forEach((row, j) => {
              if (res[j] <= ctx.eps) {
                robust[row] = 0;
                out.set(adv.subarray(j * d, (j + 1) * d), row * d);
              }
            });
          } finally {
            sub.release();
          }
        }
      }
      return ctx.own(tf.tensor4d(out, ctx.x.shape));
    },
  };
}

export function createFabT(options: FabTOptions = {}): Attack {
  return defineAttack(fabTSteps(options));
}
