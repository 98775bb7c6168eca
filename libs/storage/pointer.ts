/**
 * Pointers: small JSON objects (`latest.json`, `best.json`) naming a complete manifested folder and
 * the sha256 of its manifest. A pointer is written after the manifest it names, so whatever it names
 * is complete; a crash before it moves leaves it on the previous folder.
 *
 * S3 and the file store replace an object atomically, so a reader sees the old pointer or the new
 * one, never a mix.
 */
import type { ArtifactStore } from './artifact-store.js';
import { StorageError } from './errors.js';
import { checkFolder, checkKey } from './keys.js';
import { readVerified, type ManifestCommit, type VerifiedFolder } from './manifest.js';

export const POINTER_VERSION = 1;

/** A pointer as `readPointer` returns it. */
export interface Pointer {
  /** The folder pointed at, relative to the store (as `startManifest` and `readVerified` take it). */
  folder: string;
  /** sha256 of that folder's `manifest.json`. */
  manifestSha256: string;
  /** When the pointer was written, ISO 8601 UTC. */
  writtenAt: string;
  /** What the writer attached (epoch, metrics…), as JSON. */
  data: Record<string, unknown>;
}

/** The JSON stored: `folder` is relative to the pointer's own folder, so a job folder can be moved whole. */
interface StoredPointer {
  version: typeof POINTER_VERSION;
  folder: string;
  manifestSha256: string;
  writtenAt: string;
  data?: Record<string, unknown>;
}

/**
 * Points `key` at the folder `commit` wrote (which must lie below the pointer's folder), with `data`
 * attached. Call it after `commit()`: pointer last.
 */
export async function writePointer(store: ArtifactStore, key: string, commit: ManifestCommit, data: Record<string, unknown> = {}): Promise<Pointer> {
  checkKey(key);
  const base = dirOf(key);
  if (base !== '' && !commit.folder.startsWith(`${base}/`)) {
    throw new StorageError('invalid-key', `pointer ${key} can only name folders below ${base}/, not ${commit.folder}`);
  }
  const stored: StoredPointer = {
    version: POINTER_VERSION,
    folder: base === '' ? commit.folder : commit.folder.slice(base.length + 1),
    manifestSha256: commit.manifestSha256,
    writtenAt: new Date().toISOString(),
    data,
  };
  await store.put(key, new TextEncoder().encode(`${JSON.stringify(stored, null, 1)}\n`));
  return { folder: commit.folder, manifestSha256: stored.manifestSha256, writtenAt: stored.writtenAt, data };
}

/** The pointer at `key`, or `undefined` when there is none. Throws `StorageError` `corrupt` when it is not a pointer. */
export async function readPointer(store: ArtifactStore, key: string): Promise<Pointer | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(checkKey(key));
  } catch (err) {
    if (StorageError.is(err, 'not-found')) return undefined;
    throw err;
  }
  const where = `${store.uri}/${key}`;
  let p: Partial<StoredPointer> | null;
  try {
    p = JSON.parse(new TextDecoder().decode(bytes)) as Partial<StoredPointer> | null;
  } catch (cause) {
    throw new StorageError('corrupt', `${where} is not valid JSON: ${(cause as Error).message}`, { cause, details: { uri: store.uri, key } });
  }
  if (
    p === null ||
    typeof p !== 'object' ||
    p.version !== POINTER_VERSION ||
    typeof p.folder !== 'string' ||
    typeof p.manifestSha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(p.manifestSha256)
  ) {
    throw new StorageError('corrupt', `${where} is not a version ${POINTER_VERSION} pointer ({ version, folder, manifestSha256 })`, { details: { uri: store.uri, key } });
  }
  let folder: string;
  try {
    folder = checkFolder([dirOf(key), p.folder].filter((s) => s !== '').join('/'));
  } catch (cause) {
    throw new StorageError('corrupt', `${where} names an invalid folder ${JSON.stringify(p.folder)}`, { cause, details: { uri: store.uri, key } });
  }
  const data = p.data !== null && typeof p.data === 'object' && !Array.isArray(p.data) ? p.data : {};
  return { folder, manifestSha256: p.manifestSha256, writtenAt: typeof p.writtenAt === 'string' ? p.writtenAt : '', data };
}

/**
 * Follows the pointer at `key` to its folder, opened for verified reading (the manifest checked
 * against the pointer's digest). `undefined` when there is no pointer; a pointer to a folder whose
 * manifest is gone throws `not-found`.
 */
export async function openPointer(store: ArtifactStore, key: string): Promise<{ pointer: Pointer; folder: VerifiedFolder } | undefined> {
  const pointer = await readPointer(store, key);
  if (!pointer) return undefined;
  return { pointer, folder: await readVerified(store, pointer.folder, { manifestSha256: pointer.manifestSha256 }) };
}

function dirOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return slash < 0 ? '' : key.slice(0, slash);
}
