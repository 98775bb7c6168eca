/**
 * Checkpoints in an `ArtifactStore` (the run's `<out>/checkpoints/` folder):
 *
 * ```
 * epoch-0003/target/        model.json + weights (libs/models saveModel, tfjs layers format)
 * epoch-0003/guidance/      the same for the guidance model (lbgat, d2r)
 * epoch-0003/optimizer.bin  momentum buffers, float32 little-endian, concatenated in optimizer.json's order
 * epoch-0003/optimizer.json index: { steps, momentum, weightDecay, buffers: [{ name, shape, offset, length }] }
 * epoch-0003/state.json     epoch, RNG state, history, best, config (TrainingState)
 * epoch-0003/manifest.json  sha256 and size of every file above — written after them
 * best.json                 pointer to the best epoch by held-out robust accuracy
 * latest.json               pointer to the newest complete checkpoint — written last
 * ```
 *
 * A checkpoint exists once `latest.json` names it. Its folder is a manifested folder (libs/storage
 * manifest.ts): files are hashed as they are written — no read-back, which matters for large models
 * on S3 — and every read of an opened checkpoint is checked against the manifest, model files
 * included. Only the latest and the best epochs are kept: older folders are deleted after
 * `latest.json` moves on (their manifest first, so a half-deleted folder never looks complete).
 */
import type { tfl } from '../engine/index.js';
import type { RngState } from '../data/index.js';
import { loadModel, ModelError, saveModel } from '../models/index.js';
import { readVerified, startManifest, StorageError, type ArtifactStore } from '../storage/index.js';
import { TrainingError } from './errors.js';
import type { Collapse } from './held-out-check.js';
import type { MethodModels, MethodName } from './method.js';
import type { Sgd, SgdState } from './sgd.js';

export const CHECKPOINT_VERSION = 1;
export const LATEST_POINTER = 'latest.json';
export const BEST_POINTER = 'best.json';

/** What one epoch did, as kept in the run's history. */
export interface EpochRecord {
  /** 1-based epoch number. */
  epoch: number;
  /** Learning rate and ε of the epoch's last step. */
  lr: number;
  eps: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** Wall-clock seconds of the training steps and of the held-out evaluation. */
  trainSeconds: number;
  evalSeconds: number;
  /** Training throughput, images per second (inner maximisation + update). */
  imagesPerSecond: number;
  /** Held-out samples evaluated (0 when evaluation is off). */
  evalSize: number;
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Most often predicted held-out class and its share of the predictions. */
  dominantClass: number;
  dominantFraction: number;
  /** Present when the epoch ended in a collapsed state. */
  collapse?: Collapse;
}

/** The run's state after a completed epoch (`state.json`). */
export interface TrainingState {
  version: typeof CHECKPOINT_VERSION;
  method: MethodName;
  /** Completed epochs. */
  epoch: number;
  /** The trainer's RNG after this epoch. */
  rng: RngState;
  history: EpochRecord[];
  /** Best epoch so far by held-out robust accuracy. */
  best: { epoch: number; robustAccuracy: number } | null;
  /** The resolved configuration (JSON-safe summary). */
  config: Record<string, unknown>;
}

/** The content of `latest.json` and `best.json`. */
export interface CheckpointPointer {
  /** Folder of the checkpoint, e.g. `epoch-0003`. */
  key: string;
  epoch: number;
  robustAccuracy: number;
}

interface OptimizerIndex {
  steps: number;
  momentum: number;
  weightDecay: number;
  buffers: { name: string; shape: number[]; offset: number; length: number }[];
}

