/**
 * libs/data — dataset readers, seeded randomness, augmentation and batching.
 *
 * Entry points: `loadDataset(spec, { split, limit })` for the spec strings the CLI takes,
 * `iterateBatches` / `iterateTensorBatches` / `forEachBatch` for epochs, `createRng` for
 * checkpointable randomness.
 */
export { DataError, type DataErrorCode } from './errors.js';
export { createRng, deriveSeed, type Rng, type RngState, type ShuffleTarget } from './rng.js';
export {
  classCounts,
  createDataset,
  imageAt,
  imageSize,
  selectDataset,
  stratifiedSplitIndices,
  takeDataset,
  toSharedDataset,
  type Dataset,
  type DatasetInit,
  type ImageShape,
  type ReadOptions,
  type Split,
  type StratifiedSplit,
} from './dataset.js';
