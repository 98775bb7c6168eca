/**
 * Square Attack (L∞) — score-based black-box attack by random square-shaped updates.
 *
 * Paper: Andriushchenko, Croce, Flammarion & Hein, "Square Attack: a query-efficient black-box
 * adversarial attack via random search", arXiv:1912.00049 (Algorithm 1 with the L∞ sampling
 * distribution), following AutoAttack's `square.py`. Threat model: black-box (logits only, no
 * gradients), untargeted, L∞ ε-ball, inputs in the bounds.
 *
 * Start: vertical stripes x + ε·s, s ∈ {−1, +1} per sample, column and channel. Each query draws one
 * square window (side ⌈√(p·h·w)⌉, shared by the batch as in the reference) and one sign per channel,
 * sets the window to x ± ε, and keeps the change for the samples whose margin loss
 * z_y − max_{j≠y} z_j decreased (or became ≤ 0). The fraction p follows the p_init = 0.8 schedule,
 * halving at queries 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000 (rescaled to the
 * budget). A sample stops being queried once misclassified.
 *
 * Example: `createSquare().run(model, x, y, { eps: 0.3 })` — 5,000 queries per sample at most.
 */
import { tf, type Tensor4D } from '../engine/index.js';
import { defineAttack, type AttackSteps, type StepContext } from './attack.js';
import { checkKnownKeys, numberIn, positiveInt } from './options.js';
import type { Attack } from './types.js';

export interface SquareOptions {
  /** Query budget per restart: one forward pass per query over the samples still robust. @default 5000 */
  queries?: number;
  /** Initial fraction p of pixels changed per query. @default 0.8 */
  pInit?: number;
  /** Restarts, each on the samples still robust. @default 1 */
  restarts?: number;
}

/** Query fractions (of 10,000) after which p halves again: the reference schedule. */
const HALVINGS = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000] as const;

/** The reference schedule of p for query `it` of a budget of `queries` (rescaled to 10,000). */
export function squareFraction(it: number, queries: number, pInit: number): number {
  const t = Math.floor((it / queries) * 10000);
  let k = 0;
  for (const h of HALVINGS) if (t > h) k += 1;
  return pInit / 2 ** k;
}

/** Margin z_y − max_{j≠y} z_j per row. */
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

/** Square's step logic (for composition, e.g. AutoAttack). */
export function squareSteps(options: SquareOptions = {}): AttackSteps {
  checkKnownKeys('square', options, ['queries', 'pInit', 'restarts']);
  const queries = positiveInt('square', 'queries', options.queries, 5000);
  const pInit = numberIn('square', 'pInit', options.pInit, 1e-6, 1, 0.8);
  const restarts = positiveInt('square', 'restarts', options.restarts, 1);
  return {
    name: 'square',
    norms: ['Linf'],
    targeted: false,
    async perturb(ctx: StepContext): Promise<Tensor4D> {
      const { n, eps, model } = ctx;
      const [, h, w, c] = ctx.x.shape;
      const d = h * w * c;
      const C = model.numClasses;
      const [lo, hi] = model.bounds;
      const x = Float32Array.from(ctx.x.dataSync() as Float32Array);
      const best = Float32Array.from(x);
      const lossMin = new Float64Array(n).fill(Infinity);
      // margin > 0: still robust; clean misclassified samples are never queried.
      const marginMin = new Float64Array(n);
      const cleanAll = Int32Array.from({ length: n }, (_, i) => i);
      const cleanMargins = margins(ctx.cleanLogits, ctx.labels, cleanAll, C);
      for (let i = 0; i < n; i++) marginMin[i] = cleanMargins[i] > 0 ? 1 : cleanMargins[i];

      const query = (rows: Int32Array, values: Float32Array): Float64Array => {
        const t = tf.tensor4d(values, [rows.length, h, w, c]);
        try {
          const z = tf.tidy(() => model.logits(t));
          const logits = z.dataSync() as Float32Array;
          z.dispose();
          return margins(logits, ctx.labels, rows, C);
        } finally {
          t.dispose();
        }
      };
      const clampPixel = (i: number, k: number, v: number) => Math.min(Math.max(v, x[i * d + k] - eps, lo), x[i * d + k] + eps, hi);

      for (let r = 0; r < restarts; r++) {
        let active = Int32Array.from(cleanAll.filter((i) => marginMin[i] > 0));
        if (active.length === 0) break;
        // Start: stripes x + ε·s with s per (sample, column, channel).
        for (const i of active) {
          const rng = ctx.sampleRng(i, r);
          const s = new Float32Array(w * c);
          for (let k = 0; k < s.length; k++) s[k] = rng.next() < 0.5 ? -1 : 1;
          for (let row = 0; row < h; row++) {
            for (let k = 0; k < w * c; k++) {
              const idx = row * w * c + k;
              best[i * d + idx] = Math.min(Math.max(x[i * d + idx] + eps * s[k], lo), hi);
            }
          }
        }
        const startValues = new Float32Array(active.length * d);
        active.forEach((i, j) => startValues.set(best.subarray(i * d, (i + 1) * d), j * d));
        const startMargins = query(active, startValues);
        active.forEach((i, j) => {
          marginMin[i] = startMargins[j];
          lossMin[i] = startMargins[j];
        });

        const shared = ctx.sharedRng(r);
        for (let it = 0; it < queries; it++) {
          // Draws happen every query whatever the active set, so each sample's path is its own.
          const p = squareFraction(it, queries, pInit);
          const side = Math.min(Math.max(Math.round(Math.sqrt((p * d) / c)), 1), h, w);
          const vh = Math.floor(shared.next() * (h - side));
          const vw = Math.floor(shared.next() * (w - side));
          const signs = Float32Array.from({ length: c }, () => (shared.next() < 0.5 ? -1 : 1));
          active = Int32Array.from(active.filter((i) => marginMin[i] > 0));
          if (active.length === 0) break;

          const values = new Float32Array(active.length * d);
          active.forEach((i, j) => {
            values.set(best.subarray(i * d, (i + 1) * d), j * d);
            for (let row = vh; row < vh + side; row++) {
              for (let col = vw; col < vw + side; col++) {
                for (let ch = 0; ch < c; ch++) {
                  const k = (row * w + col) * c + ch;
                  values[j * d + k] = clampPixel(i, k, best[i * d + k] + 2 * eps * signs[ch]);
                }
              }
            }
          });
          const m = query(active, values);
          let total = 0;
          active.forEach((i, j) => {
            const improved = m[j] < lossMin[i];
            if (improved) lossMin[i] = m[j];
            if (improved || m[j] <= 0) {
              marginMin[i] = m[j];
              best.set(values.subarray(j * d, (j + 1) * d), i * d);
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
