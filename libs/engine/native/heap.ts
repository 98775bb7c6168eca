/**
 * Float32Array views on the wasm heap, so the native kernels read and write tensors where the wasm
 * backend keeps them (no copy in or out).
 *
 * A view is valid until the heap grows (any allocation may grow it and replace its ArrayBuffer):
 * kernels allocate their outputs first and take their views afterwards, and never keep one.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { TensorInfo } from '@tensorflow/tfjs-core';

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The tensor's float32 values in place on the heap. */
export function heapView(backend: BackendWasm, t: TensorInfo): Float32Array {
  const data = backend.dataIdMap.get(t.dataId);
  if (!data) throw new Error('native kernel: tensor has no data on the wasm backend');
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  return new Float32Array(heap.buffer, data.memoryOffset, sizeOf(t.shape));
}

/** True when every given tensor is a non-empty float32 tensor (what the native kernels take). */
export function allFloat32(...ts: Array<TensorInfo | undefined>): boolean {
  return ts.every((t) => t === undefined || (t.dtype === 'float32' && sizeOf(t.shape) > 0));
}
