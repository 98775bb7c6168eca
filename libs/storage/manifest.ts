/**
 * Manifested folders: a folder of artifacts plus `manifest.json`, which records the size and sha256
 * of every file in it and is written after them. A folder is complete exactly when its manifest
 * exists; readers check every byte they read against it.
 *
 * ```
 * const w = await startManifest(store, 'jobs/j1/checkpoints/epoch-0003'); // deletes an old manifest.json first
 * await saveModel(model, w.store, 'target');                             // anything written through w.store is hashed
 * await w.store.putStream('optimizer', chunks);
 * const commit = await w.commit();                                        // then manifest.json
 * await writePointer(store, 'jobs/j1/latest.json', commit);              // then the pointer (pointer.ts)
 *
 * const folder = await readVerified(store, commit.folder, { manifestSha256: commit.manifestSha256 });
 * await loadModel(folder.store, 'target');                                // every get is checked
 * ```
 *
 * Digests are computed while writing (no read-back), so a streamed upload is hashed as it passes.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { ArtifactStore, ByteSource } from './artifact-store.js';
import { StorageError } from './errors.js';
import { checkFolder, checkKey, checkPrefix, joinKey } from './keys.js';

/** The manifest's name inside its folder. */
export const MANIFEST_KEY = 'manifest.json';
export const MANIFEST_VERSION = 1;

/** One file of a manifested folder; `key` is relative to the folder. */
export interface ManifestEntry {
  key: string;
  /** Size in bytes. */
  bytes: number;
  /** Lowercase hex sha256 of the content. */
  sha256: string;
}

/** The content of `manifest.json`. */
export interface Manifest {
  version: typeof MANIFEST_VERSION;
  /** Sorted by key. */
  files: ManifestEntry[];
}

/** What `ManifestWriter.commit` wrote. */
export interface ManifestCommit {
  /** The folder, relative to the store given to `startManifest`. */
  folder: string;
  manifest: Manifest;
  /** sha256 of the `manifest.json` bytes: pointers record it, so the manifest is checked too. */
  manifestSha256: string;
  /** Total bytes of the files (manifest excluded). */
  bytes: number;
}

/** Writes one manifested folder. */
export interface ManifestWriter {
  /** The folder, relative to the store. */
  readonly folder: string;
  /**
   * The folder as a store. Every `put`/`putStream` through it (or its children) is hashed and
   * recorded; `delete` drops the record. Only files written through it belong to the folder.
   */
  readonly store: ArtifactStore;
  /**
   * Deletes files in the folder that were not written through `store` (leftovers of an earlier,
   * failed attempt), then writes `manifest.json`. The writer accepts no writes afterwards.
   */
  commit(): Promise<ManifestCommit>;
}

/** A manifested folder opened for reading: every read is checked against the manifest. */
export interface VerifiedFolder {
  /** The folder, relative to the store given to `readVerified`. */
  readonly folder: string;
  /** URI of the folder. */
  readonly uri: string;
  readonly manifest: Manifest;
  /** Reads a listed file and checks its size and sha256; `digest-mismatch` names the key. */
  get(key: string): Promise<Uint8Array>;
  /**
   * Streams a listed file, hashing as it goes: a mismatch is an `error` event (a `StorageError`
   * `digest-mismatch`) at the end of the stream, after the bytes were passed on. Use `get` when
   * nothing may act on bad bytes, or `verify` first.
   */
  getStream(key: string): Promise<Readable>;
  /** Streams every listed file and checks it (memory stays flat); throws on the first mismatch. */
  verify(): Promise<void>;
  /**
   * The folder as a read-only store holding exactly the listed files (`list`, `exists`), whose
   * reads are verified: hand it to readers such as `loadModel`. Writes throw `StorageError` `io`.
   */
  readonly store: ArtifactStore;
}

/** Lowercase hex sha256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Starts (or restarts) writing the manifested folder `folder` of `store`: deletes its
 * `manifest.json` first, so a folder being rewritten never looks complete.
 */
