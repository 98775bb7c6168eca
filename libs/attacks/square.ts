/**
 * Square Attack — score-based black-box attack by random square-shaped updates.
 *
 * Paper: Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box
 * adversarial attack via random search", arXiv:1912.00049 (Algorithms 1–3), following AutoAttack's
 * `square.py`. Threat model: black-box (logits only, no gradients), untargeted, L∞ or L2 ε-ball,
 * inputs in the bounds. A sample stops being queried once misclassified; an update is kept when the
 * margin loss z_y − max_{j≠y} z_j decreases (or becomes ≤ 0).
 *
 * - L∞: start from vertical stripes x + ε·s (s = ±1 per sample, column, channel); each query sets one
 *   square window (side ≈ √(p·h·w), position and per-channel signs shared by the batch, as in the
 *   reference) to x ± ε.
 * - L2: start from a grid of ±η(s) "square bumps" normalised to ‖δ‖₂ = ε; each query moves the mass of
 *   one window into another (odd side ≥ 3, signs per sample and channel), keeping ‖δ‖₂ = ε.
 *
 * The fraction p follows the p_init schedule: it halves after queries 10, 50, 200, 500, 1000, 2000,
 * 4000, 6000 and 8000. Standalone, those counts are read as fractions of 10,000 and rescaled to the
 * budget (`rescaleSchedule`, square.py's default), so a short budget still shrinks its squares; inside
 * AutoAttack they are fixed query counts, as AutoAttack runs it (`resc_schedule=False`), so a
 * 5,000-query Square there halves p at the same queries as the reference.
 *
 * Example: `createSquare().run(model, x, y, { eps: 0.3 })` — 5,000 queries per sample at most.
 */
import { tf, type Tensor4D } from '../engine/index.js';
import type { Rng } from '../data/index.js';
import { defineAttack, type AttackSteps, type StepContext } from './attack.js';
import { logitsValues } from './model.js';
import { boolean, checkKnownKeys, numberIn, positiveInt } from './options.js';
import type { Attack, Norm } from './types.js';

export interface SquareOptions {
  /** Query budget per restart: one forward pass per query over the samples still robust. @default 5000 */
  queries?: number;
  /** Initial fraction p of pixels changed per query. @default 0.8 */
  pInit?: number;
  /** Restarts, each on the samples still robust. @default 1 */
  restarts?: number;
  /**
   * Whether the halving points of p scale with the budget (read as fractions of 10,000 queries) or
   * are fixed query counts (AutoAttack's `resc_schedule=False`). @default true
   */
  rescaleSchedule?: boolean;
}

/** Query fractions (of 10,000) after which p halves again: the reference schedule. */
const HALVINGS = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000] as const;

/**
 * The reference schedule of p for query `it` (0-based) of a budget of `queries`: the halving points
 * rescaled to the budget (`rescale`, as fractions of 10,000) or taken as fixed query counts.
 */
export function squareFraction(it: number, queries: number, pInit: number, rescale = true): number {
  const t = rescale ? Math.floor((it / queries) * 10000) : it;
  let k = 0;
  for (const h of HALVINGS) if (t > h) k += 1;
  return pInit / 2 ** k;
}

/** Margin z_y − max_{j≠y} z_j per row, for the samples `rows` (labels indexed by row). */
function margins(logits: Float32Array, labels: ArrayLike<number>, rows: ArrayLike<number>, C: number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let j = 0; j < rows.length; j++) {
    const base = j * C;
    const y = labels[rows[j]];
    let other = -Infinity;
    for (let c = 0; c < C; c++) if (c !== y && logits[base + c] > other) other = logits[base + c];
    out[j] = logits[base + y] - other;
  }
  return out;
}

/** Geometry of one sample: its clean values, its current best, and the image dimensions. */
interface Frame {
  h: number;
  w: number;
  c: number;
  d: number;
  eps: number;
  lo: number;
  hi: number;
}

/** How one norm starts and proposes; `proposeRow` fills a candidate for one sample. */
interface Geometry {
  /** Writes sample `i`'s starting point into `best` (row i). `shared` draws are the same for all samples. */
  start(f: Frame, x: Float32Array, best: Float32Array, i: number, rng: Rng, shared: SharedStart): void;
  /** Per-query draws shared by the batch. */
  draw(f: Frame, p: number, shared: Rng): unknown;
  proposeRow(f: Frame, draws: unknown, x: Float32Array, best: Float32Array, i: number, rng: Rng, out: Float32Array): void;
  /** Prepares the shared part of the start (drawn once per restart). */
  prepareStart(f: Frame, shared: Rng): SharedStart;
}

