/**
 * Model URIs that name an ONNX file: a URI ending in `.onnx` (`file:///…/m.onnx`, `s3://bucket/…/m.onnx`,
 * a path) names one file, where a tfjs model URI names a folder. No engine here: the services check
 * an ONNX model on their own thread.
 */
import { openStore, StorageError, type ArtifactStore } from '../../storage/index.js';
import { ModelError } from '../errors.js';

/** The file name a model's ONNX export gets inside its folder (beside model.json). */
export const MODEL_ONNX = 'model.onnx';

/** True when a model URI names an ONNX file rather than a model folder. */
export function isOnnxUri(uri: string): boolean {
  return /\.onnx$/i.test(uri.trim());
}

/** `…/dir/name.onnx` → the store of `…/dir` and the key `name.onnx`. */
export function splitFileUri(uri: string): { store: ArtifactStore; key: string } {
  const trimmed = uri.trim();
  const slash = trimmed.lastIndexOf('/');
  if (slash < 0) return { store: openStore('.'), key: trimmed };
  const dir = trimmed.slice(0, slash);
  // `file:///m.onnx` → the root `file:///`; `/m.onnx` → `/`.
  return { store: openStore(dir === '' || /:\/*$/.test(dir) ? `${dir}/` : dir), key: trimmed.slice(slash + 1) };
}

/** The bytes of the ONNX file a URI names. Throws `ModelError` `not-found` or `io` (bad URIs: `StorageError`). */
export async function readOnnxFile(uri: string): Promise<Uint8Array> {
  const { store, key } = splitFileUri(uri);
  try {
    return await store.get(key);
  } catch (cause) {
    if (StorageError.is(cause, 'not-found')) throw new ModelError('not-found', `no ONNX file at ${store.uri}/${key}`, { cause });
    if (StorageError.is(cause, 'invalid-key')) throw new ModelError('invalid-options', `invalid ONNX file name "${key}": ${(cause as Error).message}`, { cause });
    throw new ModelError('io', `cannot read ${store.uri}/${key}: ${(cause as Error).message}`, { cause });
  }
}
