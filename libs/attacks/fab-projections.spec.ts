/**
 * FAB's projections onto {z : w·z = b} ∩ [0, 1]^D: feasibility, and minimality against a brute-force
 * search over feasible points on small problems.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRng } from '../data/index.js';
import { projectionL2, projectionLinf } from './fab-projections.js';

const norms = {
  Linf: (d: ArrayLike<number>) => Math.max(...Array.from(d, Math.abs)),
  L2: (d: ArrayLike<number>) => Math.sqrt(Array.from(d).reduce((a, v) => a + v * v, 0)),
};

function problem(seed: number, D: number) {
  const rng = createRng(seed);
  const t = Float64Array.from({ length: D }, () => rng.next());
  const w = Float64Array.from({ length: D }, () => rng.next() * 2 - 1);
  // A hyperplane through a random point of the box, so the intersection is not empty.
  const p = Float64Array.from({ length: D }, () => rng.next());
  const b = w.reduce((a, wi, i) => a + wi * p[i], 0);
  return { t, w, b, p };
}

describe('FAB projections', () => {
  for (const [name, project] of [
    ['Linf', projectionLinf],
    ['L2', projectionL2],
  ] as const) {
    it(`${name}: lands on the hyperplane inside the box`, () => {
      for (let seed = 0; seed < 50; seed++) {
        const { t, w, b } = problem(seed, 3 + (seed % 20));
        const d = project(t, w, b);
        const z = t.map((v, i) => v + d[i]);
        for (const v of z) assert.ok(v >= -1e-9 && v <= 1 + 1e-9, `seed ${seed}: ${v} outside the box`);
        const wz = w.reduce((a, wi, i) => a + wi * z[i], 0);
        assert.ok(Math.abs(wz - b) < 1e-6, `seed ${seed}: w·z = ${wz}, b = ${b}`);
      }
    });

    it(`${name}: is no longer than any feasible point found by search`, () => {
      for (let seed = 0; seed < 20; seed++) {
        const { t, w, b, p } = problem(100 + seed, 4);
        const d = project(t, w, b);
        const best = norms[name](d);
        // Feasible points: move along the hyperplane from p in random directions, keep those in the box.
        const rng = createRng(seed);
        let found = norms[name](p.map((v, i) => v - t[i]));
        for (let k = 0; k < 4000; k++) {
          const v = Float64Array.from({ length: 4 }, () => rng.next() * 2 - 1);
          const vw = v.reduce((a, vi, i) => a + vi * w[i], 0);
          const ww = w.reduce((a, wi) => a + wi * wi, 0);
          const dir = v.map((vi, i) => vi - (vw / ww) * w[i]);
          const step = rng.next();
          const z = p.map((pi, i) => pi + step * dir[i]);
          if (z.every((zi) => zi >= 0 && zi <= 1)) found = Math.min(found, norms[name](z.map((zi, i) => zi - t[i])));
        }
        assert.ok(best <= found + 1e-9, `seed ${seed}: projection ${best} longer than a feasible point at ${found}`);
      }
    });
  }
});
