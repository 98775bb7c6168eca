/**
 * `DepthwiseConv2dNativeBackpropFilter` for the wasm backend: the gradient of depthwiseConv2d with
 * respect to its filter.
 *
 * Math (NHWC; x [N, H, W, C], dy [N, Ho, Wo, C·M], stride s, dilation d, padding `top`/`left`,
 * x read as zero outside the image):
 *   df[p, q, c, m] = Σ_{n, a, b} x[n, a·s_h + p·d_h − top, b·s_w + q·d_w − left, c] · dy[n, a, b, c·M + m]
 *
 * Approach ("stacked images"): one XNNPACK `DepthwiseConv2dNative` whose input is the whole batch
 * stacked vertically into one image and whose filter is dy, with no transpose at all:
 *   xs  [1, N·Hp, Wp, C]     = pad(x) per image to Hp = Hq·s_h rows (top rows: `top`), reshaped
 *   dys [N·Hq, Wo, C, M]     = pad(dy) per image to Hq rows (zeros), reshaped
 *   out [1, ≥kh·d, ≥kw·d, C·M] = depthwiseConv2d(xs, dys, stride 1, dilation s)
 * Filter tap u = n·Hq + a reads stacked row y + u·s_h = n·Hp + a·s_h + y, i.e. image n's padded row
 * a·s_h + y, so out[0, p·d_h, q·d_w, c·M + m] = df[p, q, c, m]. Hq = Ho + ⌊(kh−1)·d_h / s_h⌋ (at
 * least) keeps every tap of a real dy row inside its own image; the padded dy rows are zero, so
 * reads that cross into the next image add nothing. The batch reduction happens inside the
 * convolution, and only x and dy are copied once each (by `PadV2`).
 *
 * Cost: XNNPACK has no fast path for a kernel this large, so the pass runs at ≈5 ns per
 * multiplication, ≈8× a forward depthwise pass at stride 1 (x [64, 32, 32, 32], 3×3), ≈2–9× at
 * stride 2; the multiplications are few (kh·kw per dy element), and the two alternatives measured
 * on the same machine were slower: the batch folded into channels (x as one [Hp, Wp, N·C] image,
 * dy as an Ho × Wo kernel, then a sum over N) 1.5–2×, and per tap a flat shift of dy (`PadV2`),
 * a product with x and an `AvgPool` sum 2–3×. Anything faster needs a wasm kernel of our own;
 * none of the project's models uses depthwise convolutions yet.
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { assertDyShape, convGeometry } from './conv-geometry.js';
import { withKernelScope } from './kernel-scope.js';

export const DEPTHWISE_BACKPROP_FILTER = 'DepthwiseConv2dNativeBackpropFilter';

export function depthwiseConv2dBackpropFilter(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: unknown;
  attrs: NamedAttrMap;
}): TensorInfo {
  const { x, dy } = args.inputs;
  const filterShape = args.attrs.filterShape as [number, number, number, number];
  const geo = convGeometry(x.shape, filterShape, args.attrs, true);
  return withKernelScope(args.backend, (scope) => {
    const { batch: n, inH, inW, inC: c, outH, outW, kh, kw, sh, sw, dh, dw, top, left } = geo;
    const mult = filterShape[3];
    assertDyShape(geo, dy.shape);
    const hq = Math.max(outH + Math.floor(((kh - 1) * dh) / sh), Math.ceil((top + inH) / sh));
    const hp = hq * sh;
    const wp = Math.max(left + inW, (outW - 1) * sw + (kw - 1) * dw + 1);
    const xs = scope.reshape(
      scope.pad(x, [[0, 0], [top, hp - top - inH], [left, wp - left - inW], [0, 0]]),
      [1, n * hp, wp, c],
    );
    const dys = scope.reshape(scope.pad(dy, [[0, 0], [0, hq - outH], [0, 0], [0, 0]]), [n * hq, outW, c, mult]);
    // Output rows = n·hp + extra − (n·hq − 1)·sh = extra + sh; we need (kh − 1)·dh + 1 of them.
    const extra = Math.max(0, (kh - 1) * dh + 1 - sh);
    const out = scope.run('DepthwiseConv2dNative', { x: xs, filter: dys }, {
      strides: [1, 1],
      pad: [[0, 0], [0, extra], [0, 0], [0, 0]],
      dilations: [sh, sw],
    });
    if (dh === 1 && dw === 1) {
      return scope.reshape(scope.slice(out, [0, 0, 0, 0], [1, kh, kw, c * mult]), [kh, kw, c, mult]);
    }
    // Dilated filter: keep every d-th output pixel (a tiny tensor, picked out in JavaScript).
    const values = scope.read(out);
    const [, , ow, ch] = out.shape;
    const df = new Float32Array(kh * kw * ch);
    for (let p = 0; p < kh; p++) {
      for (let q = 0; q < kw; q++) {
        const src = (p * dh * ow + q * dw) * ch;
        df.set(values.subarray(src, src + ch), (p * kw + q) * ch);
      }
    }
    return scope.fromValues([kh, kw, c, mult], df);
  });
}
