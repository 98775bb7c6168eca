/**
 * A stored model's bytes (model.json text + its weight files, concatenated in manifest order) read
 * on the service's thread without an engine, to be posted to the attack workers; and a content key
 * (sha256 of the bytes), so workers keep one copy per distinct model and a re-saved model at the
 * same URI is loaded again.
 */
import { createHash } from 'node:crypto';
import { isOnnxUri, readOnnxModel, type ModelBytes } from '../../libs/models/index.js';
import { openStore } from '../../libs/storage/index.js';
import { RequestError } from '../../libs/rpc/index.js';

export async function readModelBytes(uri: string, field: string): Promise<ModelBytes> {
  if (isOnnxUri(uri)) return (await readOnnxModel(uri)).bytes; // converted here, checked by modelUri()
  const store = openStore(uri);
  const modelJson = new TextDecoder().decode(await store.get('model.json'));
  let manifest: { paths?: unknown }[];
  try {
    manifest = (JSON.parse(modelJson) as { weightsManifest: { paths?: unknown }[] }).weightsManifest;
    if (!Array.isArray(manifest)) throw new Error('no weightsManifest');
  } catch (cause) {
    throw new RequestError('failed-precondition', `${field}: ${uri}/model.json is not a tfjs layers model`, { field, cause });
  }
  const parts: Uint8Array[] = [];
  for (const group of manifest) {
    for (const path of Array.isArray(group.paths) ? group.paths : []) {
      if (typeof path !== 'string' || path.startsWith('/') || path.split('/').includes('..')) {
        throw new RequestError('failed-precondition', `${field}: ${uri}/model.json names a weights file outside its folder`, { field });
      }
      parts.push(await store.get(path));
    }
  }
  const weights = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    weights.set(p, offset);
    offset += p.byteLength;
  }
  return { modelJson, weightData: weights.buffer };
}

/** sha256 over the models' bytes. */
export function modelKey(...models: ModelBytes[]): string {
  const hash = createHash('sha256');
  for (const m of models) {
    hash.update(m.modelJson);
    hash.update(new Uint8Array(m.weightData));
  }
  return hash.digest('hex');
}
