/**
 * `Identity` for the wasm backend: shares the input's memory (one more reference) instead of
 * copying it, as the cpu and webgl backends do.
 *
 * tfjs clones every tensor an op saves for its gradient (`Engine.saveTensorsForBackwardMode`), and
 * the shipped wasm kernel copies each clone: three full copies of every activation per training
 * step (≈7 ms a step on the reference CNN). Tensors are immutable and every kernel writes only to
 * the outputs it allocates, so sharing is safe; the memory is freed when its last reference is
 * disposed, exactly as for `Reshape`. String tensors keep the shipped kernel.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

export const IDENTITY = 'Identity';

export function createIdentity(shipped: KernelFunc): KernelFunc {
  const identity = (args: { inputs: { x: TensorInfo }; backend: unknown }): TensorInfo | TensorInfo[] => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return shipped(args as never);
    (args.backend as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return identity as unknown as KernelFunc;
}
