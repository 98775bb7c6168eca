/**
 * Worker-thread side of `runAttackParallel` (a task module for `WorkerPool`): loads models from
 * bytes once per worker, then attacks shards of a batch. Inputs and outputs are plain typed arrays.
 */
import { tf } from '../engine/index.js';
import type { ModelBytes } from '../models/index.js';
import type { CheckWarning } from './checks.js';
import { logitsValues } from './model.js';
import { createAttack } from './registry.js';
import { loadThreadModels, threadModels, unloadThreadModels } from './thread-models.js';
import { argMaxRows } from './run-by-name.js';
import type { Norm, StageResult } from './types.js';


export interface LoadPayload {
  key: string;
  target: ModelBytes;
  guidance?: ModelBytes;
  bounds: readonly [number, number];
}

export async function loadModels(payload: LoadPayload): Promise<string> {
  await loadThreadModels(payload.key, payload.target, payload.guidance, { bounds: payload.bounds });
  return tf.getBackend();
}

export function unloadModels(payload: { key: string }): boolean {
  return unloadThreadModels(payload.key);
}

export interface ShardPayload {
  key: string;
  name: string;
  /** Attack options (plain data; `guidance` is supplied from the loaded models). */
  attackOptions: Record<string, unknown>;
  eps: number;
  norm: Norm | undefined;
  seed: number | undefined;
  batchSize: number | undefined;
  indexOffset: number;
  shape: [number, number, number, number];
  x: Float32Array;
  labels: Int32Array;
  /** Int32Array view flag: 1 once the caller aborted. */
  abortFlag: SharedArrayBuffer;
}

export interface ShardResult {
  adversarial: Float32Array;
  success: Uint8Array;
  clean: Uint8Array;
  predictions: Int32Array;
  stages: StageResult[] | undefined;
  warnings: CheckWarning[];
}

/** An AbortSignal stand-in whose `aborted` reads a flag the caller's thread sets. */
function sharedSignal(buffer: SharedArrayBuffer): AbortSignal {
  const flag = new Int32Array(buffer);
  return {
    get aborted() {
      return Atomics.load(flag, 0) === 1;
    },
    reason: new Error('aborted by the caller'),
  } as unknown as AbortSignal;
}

export async function attackShard(p: ShardPayload): Promise<ShardResult> {
  const entry = threadModels(p.key);
  if (!entry) throw new Error(`no models loaded under key ${p.key}`);
  const options = entry.guidance ? { ...p.attackOptions, guidance: entry.guidance } : p.attackOptions;
  const attack = createAttack(p.name, options);
  const x = tf.tensor4d(p.x, p.shape);
  try {
    const result = await attack.run(entry.target, x, p.labels, {
      eps: p.eps,
      norm: p.norm,
      seed: p.seed,
      batchSize: p.batchSize,
      indexOffset: p.indexOffset,
      signal: sharedSignal(p.abortFlag),
    });
    const r = result.results[0];
    try {
      return {
        adversarial: Float32Array.from(r.clipped.dataSync() as Float32Array),
        success: r.success,
        clean: result.clean,
        predictions: argMaxRows(logitsValues(entry.target, r.clipped), entry.target.numClasses),
        stages: r.stages ? [...r.stages] : undefined,
        warnings: [...result.warnings],
      };
    } finally {
      r.raw.dispose();
      r.clipped.dispose();
    }
  } finally {
    x.dispose();
  }
}
