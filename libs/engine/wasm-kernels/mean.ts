/**
 * `Mean` for the wasm backend: the mean over a contiguous run of non-innermost axes (BatchNorm
 * moments over [N, H, W], global average pooling over [H, W]) as one `AvgPool` with an R × 1
 * window (see `pooled-reduction.ts`); every other reduction runs the shipped kernel.
 */
import type { KernelFunc } from '@tensorflow/tfjs-core';
import { pooledOrShipped } from './pooled-reduction.js';

export const MEAN = 'Mean';

export function createMean(shipped: KernelFunc): KernelFunc {
  return pooledOrShipped(shipped, false) as unknown as KernelFunc;
}