type SharedStart = unknown;

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

// ---------------------------------------------------------------- L∞

interface LinfDraws {
  side: number;
  vh: number;
  vw: number;
  signs: Float32Array;
}

const LINF: Geometry = {
  prepareStart: () => undefined,
  start(f, x, best, i, rng) {
    const s = new Float32Array(f.w * f.c);
    for (let k = 0; k < s.length; k++) s[k] = rng.next() < 0.5 ? -1 : 1;
    for (let row = 0; row < f.h; row++) {
      for (let k = 0; k < f.w * f.c; k++) {
        const idx = i * f.d + row * f.w * f.c + k;
        best[idx] = clamp(x[idx] + f.eps * s[k], f.lo, f.hi);
      }
    }
  },
  draw(f, p, shared): LinfDraws {
    const side = Math.min(Math.max(Math.round(Math.sqrt((p * f.d) / f.c)), 1), f.h, f.w);
    const vh = Math.floor(shared.next() * (f.h - side));
    const vw = Math.floor(shared.next() * (f.w - side));
    const signs = Float32Array.from({ length: f.c }, () => (shared.next() < 0.5 ? -1 : 1));
    return { side, vh, vw, signs };
  },
  proposeRow(f, raw, x, best, i, _rng, out) {
    const { side, vh, vw, signs } = raw as LinfDraws;
    out.set(best.subarray(i * f.d, (i + 1) * f.d));
    for (let row = vh; row < vh + side; row++) {
      for (let col = vw; col < vw + side; col++) {
        for (let ch = 0; ch < f.c; ch++) {
          const k = (row * f.w + col) * f.c + ch;
          const xv = x[i * f.d + k];
          // best + 2ε·s, projected onto [x − ε, x + ε] ∩ bounds: the window becomes x ± ε.
          out[k] = clamp(clamp(best[i * f.d + k] + 2 * f.eps * signs[ch], xv - f.eps, xv + f.eps), f.lo, f.hi);
        }
      }
    }
  },
};

// ---------------------------------------------------------------- L2

/** The reference's `eta_rectangles(x, y)`: nested rectangles weighted 1/(k+1)², unit L2 norm. */
function etaRectangles(x: number, y: number): Float64Array {
  const delta = new Float64Array(x * y);
  let cx = Math.floor(x / 2);
  let cy = Math.floor(y / 2);
  const rounds = Math.max(Math.floor(x / 2) + 1, Math.floor(y / 2) + 1);
  for (let k = 0; k < rounds; k++) {
    for (let r = Math.max(cx, 0); r < Math.min(cx + 2 * k + 1, x); r++) {
      for (let q = Math.max(cy, 0); q < Math.min(cy + 2 * k + 1, y); q++) delta[r * y + q] += 1 / (k + 1) ** 2;
    }
    cx -= 1;
    cy -= 1;
  }
  const n = Math.sqrt(delta.reduce((a, v) => a + v * v, 0));
  return delta.map((v) => v / n);
}

/** The reference's `eta(s)`: +rectangles on the top half, − on the bottom, unit norm, maybe transposed. */
function eta(s: number, transpose: boolean): Float64Array {
  const top = etaRectangles(Math.floor(s / 2), s);
  const bottom = etaRectangles(s - Math.floor(s / 2), s);
  const delta = new Float64Array(s * s);
  delta.set(top, 0);
  for (let k = 0; k < bottom.length; k++) delta[top.length + k] = -bottom[k];
  const n = Math.sqrt(delta.reduce((a, v) => a + v * v, 0)) || 1;
  const out = new Float64Array(s * s);
  for (let r = 0; r < s; r++) for (let q = 0; q < s; q++) out[transpose ? q * s + r : r * s + q] = delta[r * s + q] / n;
  return out;
}

interface L2Start {
  side: number;
  offset: number;
  etas: Float64Array[];
}

interface L2Draws {
  side: number;
  vh: number;
  vw: number;
  vh2: number;
  vw2: number;
  bump: Float64Array;
}

