/**
 * Data parallelism for attacks: a batch is split into shards that the workers of a `WorkerPool` (one
 * engine per thread) attack independently; results are merged in sample order.
 *
 * Every random draw is keyed by the global sample index (see `attack.ts`), and shards carry their
 * offset, so the merged result equals a single-thread run of the same attack on the same backend
 * (up to batch-size-dependent rounding of the backend's kernels).
 */
import { tf, type Tensor4D, type WorkerPool } from '../engine/index.js';
import type { ModelBytes } from '../models/index.js';
import { checkBlackBoxStronger, type CheckWarning } from './checks.js';
import { AttackError, throwIfAborted, type AttackErrorCode } from './errors.js';
import { fromLogitsFunction } from './model.js';
import { perturbationNorms } from './norms.js';
import { nonNegativeInt, positiveInt } from './options.js';
import { PARALLEL_TASK_MODULE as TASK_MODULE, type LoadPayload, type ShardPayload, type ShardResult } from './parallel-task.js';
import { createAttack } from './registry.js';
import { oneEps, splitOptions, type AttackReport } from './run-by-name.js';
import type { Labels, Norm, StageResult, StepEvent } from './types.js';

export interface ParallelModels {
  /** The attacked model, serialised (`modelToBytes` from libs/models). */
  target: ModelBytes;
  /** CAG's guidance model, serialised. */
  guidance?: ModelBytes;
  /** Input bounds of both models. @default [0, 1] */
  bounds?: readonly [number, number];
}

export interface ParallelOptions {
  /** Radius of the threat model. @default the attack's usual ε */
  eps?: number;
  /** @default 'Linf' */
  norm?: Norm;
  /** @default 0 */
  seed?: number;
  signal?: AbortSignal;
  /** Samples per shard (one task). @default ceil(n / pool.size), at most 256 */
  shardSize?: number;
  /** Samples per chunk inside a worker. @default 256 */
  batchSize?: number;
  /**
   * Global index of `x`'s first sample (random draws are keyed by it): a slice of a larger set
   * attacked with its offset gets the same draws as inside the whole set. @default 0
   */
  indexOffset?: number;
  /** Attack options (steps, alpha, …); plain data only. */
  [attackOption: string]: unknown;
}

let nextKey = 0;

/** Stands in for the guidance model while validating options on this thread (never called). */
const PLACEHOLDER = fromLogitsFunction(() => {
  throw new Error('placeholder model');
}, 2);

async function labelsArray(y: Labels): Promise<Int32Array> {
  if (y instanceof Int32Array) return y;
  if (Array.isArray(y)) return Int32Array.from(y as number[]);
  return Int32Array.from(await (y as { data(): Promise<ArrayLike<number>> }).data());
}

/**
 * Runs attack `name` over `x` on the pool's workers and merges the shards into one report. The
 * returned `adversarial` tensor lives on this thread's engine and belongs to the caller. `onStep` gets
 * the steps of the first unfinished shard (relayed from its worker); custom criteria are not
 * available here (functions cannot cross threads).
 */
export async function runAttackParallel(
  pool: WorkerPool,
  models: ParallelModels,
  x: Tensor4D,
  y: Labels,
  name: string,
  options: ParallelOptions = {},
): Promise<AttackReport> {
  const { shardSize: rawShard, ...rest } = options;
  const { run, attack } = splitOptions(rest);
  if (run.criterion !== undefined) throw new AttackError('invalid-argument', 'runAttackParallel does not take criterion', { field: 'criterion' });
  if (run.onStep !== undefined && typeof run.onStep !== 'function') throw new AttackError('invalid-argument', 'onStep must be a function', { field: 'onStep' });
  const onStep = run.onStep as ((event: StepEvent) => void) | undefined;
  if ('guidance' in attack) {
    throw new AttackError('invalid-argument', 'pass the guidance model as models.guidance (bytes), not as an option', { field: 'guidance' });
  }
  const eps = oneEps(name, run.eps);
  const baseOffset = nonNegativeInt(name, 'indexOffset', run.indexOffset, 0);
  // Validate everything here, before any worker starts.
  const probe = createAttack(name, models.guidance ? { ...attack, guidance: PLACEHOLDER } : attack);
  const [n, h, w, c] = x.shape;
  const d = h * w * c;
  const shardSize = positiveInt(name, 'shardSize', rawShard, Math.min(256, Math.max(1, Math.ceil(n / pool.size))));
  const labels = await labelsArray(y);
  if (labels.length !== n) throw new AttackError('invalid-argument', `${labels.length} labels for ${n} inputs`, { field: 'y' });
  const signal = run.signal as AbortSignal | undefined;
  throwIfAborted(signal);

  const values = (await x.data()) as Float32Array;
  const key = `attack-${process.pid}-${nextKey++}`;
  const abortFlag = new SharedArrayBuffer(4);
  const onAbort = () => Atomics.store(new Int32Array(abortFlag), 0, 1);
  signal?.addEventListener('abort', onAbort, { once: true });
  const started = performance.now();
  const load: LoadPayload = { key, target: models.target, guidance: models.guidance, bounds: models.bounds ?? [0, 1] };
  try {
    await pool.broadcast({ module: TASK_MODULE, fn: 'loadModels' }, load);
    const shards: Promise<ShardResult>[] = [];
    // Progress is the lead shard's (the first one not finished): shards run the same stages at about
    // the same pace, and one stream of steps reads as one run; when it finishes the next one leads.
    const finished: boolean[] = [];
    const count = Math.ceil(n / shardSize);
    const relay = (index: number) => (event: unknown) => {
      if (finished.findIndex((f) => !f) === index) onStep!({ ...(event as StepEvent), shard: { index, count } });
    };
    for (let start = 0; start < n; start += shardSize) {
      const size = Math.min(shardSize, n - start);
      const payload: ShardPayload = {
        key,
        attack: name,
        options: attack,
        eps,
        norm: run.norm as Norm | undefined,
        seed: run.seed as number | undefined,
        batchSize: run.batchSize as number | undefined,
        indexOffset: baseOffset + start,
        shape: [size, h, w, c],
        x: values.slice(start * d, (start + size) * d),
        labels: labels.slice(start, start + size),
        abortFlag,
        reportSteps: onStep !== undefined,
      };
      const index = finished.push(false) - 1;
      const transfer = [payload.x.buffer as ArrayBuffer, payload.labels.buffer as ArrayBuffer];
      const shard = pool.run<ShardResult>({ module: TASK_MODULE, fn: 'attackShard' }, payload, transfer, onStep ? relay(index) : undefined);
      shards.push(shard.finally(() => (finished[index] = true)));
    }
    const results = await Promise.allSettled(shards);
    throwIfAborted(signal);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw localError(failed.reason);
    const parts = results.map((r) => (r as PromiseFulfilledResult<ShardResult>).value);
    return merge(probe.name, eps, (run.norm as Norm | undefined) ?? 'Linf', parts, values, [n, h, w, c], (performance.now() - started) / 1000);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await pool.broadcast({ module: TASK_MODULE, fn: 'unloadModels' }, { key }).catch(() => undefined);
  }
}

