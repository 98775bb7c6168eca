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
export {
  DATASET_KINDS,
  formatDatasetSpec,
  loadDataset,
  parseDatasetSpec,
  type DatasetKind,
  type DatasetSpec,
} from './dataset-spec.js';
export {
  MNIST_SHAPE,
  MNIST_SPLIT_SEED,
  MNIST_TEST_FRACTION,
  mnistDigitsDir,
  readMnist,
  type MnistOptions,
} from './mnist.js';
export {
  DEFAULT_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  parseIdx,
  readFashionMnist,
  readIdxDataset,
  type IdxArray,
  type IdxDatasetOptions,
} from './idx.js';
export { CIFAR10_CLASSES, CIFAR100_CLASSES, CIFAR_SHAPE, readCifar10, readCifar100 } from './cifar.js';
export { IMAGE_FOLDER_ORDER_SEED, readImageFolder, type ImageFolderOptions } from './image-folder.js';
export { TINY_IMAGENET_ORDER_SEED, TINY_IMAGENET_SHAPE, readTinyImagenet } from './tiny-imagenet.js';
export { augmentBatch, cropFlipInto, drawCropFlip, type AugmentOptions, type CropFlip } from './augment.js';
export {
  countBatches,
  epochOrder,
  forEachBatch,
  gatherBatch,
  iterateBatches,
  iterateTensorBatches,
  type ArrayBatch,
  type BatchOptions,
  type TensorBatch,
} from './batches.js';
