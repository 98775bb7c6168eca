/**
 * `Sum` for the wasm backend: Σ over a contiguous run of non-innermost axes (bias gradients:
 * Σ_{n,h,w} dy[n, h, w, c]) as R × an R × 1 `AvgPool` (see `pooled-reduction.ts`, 0.7 ms where the
 * shipped kernel's transpose takes 11–50 ms on [64, 32, 32, 32]); every other reduction runs the
 * shipped kernel.
 */
import type { KernelFunc } from '@tensorflow/tfjs-core';
import { pooledOrShipped } from './pooled-reduction.js';

export const SUM = 'Sum';

export function createSum(shipped: KernelFunc): KernelFunc {
  return pooledOrShipped(shipped, true) as unknown as KernelFunc;
}
