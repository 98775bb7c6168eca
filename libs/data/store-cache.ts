/**
 * Data set folders in the artifact store (`cifar10:s3://bucket/cifar`, `folder:file:///srv/pets`):
 * fetched once into a local cache, keyed and verified by content digest, and read from there by the
 * ordinary readers.
 *
 * - A folder with a `manifest.json` (libs/storage manifest: every file's size and sha256) is keyed by
 *   the manifest's sha256: a second load reads only the manifest to find its copy; the download checks
 *   every file against it.
 * - A folder without one is listed and downloaded, each file hashed as it arrives; its key is the sha256
 *   of the sorted "key sha256" lines. A small index per URI remembers which copy a listing gave, with
 *   each object's version (S3's ETag and size, a file's size, mtime and inode): a second load whose
 *   listing has the same keys and versions re-hashes the local copy (verification) instead of
 *   downloading; a file replaced in place changes its version, and the folder is fetched again.
 *
 * Copies are written to a temporary folder and renamed into place (`<cache>/<digest>/`), so concurrent
 * loads (one per worker thread) never see a partial copy. The cache is `HARDEN_DATA_CACHE`, default
 * `<os tmpdir>/harden-data-cache`.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MANIFEST_KEY, openStore, readVerified, StorageError, type ArtifactStore, type ObjectVersion } from '../storage/index.js';
import { DataError } from './errors.js';

/** Store URI schemes a data set folder may use (a plain path is read in place). */
const STORE_URI = /^[a-z][a-z0-9+.-]*:\/\//i;

/** True when a data set folder is a store URI (`s3://…`, `file://…`) rather than a local path. */
export function isStoreUri(dir: string): boolean {
  return STORE_URI.test(dir);
}

/** The local cache folder. */
export function dataCacheDir(): string {
  return process.env.HARDEN_DATA_CACHE || join(tmpdir(), 'harden-data-cache');
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/** Where a copy is complete: written last, holding its digest. */
const COMPLETE = '.harden-complete';

/**
 * The local folder holding a copy of the store folder `uri`, fetching it first when the cache has
 * none. Throws `DataError` `not-found` (nothing there), `bad-format` (a file does not match its
 * manifest), `io` (the store failed).
 */
export async function fetchToCache(uri: string, options: { signal?: AbortSignal; cacheDir?: string } = {}): Promise<string> {
  const cache = options.cacheDir ?? dataCacheDir();
  let store: ArtifactStore;
  try {
    store = openStore(uri);
  } catch (cause) {
    throw new DataError('invalid-spec', `data set folder ${uri}: ${(cause as Error).message}`, { cause });
  }
  try {
    const listing = await store.listVersions('');
    if (listing.length === 0) throw new DataError('not-found', `data set folder ${store.uri} is empty or does not exist`, { file: store.uri });
    return listing.some((o) => o.key === MANIFEST_KEY) ? await fetchManifested(store, cache, options.signal) : await fetchListed(store, listing, cache, options.signal);
  } catch (cause) {
    if (cause instanceof DataError) throw cause;
    if (StorageError.is(cause, 'digest-mismatch')) throw new DataError('bad-format', `data set folder ${store.uri}: ${(cause as Error).message}`, { cause });
    if (StorageError.is(cause, 'not-found')) throw new DataError('not-found', `data set folder ${store.uri}: ${(cause as Error).message}`, { cause });
    throw new DataError('io', `cannot fetch the data set folder ${store.uri}: ${(cause as Error).message}`, { cause });
  }
}

async function complete(dir: string, digest: string): Promise<boolean> {
  try {
    return (await readFile(join(dir, COMPLETE), 'utf8')) === digest;
  } catch {
    return false;
  }
}

/**
 * Fills a temporary folder in `cache` (`fill` returns the copy's digest) and renames it to
 * `<cache>/<digest>`; a complete copy already there (another load finished first) is kept.
 */
async function install(cache: string, fill: (tmp: string) => Promise<string>): Promise<string> {
  await mkdir(cache, { recursive: true });
  const tmp = await mkdtemp(join(cache, '.tmp-'));
  try {
    const digest = await fill(tmp);
    const final = join(cache, digest);
    if (await complete(final, digest)) return final;
    await writeFile(join(tmp, COMPLETE), digest);
    await rm(final, { recursive: true, force: true });
    try {
      await rename(tmp, final);
    } catch (error) {
      if (!(await complete(final, digest))) throw error;
    }
    return final;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function writeLocal(root: string, key: string, bytes: Uint8Array): Promise<void> {
  const path = join(root, ...key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

async function fetchManifested(store: ArtifactStore, cache: string, signal?: AbortSignal): Promise<string> {
  const digest = sha256(await store.get(MANIFEST_KEY));
  if (await complete(join(cache, digest), digest)) return join(cache, digest);
  return install(cache, async (tmp) => {
    const folder = await readVerified(store, '', { manifestSha256: digest });
    for (const entry of folder.manifest.files) {
      signal?.throwIfAborted();
      await writeLocal(tmp, entry.key, await folder.store.get(entry.key)); // checked against the manifest
    }
    return digest;
  });
}

interface ListedIndex {
  keys: string[];
  /** The store's version token per key when it was fetched. */
  versions: string[];
  digest: string;
  /** sha256 per key, to verify the local copy. */
  files: Record<string, string>;
}

async function fetchListed(store: ArtifactStore, listing: ObjectVersion[], cache: string, signal?: AbortSignal): Promise<string> {
  const indexFile = join(cache, 'by-uri', `${sha256(store.uri)}.json`);
  const keys = listing.map((o) => o.key);
  const versions = listing.map((o) => o.version);
  const known = await readFile(indexFile, 'utf8').then((t) => JSON.parse(t) as ListedIndex, () => undefined);
  if (known && known.keys.join('\n') === keys.join('\n') && known.versions?.join('\n') === versions.join('\n')) {
    if (await verifyLocal(join(cache, known.digest), known)) return join(cache, known.digest);
    await rm(join(cache, known.digest), { recursive: true, force: true }); // damaged: fetch it again
  }
  const files: Record<string, string> = {};
  let digest = '';
  const dir = await install(cache, async (tmp) => {
    for (const key of keys) {
      signal?.throwIfAborted();
      const bytes = await store.get(key);
      files[key] = sha256(bytes);
      await writeLocal(tmp, key, bytes);
    }
    digest = sha256(keys.map((k) => `${k} ${files[k]}\n`).join(''));
    return digest;
  });
  await mkdir(dirname(indexFile), { recursive: true });
  await writeFile(indexFile, JSON.stringify({ keys, versions, digest, files } satisfies ListedIndex));
  return dir;
}

/** Whether the local copy is complete and every file still has its recorded sha256. */
async function verifyLocal(dir: string, index: ListedIndex): Promise<boolean> {
  if (!(await complete(dir, index.digest))) return false;
  for (const key of index.keys) {
    const bytes = await readFile(join(dir, ...key.split('/'))).catch(() => undefined);
    if (!bytes || sha256(bytes) !== index.files[key]) return false;
  }
  return true;
}
