import type { ArtifactStore } from './artifact-store.js';
import { createFileStore } from './file-store.js';
import { createS3Store, type S3StoreOptions } from './s3-store.js';
import { parseStoreUri } from './store-uri.js';

/** Settings for stores `openStore` creates; only the S3 ones exist so far. */
export interface OpenStoreOptions {
  /** Passed to `createS3Store` for `s3://` URIs (client, part size, parallelism…). */
  s3?: Omit<S3StoreOptions, 'bucket' | 'prefix'>;
}

/**
 * Opens the store a URI names, choosing the implementation by scheme:
 * `file:///abs/dir` or a plain path (resolved to absolute) → files; `s3://bucket/prefix` → S3, with
 * endpoint, region and credentials from the standard AWS environment variables and config unless
 * `options.s3.client` is given. No URI → `./.harden/`. Opening touches nothing on the medium; the
 * first `put` creates the root (S3: the bucket must exist).
 *
 * @param uri the store root. @default './.harden/'
 */
export function openStore(uri?: string, options: OpenStoreOptions = {}): ArtifactStore {
  const location = parseStoreUri(uri);
  switch (location.scheme) {
    case 'file':
      return createFileStore(location.path);
    case 's3':
      return createS3Store({ ...options.s3, bucket: location.bucket, prefix: location.prefix });
  }
}