/** x + ε·δ/‖δ‖₂, clipped into the bounds. */
function placeOnSphere(f: Frame, x: Float32Array, i: number, delta: Float64Array, out: Float32Array): void {
  let n = 0;
  for (let k = 0; k < f.d; k++) n += delta[k] * delta[k];
  const scale = f.eps / (Math.sqrt(n) + 1e-12);
  for (let k = 0; k < f.d; k++) out[k] = clamp(x[i * f.d + k] + delta[k] * scale, f.lo, f.hi);
}

const L2: Geometry = {
  prepareStart(f, shared): L2Start {
    const side = Math.max(Math.floor(f.h / 5), 1);
    const count = Math.floor(f.h / side) * Math.floor(f.w / side);
    return { side, offset: Math.floor((f.h - side * 5) / 2), etas: Array.from({ length: count }, () => eta(side, shared.next() > 0.5)) };
  },
  start(f, x, best, i, rng, sharedStart) {
    const { side, offset, etas } = sharedStart as L2Start;
    const delta = new Float64Array(f.d);
    let w = 0;
    for (let a = 0, vh = Math.max(offset, 0); a < Math.floor(f.h / side); a++, vh += side) {
      for (let b = 0, vw = Math.max(offset, 0); b < Math.floor(f.w / side); b++, vw += side) {
        const e = etas[w++];
        const signs = Float64Array.from({ length: f.c }, () => (rng.next() < 0.5 ? -1 : 1));
        for (let r = 0; r < side && vh + r < f.h; r++) {
          for (let q = 0; q < side && vw + q < f.w; q++) {
            for (let ch = 0; ch < f.c; ch++) delta[((vh + r) * f.w + vw + q) * f.c + ch] += e[r * side + q] * signs[ch];
          }
        }
      }
    }
    placeOnSphere(f, x, i, delta, best.subarray(i * f.d, (i + 1) * f.d));
  },
  draw(f, p, shared): L2Draws {
    let side = Math.max(Math.round(Math.sqrt((p * f.d) / f.c)), 3);
    if (side % 2 === 0) side += 1;
    side = Math.min(side, f.h, f.w);
    const vh = Math.floor(shared.next() * (f.h - side));
    const vw = Math.floor(shared.next() * (f.w - side));
    const vh2 = Math.floor(shared.next() * (f.h - side));
    const vw2 = Math.floor(shared.next() * (f.w - side));
    return { side, vh, vw, vh2, vw2, bump: eta(side, shared.next() > 0.5) };
  },
  proposeRow(f, raw, x, best, i, rng, out) {
    const { side, vh, vw, vh2, vw2, bump } = raw as L2Draws;
    const { w, c } = f;
    const delta = new Float64Array(f.d);
    for (let k = 0; k < f.d; k++) delta[k] = best[i * f.d + k] - x[i * f.d + k];
    const at = (row: number, col: number, ch: number) => (row * w + col) * c + ch;
    const inWin = (row: number, col: number, r0: number, c0: number) => row >= r0 && row < r0 + side && col >= c0 && col < c0 + side;
    let normImage = 0;
    let normWindows = 0;
    for (let row = 0; row < f.h; row++) {
      for (let col = 0; col < w; col++) {
        const masked = inWin(row, col, vh, vw) || inWin(row, col, vh2, vw2);
        for (let ch = 0; ch < c; ch++) {
          const v = delta[at(row, col, ch)];
          normImage += v * v;
          if (masked) normWindows += v * v;
        }
      }
    }
    const scale = Math.sqrt(Math.max(f.eps * f.eps - normImage, 0) / c + normWindows);
    const fresh = new Float64Array(side * side * c);
    for (let ch = 0; ch < c; ch++) {
      const sign = rng.next() < 0.5 ? -1 : 1;
      let old = 0;
      for (let r = 0; r < side; r++) for (let q = 0; q < side; q++) old += delta[at(vh + r, vw + q, ch)] ** 2;
      old = Math.sqrt(old) + 1e-12;
      let n = 0;
      for (let r = 0; r < side; r++) {
        for (let q = 0; q < side; q++) {
          const v = bump[r * side + q] * sign + delta[at(vh + r, vw + q, ch)] / old;
          fresh[(r * side + q) * c + ch] = v;
          n += v * v;
        }
      }
      n = Math.sqrt(n) + 1e-12;
      for (let r = 0; r < side; r++) for (let q = 0; q < side; q++) fresh[(r * side + q) * c + ch] *= scale / n;
    }
    for (let r = 0; r < side; r++) for (let q = 0; q < side; q++) for (let ch = 0; ch < c; ch++) delta[at(vh2 + r, vw2 + q, ch)] = 0;
    for (let r = 0; r < side; r++) for (let q = 0; q < side; q++) for (let ch = 0; ch < c; ch++) delta[at(vh + r, vw + q, ch)] = fresh[(r * side + q) * c + ch];
    placeOnSphere(f, x, i, delta, out);
  },
};

