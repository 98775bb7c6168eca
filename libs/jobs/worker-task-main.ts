/**
 * Entry point of a `runWorkerTask` thread: imports the task module, runs its function once with an
 * AbortSignal fed by the parent's `abort` message, and posts events, then the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';

const port = parentPort;
if (!port) throw new Error('worker-task-main.js must run inside a worker thread');
const { module, fn, payload } = workerData as { module: string; fn: string; payload: unknown };
const controller = new AbortController();
port.on('message', (message: { type?: string }) => {
  if (message?.type === 'abort') controller.abort(new Error('aborted by the caller'));
});

try {
  const mod = (await import(module)) as Record<string, unknown>;
  const task = mod[fn];
  if (typeof task !== 'function') throw new Error(`task module ${module} exports no function "${fn}"`);
  const result: unknown = await (task as (p: unknown, c: unknown) => Promise<unknown>)(payload, {
    signal: controller.signal,
    emit: (event: unknown) => port.postMessage({ type: 'event', event }),
  });
  port.postMessage({ type: 'result', result });
} catch (error) {
  const e = error as Error & { code?: unknown; field?: unknown };
  port.postMessage({
    type: 'error',
    error: {
      name: typeof e?.name === 'string' ? e.name : 'Error',
      message: typeof e?.message === 'string' ? e.message : String(error),
      ...(typeof e?.code === 'string' ? { code: e.code } : {}),
      ...(typeof e?.field === 'string' ? { field: e.field } : {}),
    },
  });
}
