export type { ArtifactStore, ByteSource, ObjectVersion, PutStreamOptions } from './artifact-store.js';
export { StorageError, type StorageErrorCode, type StorageErrorDetails } from './errors.js';
export { createFileStore } from './file-store.js';
export { checkKey, joinKey } from './keys.js';
export { createMemoryStore } from './memory-store.js';
export { openStore, type OpenStoreOptions } from './open-store.js';
export { createS3Client, DEFAULT_S3_REGION, type S3ClientOptions } from './s3-client.js';
export { createS3Store, MIN_PART_SIZE, type S3StoreOptions } from './s3-store.js';
export {
  deleteManifested,
  MANIFEST_KEY,
  MANIFEST_VERSION,
  readVerified,
  sha256Hex,
  startManifest,
  type Manifest,
  type ManifestCommit,
  type ManifestEntry,
  type ManifestWriter,
  type VerifiedFolder,
} from './manifest.js';
export { openPointer, POINTER_VERSION, readPointer, writePointer, type Pointer } from './pointer.js';
export {
  checkJobId,
  checkpointName,
  jobPaths,
  openLatestCheckpoint,
  pruneCheckpoints,
  reportKey,
  saveCheckpoint,
  type JobPaths,
  type SaveCheckpointOptions,
} from './checkpoints.js';
export { DEFAULT_STORE_ROOT, formatStoreUri, parseStoreUri, type StoreLocation } from './store-uri.js';
