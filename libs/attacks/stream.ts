/**
 * Attacked batches as a stream, on a `WorkerPool` (one engine per thread): what GenerateAdversarial
 * computes. `createAttackStreamer(pool)` keeps each distinct model loaded once in every worker
 * (keyed by the sha256 of its bytes, the least recently used dropped past `maxModels`), and
 * `stream` attacks consecutive batches of a data set, yielding them in order. Each stream keeps up to
 * two batches per worker prepared ahead, so a worker starts its next batch while the caller sends
 * the previous one; the workers take the open streams' batches in turn (round-robin.ts), so a
 * stream opened beside a busy one waits for one batch to finish, not for all the other has queued.
 * The caller's signal sets a flag the workers' attacks check every step, so the compute stops with
 * the caller.
 */
import { createHash } from 'node:crypto';
import type { WorkerPool } from '../engine/index.js';
import type { ModelBytes } from '../models/index.js';
import { localError } from './parallel.js';
import { createRoundRobin } from './round-robin.js';
import { PARALLEL_TASK_MODULE, type BatchPayload, type BatchResult, type LoadedModels, type LoadPayload } from './parallel-task.js';
import type { AttackName } from './registry.js';
import type { Norm } from './types.js';

const LOAD = { module: PARALLEL_TASK_MODULE, fn: 'loadModels' };
const UNLOAD = { module: PARALLEL_TASK_MODULE, fn: 'unloadModels' };
const ATTACK = { module: PARALLEL_TASK_MODULE, fn: 'attackBatch' };

/** Models loaded in every worker of the pool. */
export interface StreamModels {
  key: string;
  /** The target's input shape (h, w, c). */
  inputShape: number[];
  numClasses: number;
}

/** The images to attack: flat NHWC float32 in [0, 1], with labels. */
export interface StreamData {
  images: Float32Array;
  labels: Int32Array;
  shape: readonly [number, number, number];
  size: number;
}

export interface StreamRequest {
  attack: AttackName;
  /** Attack options beyond ε and the norm (libs/attacks `attackSettings`). */
  options: Record<string, unknown>;
  eps: number;
  norm: Norm;
  seed: number;
  /** First sample, batch size, and how many batches at most. */
  offset: number;
  batchSize: number;
  numBatches: number;
  /** Also return each batch's clean images. */
  includeClean?: boolean;
  signal?: AbortSignal;
}

export interface StreamedBatch extends BatchResult {
  index: number;
  /** Index of the batch's first sample in the data set. */
  first: number;
  n: number;
  labels: Int32Array;
  clean?: Float32Array;
}

export interface AttackStreamer {
  /** Loads the models into every worker (once per distinct bytes) and says what they take. */
  load(target: ModelBytes, guidance?: ModelBytes): Promise<StreamModels>;
  stream(models: StreamModels, data: StreamData, request: StreamRequest): AsyncGenerator<StreamedBatch>;
  /** Batches being attacked right now. */
  readonly inFlight: number;
}

/** sha256 over the models' bytes. */
export function modelBytesKey(...models: ModelBytes[]): string {
  const hash = createHash('sha256');
  for (const m of models) {
    hash.update(m.modelJson);
    hash.update(new Uint8Array(m.weightData));
  }
  return hash.digest('hex');
}

export function createAttackStreamer(pool: WorkerPool, options: { maxModels?: number } = {}): AttackStreamer {
  const maxModels = options.maxModels ?? 4;
  const models = new Map<string, Promise<StreamModels>>();
  // One batch per worker at a time, taken from the open streams in turn.
  const workers = createRoundRobin(pool.size);

  function load(target: ModelBytes, guidance?: ModelBytes): Promise<StreamModels> {
    const key = guidance ? modelBytesKey(target, guidance) : modelBytesKey(target);
    let loading = models.get(key);
    if (!loading) {
      const payload: LoadPayload = { key, target, ...(guidance ? { guidance } : {}) };
      loading = pool.broadcast<LoadedModels>(LOAD, payload).then(
        (loaded) => ({ key, inputShape: loaded[0].inputShape, numClasses: loaded[0].numClasses }),
        (error: unknown) => {
          throw localError(error);
        },
      );
      loading.catch(() => models.delete(key));
      models.set(key, loading);
      while (models.size > maxModels) {
        const oldest = models.keys().next().value as string;
        models.delete(oldest);
        void pool.broadcast(UNLOAD, { key: oldest }).catch(() => undefined);
      }
    }
    return loading;
  }

  async function* stream(loaded: StreamModels, data: StreamData, r: StreamRequest): AsyncGenerator<StreamedBatch> {
    const per = data.shape[0] * data.shape[1] * data.shape[2];
    const total = Math.min(r.numBatches, Math.ceil((data.size - r.offset) / r.batchSize));
    const abortFlag = new SharedArrayBuffer(4);
    const abort = () => Atomics.store(new Int32Array(abortFlag), 0, 1);
    r.signal?.addEventListener('abort', abort);
    const turns = workers.source();
    const pending: { first: number; n: number; labels: Int32Array; clean: Float32Array | undefined; result: Promise<BatchResult> }[] = [];
    let next = 0;
    const launch = () => {
      const first = r.offset + next * r.batchSize;
      next++;
      const n = Math.min(r.batchSize, data.size - first);
      const x = data.images.slice(first * per, (first + n) * per);
      const labels = data.labels.slice(first, first + n);
      const payload: BatchPayload = {
        key: loaded.key,
        attack: r.attack,
        options: r.options,
        eps: r.eps,
        norm: r.norm,
        seed: r.seed,
        indexOffset: first,
        shape: [n, ...data.shape] as [number, number, number, number],
        x,
        labels,
        abortFlag,
      };
      const clean = r.includeClean ? x.slice() : undefined;
      const result = turns.submit(() => pool.run<BatchResult>(ATTACK, payload, [x.buffer]));
      // Handled where it is awaited, or settled in `finally` when the stream ends early.
      result.catch(() => undefined);
      pending.push({ first, n, labels, clean, result });
    };
    try {
      const depth = pool.size * 2;
      while (pending.length < depth && next < total) launch();
      for (let i = 0; i < total; i++) {
        const batch = pending.shift()!;
        let out: BatchResult;
        try {
          out = await batch.result;
        } catch (error) {
          throw localError(error);
        }
        if (next < total && !r.signal?.aborted) launch();
        yield { ...out, index: i, first: batch.first, n: batch.n, labels: batch.labels, ...(batch.clean ? { clean: batch.clean } : {}) };
      }
    } finally {
      // Ended early (cancel, deadline, error): drop the batches not started, stop those the workers compute.
      turns.close(new Error('the stream ended'));
      abort();
      r.signal?.removeEventListener('abort', abort);
      await Promise.allSettled(pending.map((p) => p.result));
    }
  }

  return {
    load,
    stream,
    get inFlight() {
      return workers.running;
    },
  };
}
