/**
 * The worker side of GenerateAdversarial (a task module for libs/engine's `WorkerPool`, one engine
 * per thread): models are loaded once per worker from bytes and kept under a key (the sha256 of
 * their bytes); each call attacks one batch. Failures are returned as values, not thrown, so the
 * error's class name and code survive the thread boundary (the pool keeps only messages).
 * Results are flat objects of typed arrays, which the pool moves to the caller without a copy.
 */
import { tf } from '../../libs/engine/index.js';
import type { ModelBytes } from '../../libs/models/index.js';
import { argMaxRows, createAttack, loadThreadModels, logitsValues, perturbationNorms, threadModels, unloadThreadModels, type Norm } from '../../libs/attacks/index.js';


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

export interface BatchPayload {
  key: string;
  attack: string;
  /** Attack options (steps, alpha); the guidance model comes from the loaded models. */
  options: Record<string, unknown>;
  eps: number;
  norm: Norm;
  seed: number;
  /** Dataset index of the first sample: random draws are keyed by it, so batching does not change results. */
  indexOffset: number;
  shape: [number, number, number, number];
  x: Float32Array;
  labels: Int32Array;
  /** Int32 flag: 1 once the caller aborted. */
  abortFlag: SharedArrayBuffer;
}

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

/** An AbortSignal stand-in whose `aborted` reads a flag the caller's thread sets. */
function sharedSignal(buffer: SharedArrayBuffer): AbortSignal {
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


export async function attackBatch(p: BatchPayload): Promise<BatchOutcome> {
  const entry = threadModels(p.key);
  if (!entry) return { ok: false, error: { name: 'Error', message: `no models loaded under key ${p.key}` } };
  const started = performance.now();
  let x: tf.Tensor4D | undefined;
  try {
    const attack = createAttack(p.attack, entry.guidance ? { ...p.options, guidance: entry.guidance } : p.options);
    x = tf.tensor4d(p.x, p.shape);
    const result = await attack.run(entry.target, x, p.labels, { eps: p.eps, norm: p.norm, seed: p.seed, indexOffset: p.indexOffset, signal: sharedSignal(p.abortFlag) });
    const r = result.results[0];
    try {
      const adversarial = Float32Array.from(r.clipped.dataSync() as Float32Array);
      const predictions = argMaxRows(logitsValues(entry.target, r.clipped), entry.target.numClasses);
      const norms = perturbationNorms(adversarial, p.x, p.shape[0], p.norm);
      return {
        ok: true,
        adversarial,
        predictions,
        cleanAccuracy: result.cleanAccuracy,
        robustAccuracy: r.robustAccuracy,
        maxPerturbation: norms.reduce((a, b) => Math.max(a, b), 0),
        seconds: (performance.now() - started) / 1000,
      };
    } finally {
      r.raw.dispose();
      r.clipped.dispose();
    }
  } catch (error) {
    return { ok: false, error: taskError(error) };
  } finally {
    x?.dispose();
  }
}
