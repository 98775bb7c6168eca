/**
 * In-memory artifact store, for tests and for passing artifacts between components in one process.
 * Same key rules and semantics as the file store; `put` and `get` copy the bytes, so callers may reuse
 * their buffers. Not reachable through `openStore` (it has no durable location).
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ArtifactStore } from './artifact-store.js';
import { StorageError } from './errors.js';
import { checkFolder, checkKey, checkPrefix } from './keys.js';

let nextId = 1;

/** A new empty store; `uri` is `memory://<name>`. @param name @default a process-unique number */
export function createMemoryStore(name: string = String(nextId++)): ArtifactStore {
  return memoryStore(new Map(), `memory://${name}`, '');
}

function memoryStore(objects: Map<string, Uint8Array>, rootUri: string, root: string): ArtifactStore {
  const full = (key: string) => root + checkKey(key);
  const uri = root === '' ? rootUri : `${rootUri}/${root.slice(0, -1)}`;
  const read = (key: string): Uint8Array => {
    const bytes = objects.get(full(key));
    if (!bytes) throw new StorageError('not-found', `no object at ${uri}/${key}`, { details: { uri, key } });
    return bytes.slice();
  };
  return {
    uri,
    async put(key, bytes) {
      objects.set(full(key), bytes.slice());
    },
    async putStream(key, source, options = {}) {
      const k = full(key);
      const chunks: Uint8Array[] = [];
      for await (const chunk of source as AsyncIterable<Uint8Array | string>) {
        options.signal?.throwIfAborted();
        chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk.slice());
      }
      options.signal?.throwIfAborted();
      const bytes = concat(chunks);
      objects.set(k, bytes);
      return bytes.byteLength;
    },
    async get(key) {
      return read(key);
    },
    async getStream(key) {
      return Readable.from([read(key)], { objectMode: false });
    },
    async exists(key) {
      return objects.has(full(key));
    },
    async list(prefix = '') {
      const start = root + checkPrefix(prefix);
      return [...objects.keys()].filter((k) => k.startsWith(start)).map((k) => k.slice(root.length)).sort();
    },
    async listVersions(prefix = '') {
      return (await this.list(prefix)).map((key) => {
        const bytes = objects.get(root + key)!;
        return { key, version: `${bytes.byteLength}:${createHash('sha256').update(bytes).digest('hex')}` };
      });
    },
    async delete(key) {
      objects.delete(full(key));
    },
    child(prefix) {
      const folder = checkFolder(prefix);
      return folder === '' ? memoryStore(objects, rootUri, root) : memoryStore(objects, rootUri, `${root}${folder}/`);
    },
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
