/**
 * The project's training-mode BatchNorm op (libs/models/batch-norm-layer.ts) as two kernels of its
 * own on oneDNN's batch normalisation, over every axis but the last (x viewed as [M, C]):
 *
 *   `HardenBatchNorm`     (x, gamma, beta; epsilon) → y, mean, variance (biased, over M)
 *   `HardenBatchNormGrad` (x, dy, mean, variance, gamma; epsilon) → dx, dgamma, dbeta
 *
 * with y = γ·(x − μ)/σ + β, σ = √(var + ε), and the closed-form gradient the layer documents
 * (through μ and var included). They exist on the native engine only; the layer composes tfjs ops
 * elsewhere.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.js';
import { heapView, sizeOf } from './heap.js';

export const BATCH_NORM_KERNEL = 'HardenBatchNorm';
export const BATCH_NORM_GRAD_KERNEL = 'HardenBatchNormGrad';

type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs: NamedAttrMap };

function dims(x: TensorInfo): { m: number; c: number } {
  const c = x.shape[x.shape.length - 1];
  return { m: sizeOf(x.shape) / c, c };
}

export function createBatchNorm(addon: NativeAddon): KernelFunc {
  return ((args: Args) => {
    const { x, gamma, beta } = args.inputs;
    const backend = args.backend as BackendWasm;
    const { m, c } = dims(x);
    const y = backend.makeOutput(x.shape, 'float32');
    const mean = backend.makeOutput([c], 'float32');
    const variance = backend.makeOutput([c], 'float32');
    const v = (t: TensorInfo) => heapView(backend, t);
    addon.batchNormForward(m, c, args.attrs.epsilon as number, v(x), v(gamma), v(beta), v(y), v(mean), v(variance));
    return [y, mean, variance];
  }) as unknown as KernelFunc;
}

export function createBatchNormGrad(addon: NativeAddon): KernelFunc {
  return ((args: Args) => {
    const { x, dy, mean, variance, gamma } = args.inputs;
    const backend = args.backend as BackendWasm;
    const { m, c } = dims(x);
    const dx = backend.makeOutput(x.shape, 'float32');
    const dgamma = backend.makeOutput([c], 'float32');
    const dbeta = backend.makeOutput([c], 'float32');
    const v = (t: TensorInfo) => heapView(backend, t);
    addon.batchNormBackward(m, c, args.attrs.epsilon as number, v(x), v(dy), v(mean), v(variance), v(gamma), v(dx), v(dgamma), v(dbeta));
    return [dx, dgamma, dbeta];
  }) as unknown as KernelFunc;
}
