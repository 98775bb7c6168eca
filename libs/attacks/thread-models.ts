/**
 * Attacks in worker threads: models loaded into one thread, kept under a key (the caller's choice,
 * e.g. a hash of the bytes) so that later tasks reuse them — the target, and the guidance model for
 * CAG —, and `attackInThread`, one attack on one batch given as plain arrays. Shared by the task
 * modules that run attacks in worker threads (parallel-task.ts here, the adversarial service's
 * attack-task.ts).
 */
import { tf, type tfl } from '../engine/index.js';
import { modelFromBytes, type ModelBytes } from '../models/index.js';
import type { CheckWarning } from './checks.js';
import { fromLayersModel, logitsValues, type ModelWrapperOptions } from './model.js';
import { createAttack } from './registry.js';
import { argMaxRows } from './run-by-name.js';
import type { AttackModel, Norm, StageResult, StepEvent } from './types.js';

export interface ThreadModels {
  layers: tfl.LayersModel[];
  target: AttackModel;
  guidance: AttackModel | undefined;
}

const loaded = new Map<string, ThreadModels>();

/** The models under `key`, loading them from bytes the first time. */
export async function loadThreadModels(key: string, target: ModelBytes, guidance?: ModelBytes, options: ModelWrapperOptions = {}): Promise<ThreadModels> {
  const existing = loaded.get(key);
  if (existing) return existing;
  const t = await modelFromBytes(target);
  let g: tfl.LayersModel | undefined;
  try {
    g = guidance ? await modelFromBytes(guidance) : undefined;
  } catch (error) {
    t.dispose();
    throw error;
  }
  const entry: ThreadModels = { layers: g ? [t, g] : [t], target: fromLayersModel(t, options), guidance: g && fromLayersModel(g, options) };
  loaded.set(key, entry);
  return entry;
}

/** The models under `key`, if loaded. */
export function threadModels(key: string): ThreadModels | undefined {
  return loaded.get(key);
}

/** Disposes the models under `key`; false when none were loaded. */
export function unloadThreadModels(key: string): boolean {
  const entry = loaded.get(key);
  if (!entry) return false;
  for (const m of entry.layers) m.dispose();
  loaded.delete(key);
  return true;
}

/** What one worker-thread attack call gets: models by key, the batch as plain arrays. */
export interface ThreadAttackPayload {
  /** The key the models were loaded under (`loadThreadModels`). */
  key: string;
  /** Attack registry name. */
  attack: string;
  /** Attack options (plain data; `guidance` comes from the loaded models). */
  options: Record<string, unknown>;
  eps: number;
  norm: Norm | undefined;
  seed: number | undefined;
  /** Samples per chunk inside the attack. @default the attack's */
  batchSize?: number;
  /** Global index of the first sample: random draws are keyed by it, so batching does not change results. */
  indexOffset: number;
  shape: [number, number, number, number];
  x: Float32Array;
  labels: Int32Array;
  /** Int32 flag: 1 once the caller aborted. */
  abortFlag: SharedArrayBuffer;
  /** Emit each step's `StepEvent` (progress) to the caller. @default false */
  reportSteps?: boolean;
}

export interface ThreadAttackResult {
  adversarial: Float32Array;
  /** Predicted class of each adversarial input. */
  predictions: Int32Array;
  success: Uint8Array;
  clean: Uint8Array;
  cleanAccuracy: number;
  robustAccuracy: number;
  stages: StageResult[] | undefined;
  warnings: CheckWarning[];
}

/** An AbortSignal stand-in whose `aborted` reads a flag the caller's thread sets (threads share no signals). */
export function sharedAbortSignal(buffer: SharedArrayBuffer): AbortSignal {
  const flag = new Int32Array(buffer);
  return {
    get aborted() {
      return Atomics.load(flag, 0) === 1;
    },
    reason: new Error('aborted by the caller'),
    throwIfAborted() {
      if (Atomics.load(flag, 0) === 1) throw new Error('aborted by the caller');
    },
    addEventListener() {},
    removeEventListener() {},
  } as unknown as AbortSignal;
}

/** Runs one attack on a batch with the models loaded under `p.key`, in this (worker) thread; `onStep` gets its steps. */
export async function attackInThread(p: ThreadAttackPayload, onStep?: (event: StepEvent) => void): Promise<ThreadAttackResult> {
  const entry = threadModels(p.key);
  if (!entry) throw new Error(`no models loaded under key ${p.key}`);
  const attack = createAttack(p.attack, entry.guidance ? { ...p.options, guidance: entry.guidance } : p.options);
  const x = tf.tensor4d(p.x, p.shape);
  try {
    const result = await attack.run(entry.target, x, p.labels, { eps: p.eps, norm: p.norm, seed: p.seed, batchSize: p.batchSize, indexOffset: p.indexOffset, signal: sharedAbortSignal(p.abortFlag), ...(onStep ? { onStep } : {}) });
    const r = result.results[0];
    try {
      return {
        adversarial: Float32Array.from((await r.clipped.data()) as Float32Array),
        predictions: argMaxRows(await logitsValues(entry.target, r.clipped), entry.target.numClasses),
        success: r.success,
        clean: result.clean,
        cleanAccuracy: result.cleanAccuracy,
        robustAccuracy: r.robustAccuracy,
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
