/**
 * Data parallelism over worker threads, one engine per worker.
 *
 * The wasm backend cannot use threads in Node, so a 2-core machine is used by running one engine in
 * each of two `worker_threads`. A task names an ES module and one of its exported functions; the
 * worker imports the module once and calls the function with the payload. Modules keep per-worker
 * state (a loaded model, say) in their own scope, so one task can load and later tasks reuse.
 *
 * Payloads and results cross threads by structured clone; typed arrays listed in `transfer` (and
 * every typed array found at the top level of a result) move without a copy. A task that throws
 * rejects with a `RemoteError` (thread-error.ts) keeping the error's class name, code and field; a
 * thread that crashes or exits rejects what it had with `EngineError` `worker-failed`.
 */
import { availableParallelism } from 'node:os';
import { Worker, type Transferable } from 'node:worker_threads';
import { EngineError } from './errors.js';
import { RemoteError, type ErrorShape } from './thread-error.js';
import type { BackendChoice, EngineInfo } from './backend.js';
import { prepareWebgpuEnvironment } from './webgpu.js';

export interface WorkerPoolOptions {
  /** Number of worker threads. @default min(availableParallelism(), 2) or HARDEN_WORKERS */
  size?: number;
  /** Backend each worker starts. @default 'auto' */
  backend?: BackendChoice;
}

/**
 * A function exported by a task module: it runs inside a worker, as `fn(payload, emit)`. `emit(event)`
 * sends plain data to the caller's `onEvent` (progress, say) while the task runs; the task's return
 * value is its result.
 */
export interface TaskRef {
  /** Absolute URL of the ES module (use `new URL('./x.js', import.meta.url).href`). */
  module: string;
  /** Name of the exported function. */
  fn: string;
}

export interface WorkerPool {
  readonly size: number;
  /** The engine each worker runs, known after `ready()`. */
  readonly engines: readonly EngineInfo[];
  ready(): Promise<void>;
  /** Runs the task on the next idle worker; `onEvent` gets what the task emits, in order, before it settles. */
  run<T>(task: TaskRef, payload: unknown, transfer?: Transferable[], onEvent?: (event: unknown) => void): Promise<T>;
  /** Runs the task on every worker (e.g. to load a model into each), in worker order. */
  broadcast<T>(task: TaskRef, payload: unknown): Promise<T[]>;
  /** Runs the task on one given worker (0-based). */
  runOn<T>(index: number, task: TaskRef, payload: unknown, transfer?: Transferable[], onEvent?: (event: unknown) => void): Promise<T>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  onEvent?: (event: unknown) => void;
}

interface Slot {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
  engine?: EngineInfo;
}

type WorkerReply =
  | { id: number; event: unknown }
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: ErrorShape };

/** The default worker count: `HARDEN_WORKERS`, else min(cores, 2). */
export function defaultWorkerCount(env: NodeJS.ProcessEnv = process.env): number {
  const fromEnv = Number.parseInt(env.HARDEN_WORKERS ?? '', 10);
  if (Number.isFinite(fromEnv) && fromEnv > 0) return fromEnv;
  return Math.max(1, Math.min(availableParallelism(), 2));
}

const WORKER_MAIN = new URL('./worker-main.js', import.meta.url);

export function createWorkerPool(options: WorkerPoolOptions = {}): WorkerPool {
  const size = options.size ?? defaultWorkerCount();
  if (!Number.isInteger(size) || size < 1) {
    throw new EngineError('invalid-argument', `worker pool size must be a positive integer, got ${size}`);
  }
  const backend = options.backend ?? 'auto';
  let nextId = 1;
  let closed = false;
  const waiters: Array<() => void> = [];

  // Before the first worker: the software webgpu adapter's EGL setting must be in the C environment.
  prepareWebgpuEnvironment();
  const slots: Slot[] = Array.from({ length: size }, () => {
    // The native engine's oneDNN threads: the cores shared out among the workers.
    const nativeThreads = Math.max(1, Math.floor(availableParallelism() / size));
    const worker = new Worker(WORKER_MAIN, { workerData: { backend, nativeThreads } });
    const slot: Slot = { worker, busy: 0, pending: new Map() };
    worker.on('message', (reply: WorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      if ('event' in reply) {
        // A listener's failure must not lose the task's result: it is reported, not thrown here.
        try {
          p.onEvent?.(reply.event);
        } catch (error) {
          process.emitWarning(`worker pool: an event listener threw: ${(error as Error).message}`);
        }
        return;
      }
      slot.pending.delete(reply.id);
      slot.busy -= 1;
      const waiter = waiters.shift();
      if (waiter) waiter();
      if (reply.ok) p.resolve(reply.result);
      else p.reject(RemoteError.from(reply.error));
    });
    const failAll = (error: unknown) => {
      for (const p of slot.pending.values()) p.reject(error);
      slot.pending.clear();
    };
    worker.on('error', (error) => failAll(new EngineError('worker-failed', `worker thread crashed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!closed) failAll(new EngineError('worker-failed', `worker thread exited with code ${code}`));
    });
    return slot;
  });

  function send<T>(slot: Slot, message: Record<string, unknown>, transfer: Transferable[] = [], onEvent?: (event: unknown) => void): Promise<T> {
    if (closed) return Promise.reject(new EngineError('worker-failed', 'worker pool is closed'));
    const id = nextId++;
    slot.busy += 1;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onEvent });
      slot.worker.postMessage({ ...message, id }, transfer);
    });
  }

  let readyPromise: Promise<void> | undefined;
  const pool: WorkerPool = {
    size,
    get engines() {
      return slots.map((s) => s.engine).filter((e): e is EngineInfo => e !== undefined);
    },
    ready() {
      readyPromise ??= Promise.all(
        slots.map(async (slot) => {
          slot.engine = await send<EngineInfo>(slot, { kind: 'init' });
        }),
      ).then(() => undefined);
      return readyPromise;
    },
    async run<T>(task: TaskRef, payload: unknown, transfer?: Transferable[], onEvent?: (event: unknown) => void) {
      await pool.ready();
      let slot = slots.reduce((a, b) => (b.busy < a.busy ? b : a));
      while (slot.busy > 0 && slots.every((s) => s.busy > 0)) {
        await new Promise<void>((resolve) => waiters.push(resolve));
        slot = slots.reduce((a, b) => (b.busy < a.busy ? b : a));
      }
      return send<T>(slot, { kind: 'task', ...task, payload }, transfer, onEvent);
    },
    async runOn<T>(index: number, task: TaskRef, payload: unknown, transfer?: Transferable[], onEvent?: (event: unknown) => void) {
      await pool.ready();
      const slot = slots[index];
      if (!slot) throw new EngineError('invalid-argument', `no worker ${index} in a pool of ${size}`);
      return send<T>(slot, { kind: 'task', ...task, payload }, transfer, onEvent);
    },
    async broadcast<T>(task: TaskRef, payload: unknown) {
      await pool.ready();
      return Promise.all(slots.map((slot) => send<T>(slot, { kind: 'task', ...task, payload })));
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
  return pool;
}
