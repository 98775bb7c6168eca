/**
 * Entry point of a worker thread in a `WorkerPool`: starts its own engine, then runs tasks
 * (an exported function of an ES module, called with the payload and an `emit` for events to the
 * caller) one at a time, in arrival order.
 */
import { parentPort, workerData, type Transferable } from 'node:worker_threads';
import { initEngine, type BackendChoice } from './backend.js';
import { toErrorShape } from './thread-error.js';

type Message =
  | { kind: 'init'; id: number }
  | { kind: 'task'; id: number; module: string; fn: string; payload: unknown };

const modules = new Map<string, Promise<Record<string, unknown>>>();
const port = parentPort;
if (!port) throw new Error('worker-main.js must run inside a worker thread');

/** Typed arrays at the top level of a result (or the result itself) move to the caller without a copy. */
function transferables(result: unknown): Transferable[] {
  const out = new Set<ArrayBuffer>();
  const add = (v: unknown) => {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer && v.byteLength === v.buffer.byteLength) out.add(v.buffer);
  };
  add(result);
  if (result && typeof result === 'object' && !ArrayBuffer.isView(result)) {
    for (const v of Object.values(result)) add(v);
  }
  return [...out];
}

let queue: Promise<void> = Promise.resolve();

async function handle(msg: Message): Promise<void> {
  try {
    let result: unknown;
    if (msg.kind === 'init') {
      const data = workerData as { backend: BackendChoice; nativeThreads?: number };
      result = await initEngine(data.backend, { nativeThreads: data.nativeThreads });
    } else {
      let mod = modules.get(msg.module);
      if (!mod) {
        mod = import(msg.module) as Promise<Record<string, unknown>>;
        modules.set(msg.module, mod);
      }
      const fn = (await mod)[msg.fn];
      if (typeof fn !== 'function') throw new Error(`task module ${msg.module} exports no function "${msg.fn}"`);
      const emit = (event: unknown) => port!.postMessage({ id: msg.id, event });
      result = await (fn as (p: unknown, e: typeof emit) => unknown)(msg.payload, emit);
    }
    port!.postMessage({ id: msg.id, ok: true, result }, transferables(result));
  } catch (error) {
    port!.postMessage({ id: msg.id, ok: false, error: toErrorShape(error) });
  }
}

port.on('message', (msg: Message) => {
  queue = queue.then(() => handle(msg));
});
