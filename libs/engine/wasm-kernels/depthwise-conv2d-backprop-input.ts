/**
 * `DepthwiseConv2dNativeBackpropInput` for the wasm backend: the gradient of depthwiseConv2d with
 * respect to its input.
 *
 * Math (NHWC; x [N, H, W, C], filter f [kh, kw, C, M] with channel multiplier M, dy [N, Ho, Wo, C·M],
 * stride s, dilation d (tfjs allows d > 1 only with s = 1), padding `top`/`left`):
 *   dx[n, i, j, c] = Σ_{p, q, m} dy[n, (i + top − p·d_h)/s_h, (j + left − q·d_w)/s_w, c·M + m] · f[p, q, c, m]
 * over the taps for which both divisions are exact and land inside dy.
 *
 * Approach: the phase decomposition of `phase-gradient.ts`, each phase one XNNPACK
 * `DepthwiseConv2dNative` (stride 1, the original dilation, explicit padding, multiplier 1) of dy's
 * C·M channels with the flipped sub-filter g[m′, l′, c·M + m, 0] = f[ph(m′), pw(l′), c, m]; with
 * M > 1 the M products of each input channel are then added by `Sum` over the innermost axis
 * ([N·qh·qw·C, M] → [N·qh·qw·C], no transpose). Like the conv2d kernel it never multiplies an
 * inserted zero, and with stride 1 it is one depthwise convolution.
 *
 * Sub-filters are re-laid out in JavaScript (filters are tiny; strided slices are slow on wasm).
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { convGeometry, phaseTap, type AxisPhase } from './conv-geometry.js';
import { withKernelScope } from './kernel-scope.js';
import { phaseInputGradient } from './phase-gradient.js';

export const DEPTHWISE_BACKPROP_INPUT = 'DepthwiseConv2dNativeBackpropInput';

export function depthwiseConv2dBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: unknown;
  attrs: NamedAttrMap;
}): TensorInfo {
  const { dy, filter } = args.inputs;
  const inputShape = args.attrs.inputShape as number[];
  const geo = convGeometry(inputShape, filter.shape, args.attrs, true);
  return withKernelScope(args.backend, (scope) => {
    const [, kw, c, mult] = filter.shape;
    const f = scope.read(filter);
    return phaseInputGradient(scope, geo, dy, c, (rows, cols, dyPhase, padding) => {
      const g = scope.fromValues([rows.taps, cols.taps, c * mult, 1], flippedSubFilter(f, kw, c * mult, rows, cols, geo.sh, geo.sw));
      const y = scope.run('DepthwiseConv2dNative', { x: dyPhase, filter: g }, {
        strides: [1, 1],
        pad: [[0, 0], padding[0], padding[1], [0, 0]],
        dilations: [geo.dh, geo.dw],
      });
      if (mult === 1) return y;
      const [n, qh, qw] = y.shape;
      const summed = scope.run('Sum', { x: scope.reshape(y, [n * qh * qw * c, mult]) }, { axis: [1], keepDims: false });
      return scope.reshape(summed, [n, qh, qw, c]);
    });
  });
}

/** g[m′, l′, k, 0] = f[phaseTap(rows, m′), phaseTap(cols, l′), k] with k = c·M + m over all channels. */
function flippedSubFilter(f: Float32Array, kw: number, channels: number, rows: AxisPhase, cols: AxisPhase, sh: number, sw: number): Float32Array {
  const g = new Float32Array(rows.taps * cols.taps * channels);
  for (let m = 0; m < rows.taps; m++) {
    const p = phaseTap(rows, sh, m);
    for (let l = 0; l < cols.taps; l++) {
      const q = phaseTap(cols, sw, l);
      const src = (p * kw + q) * channels;
      g.set(f.subarray(src, src + channels), (m * cols.taps + l) * channels);
    }
  }
  return g;
}
