export type { ArtifactStore } from './artifact-store.js';
export { StorageError, type StorageErrorCode } from './errors.js';
export { createFileStore } from './file-store.js';
export { checkKey, joinKey } from './keys.js';
export { createMemoryStore } from './memory-store.js';
export { openStore } from './open-store.js';
export { DEFAULT_STORE_ROOT, formatStoreUri, parseStoreUri, type StoreLocation } from './store-uri.js';
