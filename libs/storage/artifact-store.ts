import type { Readable } from 'node:stream';

/** Bytes to stream into a store: a Node `Readable` or any async iterable of byte chunks. */
export type ByteSource = Readable | AsyncIterable<Uint8Array>;

/** Options of `putStream`. */
export interface PutStreamOptions {
  /** Aborts the upload; the object is then left as it was (no partial object becomes visible). */
  signal?: AbortSignal;
}

/**
 * The one interface every artifact store implements (`file://`, `s3://`, and `memory://` in tests).
 *
 * Keys are `/`-separated paths relative to the store's root, like S3 object keys: no leading `/`,
 * no empty, `.` or `..` segments (see `checkKey`). A "folder" is only a key prefix ending in `/`;
 * stores hold objects, never empty folders.
 */
/** An object key and its version token (`ArtifactStore.listVersions`). */
export interface ObjectVersion {
  key: string;
  version: string;
}

export interface ArtifactStore {
  /** The store's root, e.g. `file:///srv/harden` or `s3://bucket/prefix`; never ends with `/`. */
  readonly uri: string;

  /**
   * Writes `bytes` at `key`, replacing any object there. Atomic: readers see the old object or the
   * whole new one, never a part (files: temp file + fsync + rename).
   */
  put(key: string, bytes: Uint8Array): Promise<void>;

  /**
   * Writes what `source` yields at `key` without holding it all in memory (files: streamed to the
   * temp file; S3: multipart upload with bounded part size and parallelism). Atomic like `put`: a
   * failed or aborted stream leaves the previous object (or none). @returns the bytes written
   */
  putStream(key: string, source: ByteSource, options?: PutStreamOptions): Promise<number>;

  /** Reads the object at `key`. Throws `StorageError` `not-found` when there is none. */
  get(key: string): Promise<Uint8Array>;

  /**
   * Opens the object at `key` as a stream. A missing object rejects here (`not-found`), not later
   * on the stream; failures while reading (a cut connection) are `error` events on the stream.
   */
  getStream(key: string): Promise<Readable>;

  /** Whether an object (not a folder) exists at `key`. */
  exists(key: string): Promise<boolean>;

  /**
   * Every object key that starts with `prefix` (a plain string prefix, as in S3: `ckpt` matches
   * `ckpt/a` and `ckpt-2/b`; end it with `/` to mean a folder), recursively, sorted by code unit.
   * An empty prefix (the default) lists the whole store; a prefix nothing matches gives `[]`.
   */
  list(prefix?: string): Promise<string[]>;

  /**
   * `list`, with a version per object: a token that changes whenever the object is written again
   * (S3: its ETag and size; a file: its size, modification time and inode; a manifest: its sha256).
   * Equal tokens mean the same bytes as far as the store can tell without reading them.
   */
  listVersions(prefix?: string): Promise<ObjectVersion[]>;

  /** Removes the object at `key`. Idempotent, as in S3: deleting a missing key is not an error. */
  delete(key: string): Promise<void>;

  /** A store rooted at `prefix` (a folder key) below this one; its keys are relative to it. */
  child(prefix: string): ArtifactStore;
}
