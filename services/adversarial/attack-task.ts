/**
 * The worker side of GenerateAdversarial (a task module for libs/engine's `WorkerPool`, one engine
 * per thread): models are loaded once per worker from bytes and kept under a key (the sha256 of
 * their bytes); each call attacks one batch. Failures are returned as values, not thrown, so the
 * error's class name and code survive the thread boundary (the pool keeps only messages).
 * Results are flat objects of typed arrays, which the pool moves to the caller without a copy.
 */
import type { ModelBytes } from '../../libs/models/index.js';
import { attackInThread, loadThreadModels, perturbationNorms, unloadThreadModels, type Norm, type ThreadAttackPayload } from '../../libs/attacks/index.js';


export interface TaskError {
  name: string;
  message: string;
  code?: string;
  field?: string;
}

function taskError(error: unknown): TaskError {
  const e = error as Error & { code?: unknown; field?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.field === 'string' ? { field: e.field } : {}),
  };
}

export interface LoadPayload {
  key: string;
  target: ModelBytes;
  guidance?: ModelBytes;
}

export type LoadOutcome = { ok: true; inputShape: number[]; numClasses: number } | { ok: false; error: TaskError };

export async function loadModels(p: LoadPayload): Promise<LoadOutcome> {
  try {
    const entry = await loadThreadModels(p.key, p.target, p.guidance);
    const model = entry.layers[0];
    return { ok: true, inputShape: model.inputs[0].shape.slice(1) as number[], numClasses: entry.target.numClasses };
  } catch (error) {
    return { ok: false, error: taskError(error) };
  }
}

export function unloadModels(p: { key: string }): boolean {
  return unloadThreadModels(p.key);
}

/** One batch of GenerateAdversarial. */
export type BatchPayload = ThreadAttackPayload & { norm: Norm; seed: number };

export type BatchOutcome =
  | {
      ok: true;
      adversarial: Float32Array;
      predictions: Int32Array;
      cleanAccuracy: number;
      robustAccuracy: number;
      maxPerturbation: number;
      seconds: number;
    }
  | { ok: false; error: TaskError };

export async function attackBatch(p: BatchPayload): Promise<BatchOutcome> {
  const started = performance.now();
  try {
    const r = await attackInThread(p);
    const norms = perturbationNorms(r.adversarial, p.x, p.shape[0], p.norm);
    return {
      ok: true,
      adversarial: r.adversarial,
      predictions: r.predictions,
      cleanAccuracy: r.cleanAccuracy,
      robustAccuracy: r.robustAccuracy,
      maxPerturbation: norms.reduce((a, b) => Math.max(a, b), 0),
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    return { ok: false, error: taskError(error) };
  }
}
