/** Task module used by worker-pool.spec.ts: runs inside worker threads. */
import { threadId } from 'node:worker_threads';
import { tf } from './tf.js';

let stored: Float32Array | undefined;

export function store(payload: { values: Float32Array }): number {
  stored = payload.values;
  return threadId;
}

/** Sums the stored values times `scale` with a tensor op and reports the tensor count. */
export function scaledSum(payload: { scale: number }): { threadId: number; sum: number; backend: string; numTensors: number } {
  if (!stored) throw new Error('nothing stored in this worker');
  const sum = tf.tidy(() => tf.sum(tf.mul(tf.tensor1d(stored!), payload.scale)).dataSync()[0]);
  return { threadId, sum, backend: tf.getBackend(), numTensors: tf.memory().numTensors };
}

export function square(payload: { values: Float32Array }): Float32Array {
  return payload.values.map((v) => v * v);
}

export async function slow(payload: { ms: number }): Promise<number> {
  await new Promise((r) => setTimeout(r, payload.ms));
  return threadId;
}

export function fail(p: { typed?: boolean } = {}): never {
  if (p.typed) throw Object.assign(new Error('bad option on purpose'), { name: 'AttackError', code: 'invalid-argument', field: 'steps' });
  throw new Error('task failed on purpose');
}

/** Emits `count` events (0, 1, …), one per macrotask, then returns the count. */
export async function countTo(payload: { count: number }, emit: (event: unknown) => void): Promise<number> {
  for (let i = 0; i < payload.count; i++) {
    emit({ i, threadId });
    await new Promise((r) => setImmediate(r));
  }
  return payload.count;
}
