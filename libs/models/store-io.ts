/**
 * Models in an `ArtifactStore`: a "folder" (key prefix) holding `model.json` and weight files
 * `group1-shard{i}of{n}.bin` (tfjs-converter's names, so tfjs's own loaders read the folder too).
 *
 * Save writes the weight files first and `model.json` last, so a model.json that exists points at
 * complete weights; then it deletes weight files of an earlier save that the new one no longer uses.
 * Overwriting a folder while another process reads it is not safe: write checkpoints to new folders.
 */
import { tf, type tfl } from '../engine/index.js';
import { checkKey, joinKey, openStore, StorageError, type ArtifactStore } from '../storage/index.js';
import { ModelError } from './errors.js';
import { loadOnnxModelFromUri, readOnnxModel } from './onnx/onnx-store.js';
import { isOnnxUri } from './onnx/onnx-uri.js';
import { captureArtifacts, fromArtifacts, MODEL_JSON, modelFromJson, parseModelJson, toModelJson, type Artifacts, type ModelBytes } from './model-format.js';

export interface SaveModelOptions {
  /** Largest weights file, in bytes (tfjs-converter's default shard size). @default 4194304 (4 MiB) */
  shardBytes?: number;
}

/** What a save wrote. */
export interface SavedModel {
  /** URI of the model folder (what `loadModelFromUri` and `--model` take). */
  uri: string;
  /** Keys written, relative to the store, weight files first and model.json last. */
  keys: string[];
  /** Total bytes of the weight files. */
  weightBytes: number;
}

const SHARD_NAME = /^group\d+-shard\d+of\d+\.bin$/;
const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

/**
 * A tfjs `io.IOHandler` over the folder `prefix` of `store`: pass it to `model.save(...)` or
 * `tfl.loadLayersModel(...)`. Failures are `ModelError`s naming the key.
 */
export function storeIOHandler(store: ArtifactStore, prefix = '', options: SaveModelOptions = {}): tf.io.IOHandler {
  return {
    async save(artifacts) {
      await writeArtifacts(store, prefix, fromArtifacts(artifacts), options);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load() {
      const { json, weightData } = await readFolder(store, prefix);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData,
        ...(json.userDefinedMetadata !== undefined ? { userDefinedMetadata: json.userDefinedMetadata } : {}),
        ...(json.trainingConfig !== undefined ? { trainingConfig: json.trainingConfig } : {}),
      };
    },
  };
}

/** Saves `model` (topology, weights, metadata; no optimizer state) into the folder `prefix` of `store`. */
export async function saveModel(model: tfl.LayersModel, store: ArtifactStore, prefix = '', options: SaveModelOptions = {}): Promise<SavedModel> {
  return writeArtifacts(store, prefix, await captureArtifacts(model), options);
}

/** Saves `model` into the folder a store URI names (`file:///…/model`, a path, later `s3://…`). */
export async function saveModelToUri(model: tfl.LayersModel, uri: string, options: SaveModelOptions = {}): Promise<SavedModel> {
  return saveModel(model, openStore(uri), '', options);
}

/**
 * Loads the model saved in the folder `prefix` of `store`, bit-identical to what was saved.
 * Throws `ModelError`: `not-found` (model.json or a weights file missing), `corrupt`, or `io`.
 */
export async function loadModel(store: ArtifactStore, prefix = ''): Promise<tfl.LayersModel> {
  const { json, weightData } = await readFolder(store, prefix);
  return modelFromJson(json, weightData, `${store.uri}/${joinKey(prefix, MODEL_JSON)}`);
}

/**
 * Loads the model a URI names: the folder holding model.json (a URI ending in `/model.json` is taken
 * as its folder), or an ONNX file (a URI ending in `.onnx`, converted on load: onnx/onnx-import.ts).
 * Bad URIs throw `StorageError` (`invalid-uri`, `unsupported-scheme`); an ONNX model the importer
 * does not take throws `ModelError` `unsupported`.
 */
export async function loadModelFromUri(uri: string): Promise<tfl.LayersModel> {
  if (isOnnxUri(uri)) return (await loadOnnxModelFromUri(uri)).model;
  return loadModel(openStore(uri.replace(/\/model\.json$/, '')), '');
}

