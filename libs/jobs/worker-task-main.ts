/**
 * Entry point of a `runWorkerTask` thread: imports the task module, runs its function once with an
 * AbortSignal fed by the parent's `abort` message, and posts events, then the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorShape } from '../engine/thread-error.js';

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
  port.postMessage({ type: 'error', error: toErrorShape(error) });
}
