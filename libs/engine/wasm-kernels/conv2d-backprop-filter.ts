/**
 * `Conv2DBackpropFilter` for the wasm backend: the gradient of conv2d with respect to its filter.
 *
 * Math (NHWC; x [N, H, W, Ci], dy [N, Ho, Wo, Co], stride s, padding `top`/`left` from
 * computeConv2DInfo, x read as zero outside the image):
 *   df[p, q, c, o] = Σ_{n, a, b} x[n, a·s_h + p − top, b·s_w + q − left, c] · dy[n, a, b, o]
 *
 * Approach ("batch and channels swapped"): read x as a batch of Ci single images of N channels and
 * dy as a filter whose Ho × Wo taps are spaced s apart:
 *   xT  [Ci, H, W, N]   = transpose(x)         (two transposes, see below)
 *   dyT [Ho, Wo, N, Co] = transpose(dy, [1, 2, 0, 3])
 *   df  = transpose(conv2d(xT, dyT, stride 1, dilation s, padding top/left), [1, 2, 0, 3])
 * since conv2d(xT, dyT)[c, p, q, o] = Σ_{a, b, n} xT[c, p + a·s_h − top, q + b·s_w − left, n] ·
 * dyT[a, b, n, o]. One XNNPACK convolution does all the multiplications (as many as the forward
 * convolution) with stride and padding handled by its indirection buffer; nothing is copied per
 * filter tap. The padding after is chosen so the output has exactly kh × kw pixels (when x has
 * rows no tap reads, the extra output rows are cropped).
 *
 * x → xT moves the innermost axis outside and the outermost inside; the wasm transpose walks the
 * output in order, so its cost depends on the read strides. Measured (process CPU time): for large
 * images ([64, 32·32, 32]) two steps [N, H·W, Ci] → [H·W, N, Ci] → [Ci, H·W·N] take 15–18 ms and
 * the direct permutation 28–38 ms; for small images or few channels ([64, 16·16, 64],
 * [128, 8·8, 256], [64, 32·32, 3]) the direct one is 10–45% faster.
 *
 * Measured on the reference CNN (batch 64, one thread, quiet machine; `bench/kernels.ts`):
 * 34 ms (32×32×3 → 32), 61–66 ms (32×32×32 → 64, stride 2), 52–56 ms (16×16×64 → 128, stride 2),
 * against 6, 28 and 30 ms for the forward convolutions: the multiplications run at forward speed,
 * and the rest is XNNPACK repacking dyT (≈15 ns per element of dy) and the transposes.
 *
 * Why: the other constructions measured on the reference CNN (batch 64, one thread) all pay for
 * the same repacking of an operand as large as dy (XNNPACK packs a filter or matmul right-hand
 * side on every call, ≈15 ns per element), plus more copies: im2col through a depthwise
 * convolution with one-hot filters (29 ms for 32×32×32, stride 2) followed by a transpose (31 ms)
 * and `BatchMatMul` (50 ms uncached); `BatchMatMul` with transpose flags (390–510 ms); packing x
 * instead of dy for stride 1 (a 3-channel output makes the GEMM 3/8 efficient, 45 ms vs 40 ms).
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { assertDyShape, convGeometry } from './conv-geometry.js';
import { withKernelScope, type KernelScope } from './kernel-scope.js';

export const CONV2D_BACKPROP_FILTER = 'Conv2DBackpropFilter';

export function conv2dBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: unknown;
  attrs: NamedAttrMap;
}): TensorInfo {
  const { x, dy } = args.inputs;
  const filterShape = args.attrs.filterShape as [number, number, number, number];
  const geo = convGeometry(x.shape, filterShape, args.attrs, false);
  return withKernelScope(args.backend, (scope) => {
    const { inH, inW, inC, outH, outW, outC, kh, kw, sh, sw, top, left } = geo;
    const xNhwc = geo.channelsFirst ? scope.transpose(x, [0, 2, 3, 1]) : x;
    const dyNhwc = geo.channelsFirst ? scope.transpose(dy, [0, 2, 3, 1]) : dy;
    assertDyShape(geo, dyNhwc.shape);
    const xT = transposeToChwn(scope, xNhwc);
    const dyT = scope.transpose(dyNhwc, [1, 2, 0, 3]);
    // Output rows = top + inH + bottom − (outH − 1)·sh; choose bottom so that this is kh.
    const bottom = kh + (outH - 1) * sh - inH - top;
    const right = kw + (outW - 1) * sw - inW - left;
    const out = scope.run('Conv2D', { x: xT, filter: dyT }, {
      strides: [1, 1],
      pad: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]],
      dilations: [sh, sw],
      dataFormat: 'NHWC',
    });
    const cropped = scope.slice(out, [0, 0, 0, 0], [inC, kh, kw, outC]);
    return scope.transpose(cropped, [1, 2, 0, 3]);
  });
}

/** x [N, H, W, C] → [C, H, W, N] by the faster of the two measured routes (see header). */
function transposeToChwn(scope: KernelScope, x: TensorInfo): TensorInfo {
  const [, h, w, c] = x.shape;
  if (h * w <= 256 || c <= 4) return scope.transpose(x, [3, 1, 2, 0]);
  return scope.transpose(scope.transpose(x, [1, 2, 0, 3]), [3, 0, 1, 2]);
}
