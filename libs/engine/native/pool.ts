/**
 * `MaxPool`, `AvgPool` and their gradients `MaxPoolGrad`, `AvgPoolGrad` on oneDNN (NHWC). Average
 * pooling excludes the padding from the count, as TensorFlow does; its gradient includes it, as tfjs
 * does on every backend (the two agree without padding). The max-pool gradient recomputes
 * the argmax from the forward input (oneDNN's workspace), so ties go to the first maximum in the
 * window. Dilated pools and geometries oneDNN cannot express run the previous kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { NativeAddon } from './addon.js';
import { allFloat32, heapView } from './heap.js';

type Shape4 = [number, number, number, number];

export function nativePoolGeometry(xShape: readonly number[], attrs: NamedAttrMap): { geo: Int32Array; outShape: Shape4 } | undefined {
  if (xShape.length !== 4) return undefined;
  const info = tf.backend_util.computePool2DInfo(
    xShape as Shape4,
    attrs.filterSize as number | [number, number],
    attrs.strides as number | [number, number],
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const { top, bottom, left, right } = info.padInfo;
  if (info.outHeight <= 0 || info.outWidth <= 0 || Math.min(top, bottom, left, right) < 0) return undefined;
  // oneDNN needs every window to hold at least one pixel of the image.
  if (top >= info.filterHeight || bottom >= info.filterHeight || left >= info.filterWidth || right >= info.filterWidth) return undefined;
  const rows = Math.floor((info.inHeight + top + bottom - info.filterHeight) / info.strideHeight) + 1;
  const cols = Math.floor((info.inWidth + left + right - info.filterWidth) / info.strideWidth) + 1;
  if (rows !== info.outHeight || cols !== info.outWidth) return undefined;
  const geo = Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth,
    info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, top, left, bottom, right,
  ]);
  return { geo, outShape: [info.batchSize, info.outHeight, info.outWidth, info.inChannels] };
}

type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap };

export function createPool(addon: NativeAddon, max: boolean, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { x } = args.inputs;
    const plan = allFloat32(x) ? nativePoolGeometry(x.shape, args.attrs) : undefined;
    if (!plan) return previous(args as never);
    const backend = args.backend as BackendWasm;
    const y = backend.makeOutput(plan.outShape, 'float32');
    addon.poolForward(max, plan.geo, heapView(backend, x), heapView(backend, y));
    return y;
  }) as unknown as KernelFunc;
}

export function createPoolGrad(addon: NativeAddon, max: boolean, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { dy, input } = args.inputs;
    const plan = allFloat32(dy, input) ? nativePoolGeometry(input.shape, args.attrs) : undefined;
    if (!plan || !plan.outShape.every((d, i) => d === dy.shape[i])) return previous(args as never);
    const backend = args.backend as BackendWasm;
    const dx = backend.makeOutput(input.shape, 'float32');
    addon.poolBackward(max, plan.geo, heapView(backend, input), heapView(backend, dy), heapView(backend, dx));
    return dx;
  }) as unknown as KernelFunc;
}
