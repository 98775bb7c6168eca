/**
 * Why a storage operation failed.
 *
 * - `invalid-uri`: the store URI cannot be parsed (e.g. `file:` without `//`, `s3://` without a bucket).
 * - `invalid-key`: a key is empty, absolute, or has `.`/`..`/empty segments or backslashes.
 * - `unsupported-scheme`: the URI names a scheme this build has no store for.
 * - `not-found`: the key holds no object.
 * - `io`: the medium failed (permissions, full disk, network…); `cause` has the original error.
 */
export type StorageErrorCode = 'invalid-uri' | 'invalid-key' | 'unsupported-scheme' | 'not-found' | 'io';

/** A typed storage failure: `code` is stable, `message` names the URI or path, `cause` keeps the original. */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }

  /** True when `err` is a `StorageError`, optionally with one of `codes`. */
  static is(err: unknown, ...codes: StorageErrorCode[]): err is StorageError {
    return err instanceof StorageError && (codes.length === 0 || codes.includes(err.code));
  }
}
