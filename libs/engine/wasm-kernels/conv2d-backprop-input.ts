/**
 * `Conv2DBackpropInput` for the wasm backend: the gradient of conv2d with respect to its input.
 *
 * Math (NHWC; x [N, H, W, Ci], filter f [kh, kw, Ci, Co], dy [N, Ho, Wo, Co], stride s, padding
 * `top`/`left` from computeConv2DInfo):
 *   dx[n, i, j, c] = Σ_{p, q, o} dy[n, (i + top − p)/s_h, (j + left − q)/s_w, o] · f[p, q, c, o]
 * over the taps for which both divisions are exact and land inside dy.
 *
 * Approach: the phase (sub-pixel) decomposition of `phase-gradient.ts`. Each of the s_h·s_w phases
 * is one XNNPACK `Conv2D` (stride 1, explicit padding) of dy with the flipped, in/out-swapped
 * sub-filter g[m′, l′, o, c] = f[ph(m′), pw(l′), c, o] (the taps congruent to the phase); the
 * phases are interleaved with a memcpy concat and two cheap transposes. With stride 1 it is a
 * single convolution and no interleave.
 *
 * Why: on the reference CNN (batch 64, 2-core EPYC, one thread, quiet machine) the shipped kernel
 * takes 310–470 ms (32×32×32 ← 16×16×64, 3×3, stride 2) and 380–400 ms (16×16×64 ← 8×8×128),
 * this kernel 32–35 ms and 29–32 ms, about as long as the forward convolutions (28–38 and
 * 30–31 ms); `bench/kernels.ts` prints these. The alternatives measured slower:
 * one convolution over zero-dilated dy (4× the multiplications at stride 2), one convolution with
 * all phase sub-filters zero-padded to ⌈k/s⌉² taps (1.8× the multiplications, 48 ms), and phases
 * merged along channels before the interleave (+7 ms of strided copies).
 *
 * Sub-filters are re-laid out in JavaScript from the filter's values: filters are small
 * (≤ a few hundred thousand floats, ≈0.1 ms), where wasm `StridedSlice` with strides costs
 * ≈250 ns per element.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { convGeometry, phaseTap, type AxisPhase } from './conv-geometry.js';
import { withKernelScope } from './kernel-scope.js';
import { phaseInputGradient } from './phase-gradient.js';

export const CONV2D_BACKPROP_INPUT = 'Conv2DBackpropInput';

export function conv2dBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: unknown;
  attrs: NamedAttrMap;
}): TensorInfo {
  const { dy, filter } = args.inputs;
  const inputShape = args.attrs.inputShape as number[];
  const geo = convGeometry(inputShape, filter.shape, args.attrs, false);
  return withKernelScope(args.backend, (scope) => {
    const [, kw, ci, co] = filter.shape;
    const f = scope.read(filter);
    const dyNhwc = geo.channelsFirst ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
    const dx = phaseInputGradient(scope, geo, dyNhwc, ci, (rows, cols, dyPhase, padding) => {
      const g = scope.fromValues(
        [rows.taps, cols.taps, co, ci],
        swappedSubFilter(f, kw, ci, co, rows, cols, geo.sh, geo.sw),
      );
      return scope.run('Conv2D', { x: dyPhase, filter: g }, {
        strides: [1, 1],
        pad: [[0, 0], padding[0], padding[1], [0, 0]],
        dilations: [geo.dh, geo.dw],
        dataFormat: 'NHWC',
      });
    });
    return geo.channelsFirst ? scope.transpose(dx, [0, 3, 1, 2]) : dx;
  });
}

/** g[m′, l′, o, c] = f[phaseTap(rows, m′), phaseTap(cols, l′), c, o]; f is [kh, kw, ci, co]. */
function swappedSubFilter(
  f: Float32Array,
  kw: number,
  ci: number,
  co: number,
  rows: AxisPhase,
  cols: AxisPhase,
  sh: number,
  sw: number,
): Float32Array {
  const g = new Float32Array(rows.taps * cols.taps * co * ci);
  for (let m = 0; m < rows.taps; m++) {
    const p = phaseTap(rows, sh, m);
    for (let l = 0; l < cols.taps; l++) {
      const q = phaseTap(cols, sw, l);
      const src = (p * kw + q) * ci * co;
      const dst = (m * cols.taps + l) * co * ci;
      for (let c = 0; c < ci; c++) {
        const srcRow = src + c * co;
        for (let o = 0; o < co; o++) g[dst + o * ci + c] = f[srcRow + o];
      }
    }
  }
  return g;
}
