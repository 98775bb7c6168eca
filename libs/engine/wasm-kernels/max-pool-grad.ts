/**
 * `MaxPoolGrad` for the wasm backend, replacing the shipped kernel, which is wrong.
 *
 * tfjs-backend-wasm 4.22's `MaxPoolGrad` sends the gradient of a window whose values are all
 * negative to the window's first pixel instead of its maximum (its running maximum starts at 0, as
 * far as its outputs show): a 2×2 window [-3, -1; -5, -0.5] routes dy to the -3. Any model that
 * max-pools something other than a ReLU's output (LeakyReLU, a BatchNorm or a bias after the last
 * ReLU, a raw convolution) gets wrong input gradients on the wasm engine, so attacks on it are
 * weaker than they should be and a robustness report reads too high.
 *
 * This kernel does what the cpu backend and oneDNN do: for each output pixel it recomputes the
 * argmax of its window from the forward input (the first maximum in row-major window order wins a
 * tie; padding never wins; NaN never wins, so an all-NaN window passes no gradient) and adds dy
 * there. It runs in JavaScript on the tensors in place on the wasm heap (NHWC, channels innermost,
 * so the inner loop is contiguous); max-pool gradients are a small part of a training step next to
 * the convolutions (and this loop measured about 10× faster than the shipped C++ kernel on a
 * [128, 24, 24, 64] input, 2×2 stride 2, on the shared 2-core machine). Geometry comes from
 * `computePool2DInfo`, as the forward kernel's does.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { heapView } from '../native/heap.js';
import { tf } from '../tf.js';

export const MAX_POOL_GRAD = 'MaxPoolGrad';

type Shape4 = [number, number, number, number];

export function maxPoolGrad(args: { inputs: { dy: TensorInfo; input: TensorInfo }; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const { dy, input } = args.inputs;
  const backend = args.backend as BackendWasm;
  if (input.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`MaxPoolGrad: float32 tensors only, got ${input.dtype} and ${dy.dtype}`);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    args.attrs.filterSize as number | [number, number],
    args.attrs.strides as number | [number, number],
    1,
    args.attrs.pad as 'same' | 'valid' | number,
    args.attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth } = info;
  const { filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  if (dy.shape.join() !== [batchSize, outHeight, outWidth, c].join()) {
    throw new Error(`MaxPoolGrad: dy has shape [${dy.shape}], the pool's output is [${[batchSize, outHeight, outWidth, c]}]`);
  }
  // Allocate first: the views are taken afterwards, since an allocation may grow the heap.
  const out = backend.makeOutput(input.shape, 'float32');
  const x = heapView(backend, input);
  const g = heapView(backend, dy);
  const dx = heapView(backend, out);
  dx.fill(0);
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  for (let b = 0; b < batchSize; b++) {
    const image = b * inHeight * inWidth * c;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      const hFrom = Math.max(h0, 0);
      const hTo = Math.min(h0 + filterHeight, inHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        const wFrom = Math.max(w0, 0);
        const wTo = Math.min(w0 + filterWidth, inWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let h = hFrom; h < hTo; h++) {
          for (let w = wFrom; w < wTo; w++) {
            const at = image + (h * inWidth + w) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[at + ch];
              if (v > best[ch] || (where[ch] < 0 && v === -Infinity)) {
                best[ch] = v;
                where[ch] = at + ch;
              }
            }
          }
        }
        const from = ((b * outHeight + oh) * outWidth + ow) * c;
        for (let ch = 0; ch < c; ch++) if (where[ch] >= 0) dx[where[ch]] += g[from + ch];
      }
    }
  }
  return out;
}
