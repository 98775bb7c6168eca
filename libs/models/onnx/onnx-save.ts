/**
 * Writing models as ONNX into a store: `exportOnnxToUri` (what `harden export` does) and
 * `saveModelWithOnnx`, which saves the tfjs folder and `model.onnx` beside model.json (what a Harden
 * job leaves behind), so the caller can run the hardened model in their own stack.
 */
import type { tfl } from '../../engine/index.js';
import { joinKey, openStore, type ArtifactStore } from '../../storage/index.js';
import { ModelError } from '../errors.js';
import { saveModel, type SavedModel } from '../store-io.js';
import { modelToOnnx, type OnnxExportOptions } from './onnx-export.js';
import { isOnnxUri, MODEL_ONNX, splitFileUri } from './onnx-uri.js';

/** What an ONNX export wrote. */
export interface SavedOnnx {
  /** URI of the .onnx file. */
  uri: string;
  bytes: number;
}

/** Writes `model` as ONNX to `key` of `store`. Throws `ModelError` `unsupported` (a layer it cannot write) or `io`. */
export async function saveOnnx(model: tfl.LayersModel, store: ArtifactStore, key: string, options: OnnxExportOptions = {}): Promise<SavedOnnx> {
  const bytes = modelToOnnx(model, options);
  try {
    await store.put(key, bytes);
  } catch (cause) {
    throw new ModelError('io', `cannot write ${store.uri}/${key}: ${(cause as Error).message}`, { cause });
  }
  return { uri: `${store.uri}/${key}`, bytes: bytes.byteLength };
}

/** Writes `model` as ONNX to a URI: a `.onnx` file, or a folder (then `model.onnx` inside it). */
export async function exportOnnxToUri(model: tfl.LayersModel, uri: string, options: OnnxExportOptions = {}): Promise<SavedOnnx> {
  if (isOnnxUri(uri)) {
    const { store, key } = splitFileUri(uri);
    return saveOnnx(model, store, key, options);
  }
  return saveOnnx(model, openStore(uri.replace(/\/+$/, '')), MODEL_ONNX, options);
}

/**
 * Saves `model` into the folder `prefix` of `store` (`saveModel`) with its ONNX export beside
 * model.json (`model.onnx`, written first: model.json stays the last file a save writes). A model
 * the exporter cannot write is still saved; `warnings` then says why there is no model.onnx.
 */
export async function saveModelWithOnnx(model: tfl.LayersModel, store: ArtifactStore, prefix = ''): Promise<SavedModel & { onnxUri: string | null; warnings: string[] }> {
  let onnxUri: string | null = null;
  const warnings: string[] = [];
  try {
    onnxUri = (await saveOnnx(model, store, joinKey(prefix, MODEL_ONNX))).uri;
  } catch (error) {
    if (!ModelError.is(error, 'unsupported')) throw error;
    warnings.push(`no ${MODEL_ONNX} was written: ${error.message}`);
  }
  return { ...(await saveModel(model, store, prefix)), onnxUri, warnings };
}
