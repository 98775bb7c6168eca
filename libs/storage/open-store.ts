import type { ArtifactStore } from './artifact-store.js';
import { StorageError } from './errors.js';
import { createFileStore } from './file-store.js';
import { formatStoreUri, parseStoreUri } from './store-uri.js';

/**
 * Opens the store a URI names, choosing the implementation by scheme:
 * `file:///abs/dir` or a plain path (resolved to absolute) → files; `s3://bucket/prefix` → S3 (not built
 * yet: throws `unsupported-scheme`). No URI → `./.harden/`. Opening touches nothing on the medium;
 * the first `put` creates the root.
 *
 * @param uri the store root. @default './.harden/'
 */
export function openStore(uri?: string): ArtifactStore {
  const location = parseStoreUri(uri);
  switch (location.scheme) {
    case 'file':
      return createFileStore(location.path);
    case 's3':
      throw new StorageError(
        'unsupported-scheme',
        `S3 support is not built yet (store ${formatStoreUri(location)}); use a file:// URI or a path for now`,
      );
  }
}
