/**
 * Why a storage operation failed.
 *
 * - `invalid-uri`: the store URI cannot be parsed (e.g. `file:` without `//`, `s3://` without a bucket).
 * - `invalid-key`: a key is empty, absolute, or has `.`/`..`/empty segments or backslashes.
 * - `unsupported-scheme`: the URI names a scheme this build has no store for.
 * - `not-found`: the key holds no object.
 * - `bucket-not-found`: the S3 bucket does not exist (`NoSuchBucket`).
 * - `access-denied`: the credentials are valid but lack a permission (`AccessDenied`, 403).
 * - `bad-credentials`: the server rejects the credentials themselves (`InvalidAccessKeyId`,
 *   `SignatureDoesNotMatch`), or none could be found.
 * - `digest-mismatch`: an object's bytes do not match the sha256 (or size) its manifest records.
 * - `corrupt`: a manifest or pointer is not what this library writes (bad JSON, missing fields).
 * - `io`: the medium failed (permissions, full disk, network, server errors after retries…);
 *   `cause` has the original error.
 */
export type StorageErrorCode =
  | 'invalid-uri'
  | 'invalid-key'
  | 'unsupported-scheme'
  | 'not-found'
  | 'bucket-not-found'
  | 'access-denied'
  | 'bad-credentials'
  | 'digest-mismatch'
  | 'corrupt'
  | 'io';

/** Where a failure happened, when known: the store URI, and the S3 bucket and object key. */
export interface StorageErrorDetails {
  uri?: string;
  bucket?: string;
  key?: string;
}

/**
 * A typed storage failure: `code` is stable, `message` names the URI or path (and says what to do
 * where there is something to do), `details` has the bucket and key, `cause` keeps the original.
 */
export class StorageError extends Error {
  readonly code: StorageErrorCode;
  readonly details: StorageErrorDetails;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown; details?: StorageErrorDetails }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.code = code;
    this.details = options?.details ?? {};
  }

  /** True when `err` is a `StorageError`, optionally with one of `codes`. */
  static is(err: unknown, ...codes: StorageErrorCode[]): err is StorageError {
    return err instanceof StorageError && (codes.length === 0 || codes.includes(err.code));
  }
}
