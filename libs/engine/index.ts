export { tf, tfl } from './tf.js';
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Variable, NamedTensorMap } from './tf.js';
export {
  BACKEND_NAMES,
  currentEngine,
  initEngine,
  probeBackends,
  resolveBackendChoice,
  type BackendChoice,
  type BackendName,
  type BackendStatus,
  type EngineInfo,
  type EngineOptions,
} from './backend.js';
export {
  BATCH_NORM_GRAD_KERNEL,
  BATCH_NORM_KERNEL,
  loadNative,
  NATIVE_ENABLE_HINT,
  NATIVE_KERNEL_NAMES,
  nativeKernelsActive,
  nativeThreads,
  registerNativeKernels,
  setNativeThreads,
  unregisterNativeKernels,
  type NativeAddon,
  type NativeLoad,
} from './native/index.js';
export { EngineError, type EngineErrorCode } from './errors.js';
export { RemoteError, toErrorShape, type ErrorShape } from './thread-error.js';
export { createWorkerPool, defaultWorkerCount, type TaskRef, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
export { countGpuWork, gpuWorkBetween, installGpuCounters, readGpuCounters, type GpuWork } from './webgpu-counters.js';
