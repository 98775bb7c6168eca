/**
 * Counts the GPU work and the GPU→CPU round trips a piece of code causes, so that "no read-backs
 * inside a step" is a number a test can pin, also on the software adapter (llvmpipe), whose timings
 * say nothing about a real GPU but whose dispatch and read-back counts are the same tfjs programs.
 *
 * How: the current backend *instance*'s methods (webgpu) or the tfjs engine instance's read methods
 * (other backends) are wrapped once (own properties shadowing the class's methods; classes and
 * prototypes are untouched, and every wrapper calls the original with the same arguments). Counters only ever increase; a scope is the difference of two snapshots.
 *
 * On `webgpu` (tfjs-backend-webgpu's `WebGPUBackend`):
 * - `dispatches`: `recordAndSubmit` calls — one compute dispatch (`dispatchWorkgroups`) each, the
 *   same count as the backend's own `dispatchCountInPass`, but never reset. Programs whose output is
 *   empty dispatch nothing and are not counted, nor are tfjs's CPU-forwarded small ops.
 * - `submits`: `submitQueue` calls (queue submissions; one every `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`
 *   dispatches, and one before each read-back's buffer map).
 * - `readbacks`: GPU→CPU maps of tensor data: `getBufferData` calls (what `await t.data()` /
 *   `t.array()` cost when the values are on the GPU), plus `readSync` calls for data not on the CPU
 *   (which fail in Node anyway). Reading values tfjs still holds on the CPU (a tensor made from a
 *   typed array and not yet used by a GPU program) maps nothing and is not counted.
 * - `uploads`: CPU→GPU copies of tensor data (`uploadToGPU` of data held on the CPU): not round
 *   trips, but each one is a tensor built from JS values, which a step should not need either.
 *
 * On the other backends (`cpu`, `wasm`, `native`): there is no device memory to map, so
 * `readbacks` counts what would be one on a GPU — reads of tensor values into JS through tfjs's
 * engine (`data`, `dataSync`, `array`, `arraySync`; the engine instance's `read`/`readSync` are
 * wrapped), not the wasm kernels' reads inside their own heap. `dispatches`, `submits` and `uploads`
 * are `null` there.
 *
 * Scopes count everything the backend does while they are open, including work of concurrent async
 * code: measure one thing at a time.
 */
import { tf } from './tf.js';

export interface GpuWork {
  /** The backend counted (tfjs's name: `webgpu`, `wasm`, `cpu`). */
  backend: string;
  /** Compute dispatches (webgpu); `null` on other backends. */
  dispatches: number | null;
  /** Queue submissions (webgpu); `null` on other backends. */
  submits: number | null;
  /** GPU→CPU reads of tensor data (other backends: reads of tensor values into JS). */
  readbacks: number;
  /** CPU→GPU uploads of tensor data (webgpu); `null` on other backends. */
  uploads: number | null;
}

interface Counters {
  gpu: boolean;
  dispatches: number;
  submits: number;
  readbacks: number;
  uploads: number;
}

/** The subset of WebGPUBackend this module touches (its methods are public in the package's types). */
interface WebgpuLike {
  recordAndSubmit(...args: unknown[]): unknown;
  submitQueue(...args: unknown[]): unknown;
  getBufferData(...args: unknown[]): Promise<unknown>;
  uploadToGPU(dataId: object): unknown;
  readSync(dataId: object): unknown;
  tensorMap: { get(dataId: object): { values: unknown; resource: unknown; dtype: string } | undefined };
}

const installed = new WeakMap<object, Counters>();

function isWebgpu(backend: object): backend is WebgpuLike {
  const b = backend as Partial<WebgpuLike>;
  return typeof b.recordAndSubmit === 'function' && typeof b.getBufferData === 'function' && typeof b.submitQueue === 'function';
}

function wrap<K extends string>(target: Record<K, unknown>, key: K, make: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): void {
  const original = (target[key] as (...args: unknown[]) => unknown).bind(target);
  Object.defineProperty(target, key, { value: make(original), configurable: true, writable: true });
}

