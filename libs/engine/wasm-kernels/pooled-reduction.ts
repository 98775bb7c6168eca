/**
 * Sum and mean over a contiguous run of axes that does not include the innermost one, computed by
 * XNNPACK average pooling.
 *
 * The wasm `Sum` and `Mean` kernels reduce only innermost axes and transpose the input first
 * otherwise. The reduction every bias gradient needs, Σ over [N, H, W] of dy [N, H, W, C], became a
 * 4-D transpose of the whole gradient: 11–50 ms for [64, 32, 32, 32] in a training step, the
 * largest cost after the convolutions. Viewing x as [outer, R, 1, inner] (R = product of the
 * reduced axes), `AvgPool` with an R × 1 window and stride gives mean[o, i] = (1/R)·Σ_r x[o, r, i]
 * in one pass with no copy (0.7 ms for the case above); the sum is R × the mean (float32 both
 * ways: the relative error is of the order of the shipped kernel's own, ≈1e-6 to 1e-5).
 */
import type { NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { tf } from '../tf.js';
import { sizeOf, withKernelScope } from './kernel-scope.js';

export interface PooledReduction {
  outer: number;
  reduced: number;
  inner: number;
  /** Output shape, with kept reduced axes as 1 when keepDims. */
  outShape: number[];
}

/**
 * How to reduce `x` over `axis` by pooling, or undefined when the shipped kernel should run: other
 * dtypes, empty tensors, reductions that include the innermost axis (no transpose needed there),
 * axes that are not one contiguous run, or nothing to reduce.
 */
export function planPooledReduction(x: TensorInfo, axis: unknown, keepDims: boolean): PooledReduction | undefined {
  if (x.dtype !== 'float32' || x.shape.length === 0 || sizeOf(x.shape) === 0) return undefined;
  const axes = [...tf.util.parseAxisParam(axis as number | number[], x.shape)].sort((a, b) => a - b);
  const rank = x.shape.length;
  if (axes.length === 0 || axes[axes.length - 1] === rank - 1) return undefined;
  if (axes.some((a, i) => i > 0 && a !== axes[i - 1] + 1)) return undefined;
  const first = axes[0];
  const last = axes[axes.length - 1];
  const reduced = sizeOf(x.shape.slice(first, last + 1));
  if (reduced < 2) return undefined;
  const outShape = keepDims
    ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d))
    : x.shape.filter((_, i) => i < first || i > last);
  return { outer: sizeOf(x.shape.slice(0, first)), reduced, inner: sizeOf(x.shape.slice(last + 1)), outShape };
}

/** Mean (or sum, `scaleBySize`) of x over the planned axes. */
export function pooledReduction(backend: unknown, x: TensorInfo, plan: PooledReduction, scaleBySize: boolean): TensorInfo {
  return withKernelScope(backend, (scope) => {
    const view = scope.reshape(x, [plan.outer, plan.reduced, 1, plan.inner]);
    const pooled = scope.run('AvgPool', { x: view }, {
      filterSize: [plan.reduced, 1],
      strides: [plan.reduced, 1],
      pad: 'valid',
    });
    const mean = scope.reshape(pooled, plan.outShape);
    if (!scaleBySize) return mean;
    const size = scope.fromValues([], new Float32Array([plan.reduced]));
    return scope.run('Multiply', { a: mean, b: size });
  });
}

/** Wraps a shipped reduction kernel: pooled when `planPooledReduction` allows, shipped otherwise. */
export function pooledOrShipped(
  shipped: tf.KernelFunc,
  scaleBySize: boolean,
): (args: { inputs: { x: TensorInfo }; backend: unknown; attrs: NamedAttrMap }) => TensorInfo | TensorInfo[] {
  return (args) => {
    const { x } = args.inputs;
    const plan = planPooledReduction(x, args.attrs.axis, Boolean(args.attrs.keepDims));
    if (!plan) return shipped(args as never);
    return pooledReduction(args.backend, x, plan, scaleBySize);
  };
}
