/**
 * Runs one long task in a dedicated worker thread, so that a job's compute (training, evaluation)
 * never blocks the event loop that serves RPCs.
 *
 * The task is an exported async function of an ES module: `fn(payload, { signal, emit })`. Its
 * `signal` aborts when the caller's does; `emit(event)` posts a progress event to `onEvent`. The
 * caller gets the function's result, or a `RemoteError` (libs/engine thread-error.ts) carrying the thrown error's `name`, `code`,
 * `field` and `message` (never its stack), so typed domain errors keep their meaning across the
 * thread boundary. A task that ignores its signal is terminated after `abortGraceMs`.
 */
import { Worker } from 'node:worker_threads';
// thread-error.js alone: the job store and runner need no tensor engine loaded.
import { RemoteError, type ErrorShape } from '../engine/thread-error.js';

/** What the task function receives besides its payload. */
export interface TaskContext {
  signal: AbortSignal;
  emit(event: unknown): void;
}

/** A task module's function. */
export type WorkerTaskFn<P, R> = (payload: P, context: TaskContext) => Promise<R>;

export interface WorkerTaskOptions<P> {
  /** Absolute URL of the task module (`new URL('./task.js', import.meta.url).href`). */
  module: string;
  /** Name of the exported function. */
  fn: string;
  /** Structured-cloneable input. */
  payload: P;
  signal?: AbortSignal;
  onEvent?: (event: unknown) => void;
  /** Time the task gets to stop by itself after `signal` aborts, before its thread is terminated. @default 30000 */
  abortGraceMs?: number;
  /** V8 heap limits of the thread. */
  resourceLimits?: { maxOldGenerationSizeMb?: number };
}

type WorkerMessage =
  | { type: 'event'; event: unknown }
  | { type: 'result'; result: unknown }
  | { type: 'error'; error: ErrorShape };

const WORKER_MAIN = new URL('./worker-task-main.js', import.meta.url);

export function runWorkerTask<P, R>(options: WorkerTaskOptions<P>): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new RemoteError('AbortError', 'the task was aborted before it started', 'aborted'));
      return;
    }
    const worker = new Worker(WORKER_MAIN, {
      workerData: { module: options.module, fn: options.fn, payload: options.payload },
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      fn();
      // The task is done: free its engine and memory now rather than when its handles close.
      void worker.terminate();
    };
    const onAbort = () => {
      worker.postMessage({ type: 'abort' });
      killTimer = setTimeout(() => {
        settle(() => reject(new RemoteError('AbortError', 'the task did not stop in time after it was aborted; its thread was terminated', 'aborted')));
      }, options.abortGraceMs ?? 30_000);
      killTimer.unref();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'event') {
        if (!settled) options.onEvent?.(message.event);
      } else if (message.type === 'result') {
        settle(() => resolve(message.result as R));
      } else if (message.type === 'error') {
        const e = message.error;
        settle(() => reject(RemoteError.from(e)));
      }
    });
    worker.on('error', (error) => settle(() => reject(new RemoteError('WorkerCrash', `the task's thread crashed: ${error.message}`, 'internal'))));
    worker.on('exit', (code) => settle(() => reject(new RemoteError('WorkerCrash', `the task's thread exited (code ${code}) without a result`, 'internal'))));
  });
}
