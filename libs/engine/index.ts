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
} from './backend.js';
export { EngineError, type EngineErrorCode } from './errors.js';
export { createWorkerPool, defaultWorkerCount, type TaskRef, type WorkerPool, type WorkerPoolOptions } from './worker-pool.js';
