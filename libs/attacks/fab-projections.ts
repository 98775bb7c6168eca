/**
 * FAB's projections (Croce & Hein, "Minimally distorted adversarial examples with a fast adaptive
 * boundary attack", arXiv:1907.02044, Sec. 3.1), ported row by row from AutoAttack's
 * `fab_projections.py`: the smallest perturbation d (in L∞ or L2) with w·(t + d) = b and t + d in
 * [0, 1]^D, i.e. the projection of t onto the linearised decision boundary intersected with the box.
 * Plain float64 arithmetic over one row; D is small enough (≤ 12,288) for a sort per row.
 */

/** Indices of `values` sorted ascending (stable). */
function argsort(values: Float64Array): Int32Array {
  const idx = Int32Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((a, b) => values[a] - values[b] || a - b);
}

/** L∞ projection of point `t` onto {z : w·z = b} ∩ [0, 1]^D; returns d. */
export function projectionLinf(t: ArrayLike<number>, w0: ArrayLike<number>, b0: number): Float64Array {
  const D = t.length;
  let wt = 0;
  for (let i = 0; i < D; i++) wt += w0[i] * t[i];
  const sign = wt - b0 >= 0 ? 1 : -1;
  const w = new Float64Array(D);
  const a = new Float64Array(D);
  const d = new Float64Array(D);
  const p = new Float64Array(D);
  let b = b0 * sign;
  let wts = 0;
  for (let i = 0; i < D; i++) {
    w[i] = w0[i] * sign;
    a[i] = w[i] < 0 ? 1 : 0;
    d[i] = w[i] !== 0 ? a[i] - t[i] : 0;
    p[i] = a[i] - t[i] * (2 * a[i] - 1);
    wts += w[i] * t[i];
  }
  const indp = argsort(p);
  b -= wts;
  let bd = 0;
  for (let i = 0; i < D; i++) bd += w[i] * d[i];
  // Cumulative sums along decreasing p.
  const s = new Float64Array(D);
  const sb = new Float64Array(D);
  let accS = 0;
  let accB = bd;
  for (let j = 0; j < D; j++) {
    const i = indp[D - 1 - j];
    accS += Math.abs(w[i]);
    accB += -w[i] * d[i];
    s[j] = accS;
    sb[j] = accB;
  }
  const b2 = sb[D - 1] - s[D - 1] * p[indp[0]];
  const cl = b - b2 > 0;
  const c2 = b - bd > 0 && b - b2 <= 0;
  if (cl) {
    const lmbd = Math.max((b - sb[D - 1]) / -s[D - 1], 0);
    for (let i = 0; i < D; i++) d[i] = (2 * a[i] - 1) * lmbd;
  } else if (c2) {
    let lb = 0;
    let ub = D - 1;
    const nitermax = Math.ceil(Math.log2(D));
    for (let it = 0; it < nitermax; it++) {
      const mid = Math.floor((lb + ub) / 2);
      const cur = indp[D - 1 - mid];
      const bm = sb[mid] - s[mid] * p[cur];
      if (b - bm > 0) lb = mid;
      else ub = mid;
    }
    const lmbd = Math.max((b - sb[lb]) / -s[lb], 0);
    for (let i = 0; i < D; i++) d[i] = a[i] ? Math.min(lmbd, d[i]) : Math.max(-lmbd, d[i]);
  }
  for (let i = 0; i < D; i++) if (w[i] === 0) d[i] = 0;
  return d;
}

/** L2 projection of point `t` onto {z : w·z = b} ∩ [0, 1]^D; returns d. */
export function projectionL2(t: ArrayLike<number>, w0: ArrayLike<number>, b0: number): Float64Array {
  const D = t.length;
  const BIG = 1e12;
  const w = Float64Array.from(w0 as ArrayLike<number>);
  let c = -b0;
  for (let i = 0; i < D; i++) c += w[i] * t[i];
  if (c < 0) {
    for (let i = 0; i < D; i++) w[i] = -w[i];
    c = -c;
  }
  const r = new Float64Array(D);
  for (let i = 0; i < D; i++) {
    let v = Math.max(t[i] / w[i], (t[i] - 1) / w[i]);
    if (Number.isNaN(v)) v = BIG;
    v = Math.min(Math.max(v, -BIG), BIG);
    if (Math.abs(w[i]) < 1e-8) v = BIG;
    if (v === -BIG) v = BIG;
    r[i] = v;
  }
  const indr = argsort(r);
  const rs = new Float64Array(D);
  const rs2 = new Float64Array(D);
  for (let j = 0; j < D; j++) rs[j] = r[indr[j]];
  for (let j = 0; j < D - 1; j++) rs2[j] = rs[j + 1];
  for (let j = 0; j < D; j++) {
    if (rs[j] === BIG) rs[j] = 0;
    if (rs2[j] === BIG) rs2[j] = 0;
  }
  let w5 = 0;
  for (let i = 0; i < D; i++) w5 += w[indr[i]] ** 2;
  const ws = new Float64Array(D);
  let cum = 0;
  for (let j = 0; j < D; j++) {
    cum += w[indr[j]] ** 2;
    ws[j] = w5 - cum;
  }
  const d = new Float64Array(D);
  let dw = 0;
  for (let i = 0; i < D; i++) {
    d[i] = Math.abs(w[i]) > 1e-8 ? -(r[i] * w[i]) : 0;
    dw += d[i] * w[i];
  }
  const s = new Float64Array(D + 1);
  s[0] = -w5 * rs[0];
  let acc = 0;
  for (let j = 0; j < D; j++) {
    acc += (-rs2[j] + rs[j]) * ws[j];
    s[j + 1] = acc - w5 * rs[0];
  }
  const c4 = s[0] + c < 0;
  const c3 = dw + c > 0;
  if (c4) {
    const alpha = c / w5;
    for (let i = 0; i < D; i++) d[i] = -alpha * w[i];
  } else if (!c3) {
    let lb = 0;
    let ub = D - 1;
    const nitermax = Math.ceil(Math.log2(D));
    for (let it = 0; it < nitermax; it++) {
      const mid = Math.floor((lb + ub) / 2);
      if (s[mid] + c > 0) lb = mid;
      else ub = mid;
    }
    let alpha = (s[lb] + c) / ws[lb] + rs[lb];
    if (ws[lb] === 0) alpha = 0;
    for (let i = 0; i < D; i++) if (!(alpha > r[i])) d[i] = -alpha * w[i];
  }
  for (let i = 0; i < D; i++) if (!(Math.abs(w[i]) > 1e-8)) d[i] = 0;
  return d;
}
