/**
 * `file://` artifact store: one file per key under a root directory.
 *
 * Writes are atomic: bytes go to a temp file in the target's own directory (same file system), which
 * is fsynced, then renamed over the target, then the directory is fsynced (best effort). A crash
 * leaves the old file or the new one, plus at worst a stray `.<name>.<hex>.tmp` that `list` ignores.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ArtifactStore } from './artifact-store.js';
import { StorageError } from './errors.js';
import { checkFolder, checkKey, checkPrefix } from './keys.js';
import { formatStoreUri } from './store-uri.js';

/** Temp files written by `put`: `.<target name>.<16 hex>.tmp`; never listed. */
const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/;

/** A store over the directory `root` (an absolute path; created on the first `put`). */
export function createFileStore(root: string): ArtifactStore {
  const uri = formatStoreUri({ scheme: 'file', path: root });
  const pathOf = (key: string): string => join(root, ...checkKey(key).split('/'));
  const targetOf = (key: string): string => {
    const target = pathOf(key);
    if (TEMP_FILE.test(key.slice(key.lastIndexOf('/') + 1))) {
      throw new StorageError('invalid-key', `invalid key ${JSON.stringify(key)}: the name is reserved for temp files`);
    }
    return target;
  };

  const store: ArtifactStore = {
    uri,

    async put(key, bytes) {
      const target = targetOf(key);
      try {
        await writeAtomic(target, (handle) => handle.writeFile(bytes));
      } catch (cause) {
        throw ioError(`cannot write ${target}`, cause);
      }
    },

    async putStream(key, source, options = {}) {
      const target = targetOf(key);
      let written = 0;
      try {
        await writeAtomic(target, async (handle) => {
          const sink = new Writable({
            write(chunk: Uint8Array, _encoding, done) {
              written += chunk.byteLength;
              handle.writeFile(chunk).then(() => done(), done);
            },
          });
          const input = source instanceof Readable ? source : Readable.from(source, { objectMode: false });
          await pipeline(input, sink, options.signal ? { signal: options.signal } : {});
        });
      } catch (cause) {
        if (isAbort(cause)) throw cause;
        throw ioError(`cannot write ${target}`, cause);
      }
      return written;
    },

    async get(key) {
      const path = pathOf(key);
      try {
        const buf = await readFile(path);
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      } catch (cause) {
        if (isMissing(cause) || errno(cause) === 'EISDIR') {
          throw new StorageError('not-found', `no object at ${path} (store ${uri}, key "${key}")`, { cause });
        }
        throw ioError(`cannot read ${path}`, cause);
      }
    },

    async getStream(key) {
      const path = pathOf(key);
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (cause) {
        if (isMissing(cause)) throw new StorageError('not-found', `no object at ${path} (store ${uri}, key "${key}")`, { cause });
        throw ioError(`cannot read ${path}`, cause);
      }
      // open(2) succeeds on a directory: a folder is not an object.
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        throw new StorageError('not-found', `no object at ${path} (store ${uri}, key "${key}")`);
      }
      return handle.createReadStream();
    },

    async exists(key) {
      const path = pathOf(key);
      try {
        return (await stat(path)).isFile();
      } catch (cause) {
        if (isMissing(cause)) return false;
        throw ioError(`cannot stat ${path}`, cause);
      }
    },

    async list(prefix = '') {
      checkPrefix(prefix);
      const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const keys: string[] = [];
      await walk(join(root, ...folder.split('/').filter(Boolean)), folder, keys);
      return keys.filter((k) => k.startsWith(prefix)).sort();
    },

    async listVersions(prefix = '') {
      const keys = await store.list(prefix);
      const out = [];
      for (const key of keys) {
        const path = pathOf(key);
        try {
          const s = await stat(path, { bigint: true });
          out.push({ key, version: `${s.size}:${s.mtimeNs}:${s.ino}` });
        } catch (cause) {
          if (!isMissing(cause)) throw ioError(`cannot stat ${path}`, cause);
        }
      }
      return out;
    },

    async delete(key) {
      const path = pathOf(key);
      try {
        await unlink(path);
      } catch (cause) {
        // No object at this key (missing, or a folder): deleting is idempotent, as in S3.
        if (isMissing(cause)) return;
        if ((errno(cause) === 'EISDIR' || errno(cause) === 'EPERM') && (await isDirectory(path))) return;
        throw ioError(`cannot delete ${path}`, cause);
      }
      await pruneEmptyParents(dirname(path), root);
    },

    child(prefix) {
      const folder = checkFolder(prefix);
      return folder === '' ? store : createFileStore(join(root, ...folder.split('/')));
    },
  };
  return store;
}

/**
 * `mkdir -p` that reports the real reason it failed. Node's recursive mkdir says ENOENT when a
 * missing parent cannot be made, whatever the cause (a read-only file system, no space, no
 * permission); the one non-recursive mkdir below the deepest folder that exists says which.
 */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    return;
  } catch (cause) {
    if (!isMissing(cause)) throw cause;
    let existing = dir;
    let below = dir;
    for (;;) {
      const parent = dirname(existing);
      if (parent === existing) throw cause;
      below = existing;
      existing = parent;
      try {
        await stat(existing);
        break;
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    try {
      await mkdir(below);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    await mkdir(dir, { recursive: true });
  }
}

/** Writes a temp file beside `target` with `write`, fsyncs it, renames it over `target`, fsyncs the directory. */
async function writeAtomic(target: string, write: (handle: FileHandle) => Promise<unknown>): Promise<void> {
  const dir = dirname(target);
  const temp = join(dir, `.${target.slice(dir.length + 1)}.${randomBytes(8).toString('hex')}.tmp`);
  await makeDir(dir);
  let handle;
  try {
    handle = await open(temp, 'wx');
  } catch (cause) {
    // A concurrent `delete` may have pruned the freshly made directory: make it again, once.
    if (!isMissing(cause)) throw cause;
    await makeDir(dir);
    handle = await open(temp, 'wx');
  }
  try {
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (cause) {
    await unlink(temp).catch(() => undefined);
    throw cause;
  }
  await syncDirectory(dir);
}

/** fsyncs a directory so the rename itself is durable; not every platform allows it, hence best effort. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort: the data itself was fsynced before the rename
  }
}

async function walk(dir: string, keyPrefix: string, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    if (isMissing(cause)) return;
    throw ioError(`cannot list ${dir}`, cause);
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const key = keyPrefix + entry.name;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) await walk(path, `${key}/`, out);
    else if (isFile && !TEMP_FILE.test(entry.name)) out.push(key);
  }
}

/** Removes now-empty directories from `dir` up to (not including) `root`; stops at the first non-empty one. */
async function pruneEmptyParents(dir: string, root: string): Promise<void> {
  while (dir.length > root.length && dir.startsWith(root + sep)) {
    try {
      await rmdir(dir);
    } catch {
      return; // not empty (or gone): either way, done
    }
    dir = dirname(dir);
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

function isMissing(err: unknown): boolean {
  const code = errno(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function ioError(what: string, cause: unknown): StorageError {
  if (cause instanceof StorageError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError('io', `${what}: ${detail}`, { cause });
}