/** An `AttackError` thrown in a worker is an `AttackError` here too (the pool hands back a `RemoteError`). */
export function localError(error: unknown): unknown {
  const e = error as { name?: unknown; code?: unknown; field?: unknown; message?: unknown; remote?: unknown };
  if (e?.remote === true && e.name === 'AttackError' && typeof e.code === 'string') {
    return new AttackError(e.code as AttackErrorCode, String(e.message), { cause: error, ...(typeof e.field === 'string' ? { field: e.field } : {}) });
  }
  return error;
}

function merge(
  attack: string,
  eps: number,
  norm: Norm,
  parts: ShardResult[],
  x: Float32Array,
  shape: [number, number, number, number],
  seconds: number,
): AttackReport {
  const n = shape[0];
  const adversarial = new Float32Array(x.length);
  const success = new Uint8Array(n);
  const clean = new Uint8Array(n);
  const predictions = new Int32Array(n);
  const stageTotals = new Map<string, { robust: number; n: number }>();
  const warnings = new Map<string, CheckWarning>();
  let offset = 0;
  for (const p of parts) {
    const size = p.success.length;
    adversarial.set(p.adversarial, (offset * x.length) / n);
    success.set(p.success, offset);
    clean.set(p.clean, offset);
    predictions.set(p.predictions, offset);
    for (const s of p.stages ?? []) {
      const t = stageTotals.get(s.name) ?? { robust: 0, n: 0 };
      t.robust += s.robust;
      t.n += s.n;
      stageTotals.set(s.name, t);
    }
    for (const wng of p.warnings) {
      // Batch-level checks are recomputed below from the merged stages.
      if (wng.id === 'black-box-stronger') continue;
      const k = `${wng.id}:${wng.attack}`;
      const prev = warnings.get(k);
      if (!prev) warnings.set(k, wng);
      else if (prev.count !== undefined && wng.count !== undefined) warnings.set(k, { ...prev, count: prev.count + wng.count });
    }
    offset += size;
  }
  const robustOf = (flags: Uint8Array) => 1 - flags.reduce((a, b) => a + b, 0) / n;
  const cleanAccuracy = robustOf(clean);
  const robustAccuracy = robustOf(success);
  const stages: StageResult[] =
    stageTotals.size > 0
      ? [...stageTotals].map(([name, t]) => ({ name, robust: t.robust, n: t.n, robustAccuracy: t.n ? t.robust / t.n : 0 }))
      : [
          { name: 'clean', robust: Math.round(cleanAccuracy * n), n, robustAccuracy: cleanAccuracy },
          { name: attack, robust: Math.round(robustAccuracy * n), n, robustAccuracy },
        ];
  const sq = stages.findIndex((s) => s.name === 'square');
  if (sq >= 2) {
    const wng = checkBlackBoxStronger(stages[sq - 1].robustAccuracy, stages[sq].robustAccuracy, attack);
    if (wng) warnings.set(`${wng.id}:${wng.attack}`, wng);
  }
  const norms = perturbationNorms(adversarial, x, n, norm);
  return {
    attack,
    eps,
    norm,
    n,
    cleanAccuracy,
    robustAccuracy,
    maxPerturbation: norms.reduce((a, b) => Math.max(a, b), 0),
    stages,
    adversarial: tf.tensor4d(adversarial, shape),
    predictions,
    success,
    warnings: [...warnings.values()],
    seconds,
  };
}
