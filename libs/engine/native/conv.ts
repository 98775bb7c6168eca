/**
 * Convolution kernels on oneDNN: `Conv2D`, `FusedConv2D` (bias, linear or ReLU), and the gradients
 * `Conv2DBackpropInput` and `Conv2DBackpropFilter`, NHWC with HWIO filters as tfjs stores them.
 *
 * Geometry and padding come from `computeConv2DInfo`, exactly as the tfjs kernels compute them:
 * 'same' pads asymmetrically (the odd pixel after), which oneDNN takes as separate before/after
 * padding. NCHW, other activations, bias shapes other than [outC], and geometries oneDNN's output
 * size formula does not reproduce run the kernel that was registered before (wasm's).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import type { NativeAddon } from './addon.js';
import { allFloat32, heapView, sizeOf } from './heap.js';

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

export interface NativeConvGeometry {
  /** [n, h, w, c, o, kh, kw, oh, ow, sh, sw, dh, dw, pt, pl, pb, pr] as the addon takes it. */
  geo: Int32Array;
  xShape: Shape4;
  outShape: Shape4;
  filterShape: Shape4;
}

/** The addon's geometry for an NHWC conv, or undefined when oneDNN cannot express it. */
export function nativeConvGeometry(xShape: readonly number[], filterShape: readonly number[], attrs: NamedAttrMap): NativeConvGeometry | undefined {
  if (((attrs.dataFormat as string | undefined) ?? 'NHWC') !== 'NHWC' || xShape.length !== 4 || filterShape.length !== 4) return undefined;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    filterShape as Shape4,
    attrs.strides as number | [number, number],
    (attrs.dilations as number | [number, number] | undefined) ?? 1,
    attrs.pad as Pad,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
  const { top, bottom, left, right } = info.padInfo;
  if (info.outHeight <= 0 || info.outWidth <= 0 || Math.min(top, bottom, left, right) < 0) return undefined;
  // oneDNN derives the output size as ⌊(in + before + after − effective filter) / stride⌋ + 1.
  const rows = Math.floor((info.inHeight + top + bottom - info.effectiveFilterHeight) / info.strideHeight) + 1;
  const cols = Math.floor((info.inWidth + left + right - info.effectiveFilterWidth) / info.strideWidth) + 1;
  if (rows !== info.outHeight || cols !== info.outWidth) return undefined;
  const geo = Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outChannels, info.filterHeight, info.filterWidth, info.outHeight, info.outWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    top, left, bottom, right,
  ]);
  return {
    geo,
    xShape: [info.batchSize, info.inHeight, info.inWidth, info.inChannels],
    outShape: [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    filterShape: [info.filterHeight, info.filterWidth, info.inChannels, info.outChannels],
  };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1 };

type Args = { inputs: Record<string, TensorInfo | undefined>; backend: unknown; attrs: NamedAttrMap };

export function createConv2D(addon: NativeAddon, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const g = allFloat32(x, filter) ? nativeConvGeometry(x.shape, filter.shape, args.attrs) : undefined;
    if (!g) return previous(args as never);
    const backend = args.backend as BackendWasm;
    const y = backend.makeOutput(g.outShape, 'float32');
    addon.conv2dForward(g.geo, heapView(backend, x), heapView(backend, filter), null, heapView(backend, y), 0);
    return y;
  }) as unknown as KernelFunc;
}

export function createFusedConv2D(addon: NativeAddon, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const activation = ACTIVATIONS[(args.attrs.activation as string | undefined) ?? 'linear'];
    const g =
      x && filter && activation !== undefined && !preluActivationWeights && allFloat32(x, filter, bias)
        ? nativeConvGeometry(x.shape, filter.shape, args.attrs)
        : undefined;
    if (!g || (bias && sizeOf(bias.shape) !== g.outShape[3])) return previous(args as never);
    const backend = args.backend as BackendWasm;
    const y = backend.makeOutput(g.outShape, 'float32');
    addon.conv2dForward(g.geo, heapView(backend, x!), heapView(backend, filter!), bias ? heapView(backend, bias) : null, heapView(backend, y), activation);
    return y;
  }) as unknown as KernelFunc;
}

export function createConv2DBackpropInput(addon: NativeAddon, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const inputShape = args.attrs.inputShape as number[];
    const g = allFloat32(dy, filter) ? nativeConvGeometry(inputShape, filter.shape, args.attrs) : undefined;
    if (!g || !sameShape(dy.shape, g.outShape)) return previous(args as never);
    const backend = args.backend as BackendWasm;
    const dx = backend.makeOutput(g.xShape, 'float32');
    addon.conv2dBackwardData(g.geo, heapView(backend, dy), heapView(backend, filter), heapView(backend, dx));
    return dx;
  }) as unknown as KernelFunc;
}

export function createConv2DBackpropFilter(addon: NativeAddon, previous: KernelFunc): KernelFunc {
  return ((args: Args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const filterShape = args.attrs.filterShape as number[];
    const g = allFloat32(x, dy) ? nativeConvGeometry(x.shape, filterShape, args.attrs) : undefined;
    if (!g || !sameShape(dy.shape, g.outShape)) return previous(args as never);
    const backend = args.backend as BackendWasm;
    const dw = backend.makeOutput(g.filterShape, 'float32');
    addon.conv2dBackwardFilter(g.geo, heapView(backend, x), heapView(backend, dy), heapView(backend, dw), null);
    return dw;
  }) as unknown as KernelFunc;
}
