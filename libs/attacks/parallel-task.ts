/**
 * Worker-thread side of `runAttackParallel` and `streamAttackBatches` (a task module for
 * `WorkerPool`): loads models from bytes once per worker, then attacks shards of a batch
 * (`attackShard`) or whole streamed batches (`attackBatch`). Inputs and outputs are plain typed
 * arrays; a failure is thrown and reaches the caller as a libs/engine `RemoteError` with its class
 * name, code and field.
 */
import { tf } from '../engine/index.js';
import type { ModelBytes } from '../models/index.js';
import { perturbationNorms } from './norms.js';
import { attackInThread, loadThreadModels, unloadThreadModels, type ThreadAttackPayload, type ThreadAttackResult } from './thread-models.js';
import type { Norm, StepEvent } from './types.js';

/** This module, for `WorkerPool` task references. */
export const PARALLEL_TASK_MODULE = new URL('./parallel-task.js', import.meta.url).href;

export interface LoadPayload {
  key: string;
  target: ModelBytes;
  guidance?: ModelBytes;
  /** @default [0, 1] */
  bounds?: readonly [number, number];
}

/** What a worker loaded: its backend, and the target's input shape (h, w, c) and class count. */
export interface LoadedModels {
  backend: string;
  inputShape: number[];
  numClasses: number;
}

export async function loadModels(payload: LoadPayload): Promise<LoadedModels> {
  const entry = await loadThreadModels(payload.key, payload.target, payload.guidance, { bounds: payload.bounds ?? [0, 1] });
  return { backend: tf.getBackend(), inputShape: entry.layers[0].inputs[0].shape.slice(1) as number[], numClasses: entry.target.numClasses };
}

export function unloadModels(payload: { key: string }): boolean {
  return unloadThreadModels(payload.key);
}

/** One shard of `runAttackParallel`'s batch. */
export type ShardPayload = ThreadAttackPayload;

export type ShardResult = Pick<ThreadAttackResult, 'adversarial' | 'success' | 'clean' | 'predictions' | 'stages' | 'warnings'>;

/** `emit` (the pool's) carries the shard's `StepEvent`s to the caller when `p.reportSteps` is set. */
export async function attackShard(p: ShardPayload, emit?: (event: StepEvent) => void): Promise<ShardResult> {
  const { adversarial, success, clean, predictions, stages, warnings } = await attackInThread(p, p.reportSteps ? emit : undefined);
  return { adversarial, success, clean, predictions, stages, warnings };
}

/** One batch of a stream (`streamAttackBatches`). */
export type BatchPayload = ThreadAttackPayload & { norm: Norm; seed: number };

export interface BatchResult {
  adversarial: Float32Array;
  predictions: Int32Array;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Largest per-sample perturbation in the attack's norm. */
  maxPerturbation: number;
  seconds: number;
}

export async function attackBatch(p: BatchPayload): Promise<BatchResult> {
  const started = performance.now();
  const r = await attackInThread(p);
  const norms = perturbationNorms(r.adversarial, p.x, p.shape[0], p.norm);
  return {
    adversarial: r.adversarial,
    predictions: r.predictions,
    cleanAccuracy: r.cleanAccuracy,
    robustAccuracy: r.robustAccuracy,
    maxPerturbation: norms.reduce((a, b) => Math.max(a, b), 0),
    seconds: (performance.now() - started) / 1000,
  };
}