export async function startManifest(store: ArtifactStore, folder: string): Promise<ManifestWriter> {
  const dir = checkFolder(folder);
  const manifestKey = joinKey(dir, MANIFEST_KEY);
  await store.delete(manifestKey);
  const inner = dir === '' ? store : store.child(dir);
  const files = new Map<string, ManifestEntry>();
  let state: 'open' | 'committing' | 'done' = 'open';
  const writable = () => {
    if (state !== 'open') throw new StorageError('io', `the manifest of ${inner.uri} is ${state === 'done' ? 'written' : 'being written'}: start a new one to write more`);
  };
  return {
    folder: dir,
    store: recordingStore(inner, '', files, writable),
    async commit() {
      writable();
      state = 'committing';
      try {
        for (const key of await inner.list('')) {
          if (key !== MANIFEST_KEY && !files.has(key)) await inner.delete(key);
        }
        const manifest: Manifest = { version: MANIFEST_VERSION, files: [...files.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)) };
        const bytes = new TextEncoder().encode(`${JSON.stringify(manifest, null, 1)}\n`);
        await inner.put(MANIFEST_KEY, bytes);
        state = 'done';
        return { folder: dir, manifest, manifestSha256: sha256Hex(bytes), bytes: manifest.files.reduce((n, f) => n + f.bytes, 0) };
      } catch (err) {
        state = 'open';
        throw err;
      }
    },
  };
}

function recordingStore(inner: ArtifactStore, base: string, files: Map<string, ManifestEntry>, writable: () => void): ArtifactStore {
  const recordKey = (key: string) => {
    const k = base + checkKey(key);
    if (k === MANIFEST_KEY) throw new StorageError('invalid-key', `"${MANIFEST_KEY}" at the top of a manifested folder (${inner.uri}) is written by commit()`);
    return k;
  };
  const self: ArtifactStore = {
    uri: inner.uri,
    async put(key, bytes) {
      writable();
      const k = recordKey(key);
      files.delete(k);
      await inner.put(key, bytes);
      files.set(k, { key: k, bytes: bytes.byteLength, sha256: sha256Hex(bytes) });
    },
    async putStream(key, source, options) {
      writable();
      const k = recordKey(key);
      files.delete(k);
      const hash = createHash('sha256');
      let bytes = 0;
      const written = await inner.putStream(key, hashing(source, hash, (n) => (bytes += n)), options);
      if (written !== bytes) throw new StorageError('io', `${inner.uri}/${key}: the store wrote ${written} bytes of ${bytes}`);
      files.set(k, { key: k, bytes, sha256: hash.digest('hex') });
      return written;
    },
    get: (key) => inner.get(key),
    getStream: (key) => inner.getStream(key),
    exists: (key) => inner.exists(key),
    list: (prefix) => inner.list(prefix),
    listVersions: (prefix) => inner.listVersions(prefix),
    async delete(key) {
      writable();
      const k = base + checkKey(key);
      await inner.delete(key);
      files.delete(k);
    },
    child(prefix) {
      const folder = checkFolder(prefix);
      return folder === '' ? self : recordingStore(inner.child(folder), `${base}${folder}/`, files, writable);
    },
  };
  return self;
}

async function* hashing(source: ByteSource, hash: Hash, add: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(bytes);
    add(bytes.byteLength);
    yield bytes;
  }
}

/**
 * Opens the manifested folder `folder` of `store`. Throws `StorageError`: `not-found` when it has no
 * manifest (incomplete, or never written), `corrupt` when the manifest is not one, and
 * `digest-mismatch` when `manifestSha256` (from a pointer) does not match the manifest's bytes.
 */