const GEOMETRIES: { readonly [K in Norm]: Geometry } = { Linf: LINF, L2 };

/** Square's step logic (for composition, e.g. AutoAttack). */
export function squareSteps(options: SquareOptions = {}): AttackSteps {
  checkKnownKeys('square', options, ['queries', 'pInit', 'restarts', 'rescaleSchedule']);
  const queries = positiveInt('square', 'queries', options.queries, 5000);
  const pInit = numberIn('square', 'pInit', options.pInit, 1e-6, 1, 0.8);
  const restarts = positiveInt('square', 'restarts', options.restarts, 1);
  const rescale = boolean('square', 'rescaleSchedule', options.rescaleSchedule, true);
  return {
    name: 'square',
    norms: ['Linf', 'L2'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const { n, model } = ctx;
      const [, h, w, c] = ctx.x.shape;
      const f: Frame = { h, w, c, d: h * w * c, eps: ctx.eps, lo: model.bounds[0], hi: model.bounds[1] };
      const C = model.numClasses;
      const geometry = GEOMETRIES[ctx.norm];
      const x = Float32Array.from((await ctx.x.data()) as Float32Array);
      const best = Float32Array.from(x);
      const lossMin = new Float64Array(n);
      // margin > 0: still robust. Clean misclassified samples are never queried.
      const all = Int32Array.from({ length: n }, (_, i) => i);
      const marginMin = margins(ctx.cleanLogits, ctx.labels, all, C);

      const query = async (rows: Int32Array, values: Float32Array): Promise<Float64Array> => {
        const t = tf.tensor4d(values, [rows.length, h, w, c]);
        try {
          return margins(await logitsValues(model, t), ctx.labels, rows, C);
        } finally {
          t.dispose();
        }
      };

      for (let r = 0; r < restarts; r++) {
        let active = all.filter((i) => marginMin[i] > 0);
        if (active.length === 0) break;
        // Per-sample streams: a sample's draws depend only on its own history.
        const rngs = new Map<number, Rng>(Array.from(active, (i) => [i, ctx.sampleRng(i, r)] as const));
        const shared = ctx.sharedRng(r);
        const sharedStart = geometry.prepareStart(f, shared);
        for (const i of active) geometry.start(f, x, best, i, rngs.get(i)!, sharedStart);
        const startValues = new Float32Array(active.length * f.d);
        active.forEach((i, j) => startValues.set(best.subarray(i * f.d, (i + 1) * f.d), j * f.d));
        const startMargins = await query(active, startValues);
        active.forEach((i, j) => {
          marginMin[i] = startMargins[j];
          lossMin[i] = startMargins[j];
        });

        for (let it = 0; it < queries; it++) {
          // Shared draws happen every query whatever the active set.
          const draws = geometry.draw(f, squareFraction(it, queries, pInit, rescale), shared);
          active = active.filter((i) => marginMin[i] > 0);
          if (active.length === 0) break;
          const values = new Float32Array(active.length * f.d);
          active.forEach((i, j) => geometry.proposeRow(f, draws, x, best, i, rngs.get(i)!, values.subarray(j * f.d, (j + 1) * f.d)));
          const m = await query(active, values);
          let total = 0;
          active.forEach((i, j) => {
            const improved = m[j] < lossMin[i];
            if (improved) lossMin[i] = m[j];
            if (improved || m[j] <= 0) {
              marginMin[i] = m[j];
              best.set(values.subarray(j * f.d, (j + 1) * f.d), i * f.d);
            }
            total += lossMin[i];
          });
          ctx.reportStep(it + 1, total, active.length);
          await ctx.checkpoint();
        }
      }
      return ctx.own(tf.tensor4d(best, [n, h, w, c]));
    },
  };
}

export function createSquare(options: SquareOptions = {}): Attack {
  return defineAttack(squareSteps(options));
}
