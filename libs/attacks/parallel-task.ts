/**
 * Worker-thread side of `runAttackParallel` (a task module for `WorkerPool`): loads models from
 * bytes once per worker, then attacks shards of a batch. Inputs and outputs are plain typed arrays.
 */
import { tf } from '../engine/index.js';
import type { ModelBytes } from '../models/index.js';
import { attackInThread, loadThreadModels, unloadThreadModels, type ThreadAttackPayload, type ThreadAttackResult } from './thread-models.js';


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

/** One shard of `runAttackParallel`'s batch. */
export type ShardPayload = ThreadAttackPayload;

export type ShardResult = Pick<ThreadAttackResult, 'adversarial' | 'success' | 'clean' | 'predictions' | 'stages' | 'warnings'>;

export async function attackShard(p: ShardPayload): Promise<ShardResult> {
  const { adversarial, success, clean, predictions, stages, warnings } = await attackInThread(p);
  return { adversarial, success, clean, predictions, stages, warnings };
}