function installWebgpu(b: WebgpuLike, c: Counters): void {
  const t = b as unknown as Record<string, unknown>;
  wrap(t, 'recordAndSubmit', (f) => (...args) => {
    c.dispatches++;
    return f(...args);
  });
  wrap(t, 'submitQueue', (f) => (...args) => {
    c.submits++;
    return f(...args);
  });
  wrap(t, 'getBufferData', (f) => (...args) => {
    c.readbacks++;
    return f(...args);
  });
  wrap(t, 'uploadToGPU', (f) => (...args) => {
    const data = b.tensorMap.get(args[0] as object);
    if (data && data.resource == null && data.values != null) c.uploads++;
    return f(...args);
  });
  wrap(t, 'readSync', (f) => (...args) => {
    const data = b.tensorMap.get(args[0] as object);
    if (data && data.values == null && data.dtype !== 'string' && data.dtype !== 'complex64') c.readbacks++;
    return f(...args);
  });
}

let engineWrapped = false;

/**
 * Other backends: reads of tensor values through tfjs's engine (`Tensor.data`, `dataSync`, `array`,
 * `arraySync`, `bytes`), counted for the backend current at the time. Kernels reading their inputs
 * inside a CPU backend's own memory (wasm's slice and concat do) go to the backend directly, are
 * no round trip, and are not counted. One outer call counts once.
 */
function wrapEngineReads(): void {
  if (engineWrapped) return;
  engineWrapped = true;
  const engine = tf.engine() as unknown as Record<string, unknown>;
  let depth = 0;
  const count = () => {
    if (depth > 0) return;
    const c = installed.get(tf.backend() as unknown as object);
    if (c && !c.gpu) c.readbacks++;
  };
  wrap(engine, 'read', (f) => async (...args) => {
    count();
    // Any nested read runs synchronously inside the original call, before it returns its promise.
    let pending: unknown;
    depth++;
    try {
      pending = f(...args);
    } finally {
      depth--;
    }
    return await pending;
  });
  wrap(engine, 'readSync', (f) => (...args) => {
    count();
    depth++;
    try {
      return f(...args);
    } finally {
      depth--;
    }
  });
}

/**
 * Installs the counters on the current tfjs backend (once per backend instance) and returns them.
 * `countGpuWork` and `readGpuCounters` call it; call it directly only to start counting early.
 */
export function installGpuCounters(): void {
  counters();
}

function counters(): Counters {
  const backend = tf.backend() as unknown as object;
  let c = installed.get(backend);
  if (c) return c;
  const gpu = isWebgpu(backend);
  c = { gpu, dispatches: 0, submits: 0, readbacks: 0, uploads: 0 };
  if (gpu) installWebgpu(backend, c);
  else wrapEngineReads();
  installed.set(backend, c);
  return c;
}

/** Totals since the counters were installed on the current backend. */
export function readGpuCounters(): GpuWork {
  const c = counters();
  return {
    backend: tf.getBackend(),
    dispatches: c.gpu ? c.dispatches : null,
    submits: c.gpu ? c.submits : null,
    readbacks: c.readbacks,
    uploads: c.gpu ? c.uploads : null,
  };
}

/** `after − before`, field by field (`null` stays `null`). */
export function gpuWorkBetween(before: GpuWork, after: GpuWork): GpuWork {
  const d = (a: number | null, b: number | null) => (a === null || b === null ? null : a - b);
  return {
    backend: after.backend,
    dispatches: d(after.dispatches, before.dispatches),
    submits: d(after.submits, before.submits),
    readbacks: after.readbacks - before.readbacks,
    uploads: d(after.uploads, before.uploads),
  };
}

/**
 * Runs `fn` and returns what it cost on the current backend, with its result:
 * `const { dispatches, readbacks, submits, result } = await countGpuWork(() => step(...))`.
 * Counts work that is *issued* while `fn` runs (tfjs records programs when ops are called), so an
 * awaited `fn` is fully counted.
 */
export async function countGpuWork<T>(fn: () => Promise<T> | T): Promise<GpuWork & { result: T }> {
  const before = readGpuCounters();
  const result = await fn();
  return { ...gpuWorkBetween(before, readGpuCounters()), result };
}