/**
 * The bytes of the model a URI names (as `loadModelFromUri` reads it), without building it:
 * model.json and its weights concatenated in manifest order — to post to worker threads, which
 * build it there (`modelFromBytes`); an `.onnx` file is converted here. Throws `ModelError` as
 * `loadModel` (and `unsupported` for an ONNX model the importer does not take).
 */
export async function readModelBytes(uri: string): Promise<ModelBytes> {
  if (isOnnxUri(uri)) return (await readOnnxModel(uri)).bytes; // converted without an engine
  const { json, weightData } = await readFolder(openStore(uri.replace(/\/model\.json$/, '')), '');
  return { modelJson: JSON.stringify(json), weightData };
}

async function writeArtifacts(store: ArtifactStore, prefix: string, a: Artifacts, options: SaveModelOptions): Promise<SavedModel> {
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!Number.isInteger(shardBytes) || shardBytes < 1) {
    throw new ModelError('invalid-options', `shardBytes must be a positive integer, got ${shardBytes}`);
  }
  const total = a.weightData.byteLength;
  const count = total === 0 ? 0 : Math.ceil(total / shardBytes);
  const names = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
  const json = toModelJson(a.artifacts, a.weightSpecs, names);
  const keys: string[] = [];
  await withStoreErrors(store, prefix, async () => {
    for (const [i, name] of names.entries()) {
      const key = joinKey(prefix, name);
      const end = Math.min(total, (i + 1) * shardBytes);
      await store.put(key, new Uint8Array(a.weightData, i * shardBytes, end - i * shardBytes));
      keys.push(key);
    }
    const jsonKey = joinKey(prefix, MODEL_JSON);
    await store.put(jsonKey, new TextEncoder().encode(JSON.stringify(json)));
    keys.push(jsonKey);
    const folder = prefix === '' ? '' : `${joinKey(prefix)}/`;
    for (const key of await store.list(`${folder}group`)) {
      const name = key.slice(folder.length);
      if (SHARD_NAME.test(name) && !names.includes(name)) await store.delete(key);
    }
  });
  return { uri: prefix === '' ? store.uri : `${store.uri}/${joinKey(prefix)}`, keys, weightBytes: total };
}

async function readFolder(store: ArtifactStore, prefix: string): Promise<{ json: tf.io.ModelJSON; weightData: ArrayBuffer }> {
  const jsonKey = joinKey(prefix, MODEL_JSON);
  const where = `${store.uri}/${jsonKey}`;
  const text = await readKey(store, jsonKey, 'model.json').then((b) => new TextDecoder().decode(b));
  const json = parseModelJson(text, where);
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  const parts: Uint8Array[] = [];
  for (const path of paths) {
    let key: string;
    try {
      if (path.startsWith('/')) throw new Error('absolute path');
      key = checkKey(joinKey(prefix, path));
    } catch (cause) {
      throw new ModelError('corrupt', `${where} names weights file "${path}", which is not a key inside the model folder`, { cause });
    }
    parts.push(await readKey(store, key, 'weights file'));
  }
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    weightData.set(part, offset);
    offset += part.byteLength;
  }
  return { json, weightData: weightData.buffer };
}

async function readKey(store: ArtifactStore, key: string, what: string): Promise<Uint8Array> {
  try {
    return await store.get(key);
  } catch (cause) {
    if (StorageError.is(cause, 'not-found')) {
      throw new ModelError('not-found', `no ${what} at ${store.uri}/${key}`, { cause });
    }
    if (StorageError.is(cause, 'invalid-key')) {
      throw new ModelError('invalid-options', `invalid model folder: ${(cause as Error).message}`, { cause });
    }
    // Read through a verified folder (a checkpoint): bytes that do not match its manifest.
    if (StorageError.is(cause, 'digest-mismatch')) throw new ModelError('corrupt', `damaged ${what}: ${(cause as Error).message}`, { cause });
    throw new ModelError('io', `cannot read ${what} at ${store.uri}/${key}: ${(cause as Error).message}`, { cause });
  }
}

async function withStoreErrors(store: ArtifactStore, prefix: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (cause) {
    if (cause instanceof ModelError) throw cause;
    if (StorageError.is(cause, 'invalid-key')) {
      throw new ModelError('invalid-options', `invalid model folder "${prefix}": ${cause.message}`, { cause });
    }
    throw new ModelError('io', `cannot save the model to ${store.uri}/${joinKey(prefix)}: ${(cause as Error).message}`, { cause });
  }
}
