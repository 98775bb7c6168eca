/** What the kernel tests share: deterministic inputs and the error measure they compare with. */
import assert from 'node:assert/strict';

/** max|a − b| / max(max|b|, 1e-6): the error relative to the reference's largest magnitude. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'sizes differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-6);
}

/** Deterministic values in [-1, 1) (a 32-bit LCG), so a failing case reproduces. */
export function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
