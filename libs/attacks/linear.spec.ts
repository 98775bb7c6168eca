/**
 * Known answers on linear softmax models (flatten → dense). For logits z = Wᵀx + b, the margin
 * z_y − z_j is linear in x, so its minimum over the L∞ ball ∩ [0, 1]^D is reached coordinate-wise:
 * x'_i = clip(x_i − ε·sign(w_y − w_j)_i, 0, 1). The optimal L∞ step is the sign of the weight
 * difference; FGSM and PGD must land exactly there.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, type Tensor4D } from '../engine/index.js';
import { createFgsm, createPgd, fromLayersModel, logitsValues, type AttackModel } from './index.js';
import { initTestEngine, linearModel, seededUniform } from './testing.fixture.js';

const SHAPE: [number, number, number] = [4, 4, 1];
const D = 16;

/** Minimum of z_y − z_j over the ε-ball ∩ [0, 1]^D, and the minimiser. */
function analyticWorst(W: Float32Array, b: Float32Array, C: number, x: ArrayLike<number>, y: number, j: number, eps: number) {
  let margin = b[y] - b[j];
  const point = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    const dw = W[i * C + y] - W[i * C + j];
    const moved = Math.min(Math.max(x[i] - eps * Math.sign(dw), 0), 1);
    point[i] = moved;
    margin += dw * moved;
  }
  return { margin, point };
}

function marginOf(logits: Float32Array, C: number, row: number, y: number, j: number): number {
  return logits[row * C + y] - logits[row * C + j];
}

describe('known answers on linear models', () => {
  before(async () => {
    await initTestEngine();
  });

  describe('two classes', () => {
    const C = 2;
    const W = seededUniform(1, D * C, -1, 1);
    const b = Float32Array.of(0.1, -0.1);
    const n = 16;
    // Inputs in [0.2, 0.8] and ε = 0.1: the bounds never bind, so the step is exactly ±ε.
    const xv = seededUniform(2, n * D, 0.2, 0.8);
    const eps = 0.1;
    let model: AttackModel;
    let x: Tensor4D;
    let labels: Int32Array;

    before(async () => {
      model = fromLayersModel(linearModel(SHAPE, W, b));
      x = tf.tensor4d(xv, [n, ...SHAPE]);
      const z = await logitsValues(model, x);
      labels = Int32Array.from({ length: n }, (_, i) => (z[i * 2] >= z[i * 2 + 1] ? 0 : 1));
    });

    it('FGSM steps by ε·sign(w_j − w_y) and reaches the analytic worst-case margin', async () => {
      const r = await createFgsm().run(model, x, labels, { eps });
      const adv = r.results[0].clipped;
      const av = adv.dataSync() as Float32Array;
      const z = await logitsValues(model, adv);
      for (let s = 0; s < n; s++) {
        const y = labels[s];
        const j = 1 - y;
        for (let i = 0; i < D; i++) {
          const expected = -eps * Math.sign(W[i * C + y] - W[i * C + j]);
          assert.ok(Math.abs(av[s * D + i] - xv[s * D + i] - expected) < 1e-6, `sample ${s} pixel ${i}`);
        }
        const worst = analyticWorst(W, b, C, xv.subarray(s * D, (s + 1) * D), y, j, eps).margin;
        assert.ok(Math.abs(marginOf(z, C, s, y, j) - worst) < 1e-4, `sample ${s}: margin ${marginOf(z, C, s, y, j)} vs analytic ${worst}`);
      }
      r.results[0].raw.dispose();
      adv.dispose();
    });

    for (const loss of ['ce', 'cw'] as const) {
      it(`PGD (${loss}) reaches the analytic worst case from a random start`, async () => {
        const r = await createPgd({ steps: 10, loss }).run(model, x, labels, { eps, seed: 4 });
        const z = await logitsValues(model, r.results[0].clipped);
        for (let s = 0; s < n; s++) {
          const y = labels[s];
          const worst = analyticWorst(W, b, C, xv.subarray(s * D, (s + 1) * D), y, 1 - y, eps).margin;
          assert.ok(Math.abs(marginOf(z, C, s, y, 1 - y) - worst) < 1e-4, `sample ${s}`);
        }
        r.results[0].raw.dispose();
        r.results[0].clipped.dispose();
      });
    }
  });

  describe('ten classes, bounds binding', () => {
    const C = 10;
    const W = seededUniform(5, D * C, -1, 1);
    const b = seededUniform(6, C, -0.5, 0.5);
    const n = 20;
    const xv = seededUniform(7, n * D, 0, 1);
    const eps = 0.2;
    let model: AttackModel;
    let x: Tensor4D;
    let labels: Int32Array;

    before(async () => {
      model = fromLayersModel(linearModel(SHAPE, W, b));
      x = tf.tensor4d(xv, [n, ...SHAPE]);
      const z = await logitsValues(model, x);
      labels = Int32Array.from({ length: n }, (_, i) => {
        let best = 0;
        for (let c = 1; c < C; c++) if (z[i * C + c] > z[i * C + best]) best = c;
        return best;
      });
    });

    it('PGD (CW) lands on the optimal corner x − ε·sign(w_y − w_j), clipped, of the class j it ends nearest to', async () => {
      const r = await createPgd({ steps: 20, loss: 'cw', restarts: 3 }).run(model, x, labels, { eps, seed: 9 });
      const av = r.results[0].clipped.dataSync() as Float32Array;
      const z = await logitsValues(model, r.results[0].clipped);
      let analyticRobust = 0;
      for (let s = 0; s < n; s++) {
        const xs = xv.subarray(s * D, (s + 1) * D);
        let worst = Infinity;
        let attained = Infinity;
        let nearest = -1;
        for (let j = 0; j < C; j++) {
          if (j === labels[s]) continue;
          worst = Math.min(worst, analyticWorst(W, b, C, xs, labels[s], j, eps).margin);
          const m = marginOf(z, C, s, labels[s], j);
          if (m < attained) {
            attained = m;
            nearest = j;
          }
        }
        // No attack can beat the analytic optimum …
        assert.ok(attained >= worst - 1e-4, `sample ${s}: attained ${attained} below the analytic minimum ${worst}`);
        // … and PGD's sign steps end exactly on the optimum of the pair (y, j) it attacks. (Over all
        // j the objective max_j (z_j − z_y) is convex, so PGD may stop at another class's corner.)
        const pair = analyticWorst(W, b, C, xs, labels[s], nearest, eps);
        assert.ok(Math.abs(attained - pair.margin) < 1e-4, `sample ${s}: margin ${attained} vs the pair optimum ${pair.margin}`);
        for (let i = 0; i < D; i++) assert.ok(Math.abs(av[s * D + i] - pair.point[i]) < 1e-5, `sample ${s} pixel ${i}`);
        if (worst > 0) analyticRobust += 1;
      }
      assert.ok(r.results[0].robustAccuracy >= analyticRobust / n);
      r.results[0].raw.dispose();
      r.results[0].clipped.dispose();
    });
  });
});