/** The checkpoint folder of a (1-based) epoch: `epoch-0003`. */
export function checkpointKey(epoch: number): string {
  return `epoch-${String(epoch).padStart(4, '0')}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof TrainingError) throw cause;
    if (StorageError.is(cause, 'not-found') || ModelError.is(cause, 'not-found')) {
      throw new TrainingError('not-found', `${what}: ${(cause as Error).message}`, { cause });
    }
    if (ModelError.is(cause, 'corrupt') || StorageError.is(cause, 'digest-mismatch') || StorageError.is(cause, 'corrupt')) {
      throw new TrainingError('corrupt', `${what}: ${(cause as Error).message}`, { cause });
    }
    throw new TrainingError('io', `${what}: ${(cause as Error).message}`, { cause });
  }
}

async function putJson(store: ArtifactStore, key: string, value: unknown): Promise<void> {
  await store.put(key, encoder.encode(`${JSON.stringify(value, null, 1)}\n`));
}

function parseJson<T>(bytes: Uint8Array, where: string): T {
  try {
    return JSON.parse(decoder.decode(bytes)) as T;
  } catch (cause) {
    throw new TrainingError('corrupt', `${where} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

function optimizerFiles(state: SgdState): { bin: Uint8Array; index: OptimizerIndex } {
  const total = state.buffers.reduce((n, b) => n + b.values.length, 0);
  const all = new Float32Array(total);
  const buffers: OptimizerIndex['buffers'] = [];
  let offset = 0;
  for (const b of state.buffers) {
    all.set(b.values, offset);
    buffers.push({ name: b.name, shape: b.shape, offset: offset * 4, length: b.values.length });
    offset += b.values.length;
  }
  const bin = new Uint8Array(all.buffer);
  if (!isLittleEndian()) throw new TrainingError('io', 'checkpoints are written little-endian; this machine is big-endian');
  return { bin, index: { steps: state.steps, momentum: state.momentum, weightDecay: state.weightDecay, buffers } };
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

export interface WriteCheckpointOptions {
  models: MethodModels;
  optimizer: Sgd;
  state: TrainingState;
}

/**
 * Writes the checkpoint of `state.epoch` (models, optimizer, state, then its manifest). It is not
 * visible until `publishCheckpoint` moves the pointers. @returns the folder key
 */
export async function writeCheckpoint(store: ArtifactStore, { models, optimizer, state }: WriteCheckpointOptions): Promise<string> {
  const key = checkpointKey(state.epoch);
  return storeCall(`writing checkpoint ${store.uri}/${key}`, async () => {
    // Removes an old manifest first: a folder being rewritten never looks complete.
    const folder = await startManifest(store, key);
    await saveModel(models.target, folder.store, 'target');
    if (models.guidance) await saveModel(models.guidance, folder.store, 'guidance');
    const { bin, index } = optimizerFiles(await optimizer.exportState());
    await folder.store.put('optimizer.bin', bin);
    await putJson(folder.store, 'optimizer.json', index);
    await putJson(folder.store, 'state.json', state);
    // Drops leftovers of an earlier attempt at this epoch, then writes manifest.json.
    await folder.commit();
    return key;
  });
}

/**
 * Makes a written checkpoint current: `best.json` (when `isBest`), then `latest.json`, then deletes
 * checkpoint folders that are neither the latest nor the best.
 */
export async function publishCheckpoint(store: ArtifactStore, pointer: CheckpointPointer, isBest: boolean): Promise<void> {
  await storeCall(`publishing checkpoint ${store.uri}/${pointer.key}`, async () => {
    if (isBest) await putJson(store, BEST_POINTER, pointer);
    await putJson(store, LATEST_POINTER, pointer);
    const best = await readPointer(store, 'best');
    const keep = new Set([pointer.key, best?.key]);
    const folders = new Map<string, string[]>();
    for (const k of await store.list('epoch-')) {
      const folder = k.slice(0, k.indexOf('/'));
      if (!keep.has(folder)) folders.set(folder, [...(folders.get(folder) ?? []), k]);
    }
    for (const [folder, keys] of folders) {
      await store.delete(`${folder}/manifest.json`);
      for (const k of keys) await store.delete(k);
    }
  });
}

/** The `latest` or `best` pointer, or `undefined` when the store has none. */
export async function readPointer(store: ArtifactStore, which: 'latest' | 'best'): Promise<CheckpointPointer | undefined> {
  const key = which === 'latest' ? LATEST_POINTER : BEST_POINTER;
  const bytes = await storeCall(`reading ${store.uri}/${key}`, async () => ((await store.exists(key)) ? store.get(key) : undefined));
  if (!bytes) return undefined;
  const p = parseJson<CheckpointPointer>(bytes, `${store.uri}/${key}`);
  if (typeof p?.key !== 'string' || !/^epoch-\d{4,}$/.test(p.key) || !Number.isInteger(p.epoch)) {
    throw new TrainingError('corrupt', `${store.uri}/${key} does not point at a checkpoint folder: ${JSON.stringify(p)}`);
  }
  return p;
}

/** An opened, verified checkpoint. */
export interface Checkpoint {
  key: string;
  /** URI of the checkpoint folder. */
  uri: string;
  state: TrainingState;
  /** Whether a guidance model is stored. */
  hasGuidance: boolean;
  /** The optimizer's saved state. */
  optimizerState(): SgdState;
  /** Copies the stored weights (BN moving statistics included) into models of the same architecture. */
  restoreModels(models: MethodModels): Promise<void>;
  /** Loads the stored target (or guidance) model as a new model. */
  loadModel(role: 'target' | 'guidance'): Promise<tfl.LayersModel>;
}

/** Opens the checkpoint in folder `key` (e.g. from `readPointer`); every file it reads is checked against its manifest. */
export async function openCheckpoint(store: ArtifactStore, key: string): Promise<Checkpoint> {
  const where = `${store.uri}/${key}`;
  const folder = await storeCall(`opening checkpoint ${where}`, () => readVerified(store, key));
  const manifest = folder.manifest;
  const need = (name: string): Promise<Uint8Array> => {
    if (!manifest.files.some((f) => f.key === name)) throw new TrainingError('corrupt', `${where}/manifest.json does not list ${name}`);
    return storeCall(`reading ${where}/${name}`, () => folder.get(name));
  };
  const state = parseJson<TrainingState>(await need('state.json'), `${where}/state.json`);
  if (state?.version !== CHECKPOINT_VERSION || !Number.isInteger(state.epoch) || !Array.isArray(state.history)) {
    throw new TrainingError('corrupt', `${where}/state.json is not a version ${CHECKPOINT_VERSION} training state`);
  }
  const index = parseJson<OptimizerIndex>(await need('optimizer.json'), `${where}/optimizer.json`);
  const bin = await need('optimizer.bin');
  const hasGuidance = manifest.files.some((f) => f.key === 'guidance/model.json');

  const loadRole = (role: 'target' | 'guidance') => storeCall(`loading the ${role} model of ${where}`, () => loadModel(folder.store, role));

  return {
    key,
    uri: where,
    state,
    hasGuidance,
    optimizerState() {
      const aligned = new Float32Array(bin.byteLength / 4);
      new Uint8Array(aligned.buffer).set(bin);
      return {
        steps: index.steps,
        momentum: index.momentum,
        weightDecay: index.weightDecay,
        buffers: index.buffers.map((b) => {
          if (b.offset % 4 !== 0 || b.offset / 4 + b.length > aligned.length) {
            throw new TrainingError('corrupt', `${where}/optimizer.json: buffer ${b.name} lies outside optimizer.bin`);
          }
          return { name: b.name, shape: b.shape, values: aligned.slice(b.offset / 4, b.offset / 4 + b.length) };
        }),
      };
    },
    async restoreModels(models) {
      for (const role of ['target', 'guidance'] as const) {
        const model = models[role];
        if (!model) continue;
        if (role === 'guidance' && !hasGuidance) throw new TrainingError('corrupt', `${where} holds no guidance model`);
        const saved = await loadRole(role);
        try {
          const weights = saved.getWeights();
          const mine = model.weights;
          const mismatch =
            weights.length !== mine.length ? `${weights.length} weights, the model has ${mine.length}` : mine.findIndex((w, i) => !sameShape(w.shape, weights[i].shape));
          if (typeof mismatch === 'string' || mismatch >= 0) {
            const why = typeof mismatch === 'string' ? mismatch : `${mine[mismatch].name} is [${weights[mismatch].shape}] there, [${mine[mismatch].shape}] here`;
            throw new TrainingError('corrupt', `the ${role} model in ${where} does not fit the ${role} model being trained: ${why}`);
          }
          model.setWeights(weights);
        } finally {
          saved.dispose();
        }
      }
    },
    loadModel: loadRole,
  };
}

function sameShape(a: readonly (number | null)[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