export async function readVerified(store: ArtifactStore, folder: string, options: { manifestSha256?: string } = {}): Promise<VerifiedFolder> {
  const dir = checkFolder(folder);
  const root = dir === '' ? store : store.child(dir);
  const where = `${root.uri}/${MANIFEST_KEY}`;
  let bytes: Uint8Array;
  try {
    bytes = await root.get(MANIFEST_KEY);
  } catch (cause) {
    if (StorageError.is(cause, 'not-found')) {
      throw new StorageError('not-found', `no ${MANIFEST_KEY} in ${root.uri}: the folder is incomplete (its writing did not finish) or was never written`, {
        cause,
        details: { ...cause.details, uri: root.uri },
      });
    }
    throw cause;
  }
  if (options.manifestSha256 !== undefined && sha256Hex(bytes) !== options.manifestSha256) {
    throw new StorageError(
      'digest-mismatch',
      `${where} has sha256 ${sha256Hex(bytes)}, but the pointer to it records ${options.manifestSha256}: the manifest was changed after it was written; restore it or use another checkpoint`,
      { details: { uri: root.uri, key: MANIFEST_KEY } },
    );
  }
  const manifest = parseManifest(bytes, where);
  const entries = new Map(manifest.files.map((f) => [f.key, f]));
  const entry = (key: string): ManifestEntry => {
    const e = entries.get(checkKey(key));
    if (!e) throw new StorageError('not-found', `${root.uri}/${key} is not listed in ${MANIFEST_KEY}`, { details: { uri: root.uri, key } });
    return e;
  };
  const mismatch = (e: ManifestEntry, sha: string, n: number) =>
    new StorageError(
      'digest-mismatch',
      `${root.uri}/${e.key} does not match ${MANIFEST_KEY}: ${n} bytes with sha256 ${sha}, expected ${e.bytes} bytes with sha256 ${e.sha256}; the object was changed or damaged after it was written: restore it or use another checkpoint`,
      { details: { uri: root.uri, key: e.key } },
    );
  const get = async (key: string): Promise<Uint8Array> => {
    const e = entry(key);
    const data = await root.get(e.key);
    const sha = sha256Hex(data);
    if (data.byteLength !== e.bytes || sha !== e.sha256) throw mismatch(e, sha, data.byteLength);
    return data;
  };
  const getStream = async (key: string): Promise<Readable> => {
    const e = entry(key);
    const source = await root.getStream(e.key);
    const hash = createHash('sha256');
    let n = 0;
    const check = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        n += chunk.byteLength;
        done(null, chunk);
      },
      flush(done) {
        const sha = hash.digest('hex');
        done(n === e.bytes && sha === e.sha256 ? null : mismatch(e, sha, n));
      },
    });
    source.on('error', (err) => check.destroy(err));
    return source.pipe(check);
  };
  const readOnly = (): never => {
    throw new StorageError('io', `${root.uri} is opened for verified reading; write through startManifest instead`);
  };
  const view = (base: string): ArtifactStore => {
    const self: ArtifactStore = {
      uri: base === '' ? root.uri : `${root.uri}/${base.slice(0, -1)}`,
      put: async () => readOnly(),
      putStream: async () => readOnly(),
      delete: async () => readOnly(),
      get: (key) => get(base + checkKey(key)),
      getStream: (key) => getStream(base + checkKey(key)),
      exists: async (key) => entries.has(base + checkKey(key)),
      async list(prefix = '') {
        const start = base + checkPrefix(prefix);
        return manifest.files.map((f) => f.key).filter((k) => k.startsWith(start)).map((k) => k.slice(base.length));
      },
      async listVersions(prefix = '') {
        const start = base + checkPrefix(prefix);
        return manifest.files.filter((f) => f.key.startsWith(start)).map((f) => ({ key: f.key.slice(base.length), version: `${f.bytes}:${f.sha256}` }));
      },
      child(prefix) {
        const folder = checkFolder(prefix);
        return folder === '' ? self : view(`${base}${folder}/`);
      },
    };
    return self;
  };
  return {
    folder: dir,
    uri: root.uri,
    manifest,
    get,
    getStream,
    async verify() {
      for (const f of manifest.files) {
        const stream = await getStream(f.key);
        for await (const _chunk of stream) {
          // consumed only to hash; the flush check throws on a mismatch
        }
      }
    },
    store: view(''),
  };
}

/**
 * Deletes the manifested folder `folder` of `store`: `manifest.json` first (so a half-deleted
 * folder never looks complete), then every other object under it.
 */
export async function deleteManifested(store: ArtifactStore, folder: string): Promise<void> {
  const dir = checkFolder(folder);
  if (dir === '') throw new StorageError('invalid-key', 'deleteManifested needs a folder, not the store root');
  await store.delete(joinKey(dir, MANIFEST_KEY));
  for (const key of await store.list(`${dir}/`)) await store.delete(key);
}

function parseManifest(bytes: Uint8Array, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new StorageError('corrupt', `${where} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const m = value as Partial<Manifest> | null;
  if (m === null || typeof m !== 'object' || m.version !== MANIFEST_VERSION || !Array.isArray(m.files)) {
    throw new StorageError('corrupt', `${where} is not a version ${MANIFEST_VERSION} manifest ({ version, files: [{ key, bytes, sha256 }] })`);
  }
  for (const f of m.files) {
    const ok =
      f !== null &&
      typeof f === 'object' &&
      typeof f.key === 'string' &&
      Number.isSafeInteger(f.bytes) &&
      f.bytes >= 0 &&
      typeof f.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(f.sha256);
    if (!ok) throw new StorageError('corrupt', `${where} lists a malformed file entry: ${JSON.stringify(f)}`);
    try {
      checkKey(f.key);
    } catch (cause) {
      throw new StorageError('corrupt', `${where} lists an invalid key ${JSON.stringify(f.key)}`, { cause });
    }
  }
  return m as Manifest;
}
