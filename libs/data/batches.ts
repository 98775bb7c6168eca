/**
 * Epoch batching: a seeded shuffle, fixed-size batches, optional crop/flip augmentation.
 *
 * Everything random is a pure function of `(seed, epoch, batchIndex)`: the epoch's order comes
 * from `deriveSeed(seed, epoch, SHUFFLE)`, batch b's augmentation from
 * `deriveSeed(seed, epoch, b, AUGMENT)`. A run resumed from a checkpoint at (epoch, batch) passes
 * the same seed, that epoch and `startBatch` and gets exactly the batches it would have had.
 */
import { tf, type Tensor1D, type Tensor4D } from '../engine/index.js';
import { DataError } from './errors.js';
import { imageSize, type Dataset } from './dataset.js';
import { createRng, deriveSeed } from './rng.js';
import { compileAugmentOptions, cropFlipInto, drawCropFlip, type AugmentOptions, type CompiledAugment } from './augment.js';

const SHUFFLE_STREAM = 0x5348;
const AUGMENT_STREAM = 0x4147;

export interface BatchOptions {
  /** Examples per batch (the last one may be smaller unless `dropLast`). */
  batchSize: number;
  /** Visit examples in a seeded random order; otherwise in dataset order. @default true */
  shuffle?: boolean;
  /** Base seed of the order and the augmentation. @default 0 */
  seed?: number;
  /** Epoch number: each epoch gets its own order and augmentation. @default 0 */
  epoch?: number;
  /** Skip the last batch when it is smaller than `batchSize`. @default false */
  dropLast?: boolean;
  /** First batch to yield (resuming mid-epoch); earlier ones are skipped without work. @default 0 */
  startBatch?: number;
  /** Random crop (zero pad) + horizontal flip; `true` means the defaults (pad 4, flip). @default false */
  augment?: AugmentOptions | boolean;
  /** Checked before each batch; the iteration throws its reason once aborted. */
  signal?: AbortSignal;
}

/** A batch as plain arrays: every array owns its own ArrayBuffer, so it can be transferred to a worker. */
export interface ArrayBatch {
  /** NHWC pixels, `size * h * w * c` values. */
  x: Float32Array;
  /** Labels, `size` values. */
  y: Int32Array;
  /** Dataset index of each example of the batch. */
  indices: Int32Array;
  /** `[size, h, w, c]`. */
  shape: [number, number, number, number];
  /** Position of this batch in the epoch (0-based). */
  batchIndex: number;
}

/** A batch as tensors. The consumer owns `x` and `y` and must dispose them. */
export interface TensorBatch {
  /** `[size, h, w, c]` float32. */
  x: Tensor4D;
  /** `[size]` int32 labels. */
  y: Tensor1D;
  indices: Int32Array;
  batchIndex: number;
}

interface CompiledBatchOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  epoch: number;
  dropLast: boolean;
  startBatch: number;
  augment: CompiledAugment | undefined;
  signal: AbortSignal | undefined;
}

function compile(size: number, options: BatchOptions): CompiledBatchOptions {
  const { batchSize, shuffle = true, seed = 0, epoch = 0, dropLast = false, startBatch = 0, augment = false, signal } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DataError('invalid-argument', `batchSize must be a positive integer; got ${batchSize}`);
  }
  for (const [name, v] of [['seed', seed], ['epoch', epoch]] as const) {
    if (!Number.isSafeInteger(v)) throw new DataError('invalid-argument', `${name} must be a safe integer; got ${v}`);
  }
  const total = countBatches(size, batchSize, dropLast);
  if (!Number.isInteger(startBatch) || startBatch < 0 || startBatch > total) {
    throw new DataError('invalid-argument', `startBatch must be an integer in [0, ${total}]; got ${startBatch}`);
  }
  return {
    batchSize,
    shuffle,
    seed,
    epoch,
    dropLast,
    startBatch,
    augment: augment === false ? undefined : compileAugmentOptions(augment === true ? {} : augment),
    signal,
  };
}

/** Batches in an epoch of `size` examples. */
export function countBatches(size: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/** The order in which an epoch visits the examples: a seeded permutation, or 0..size-1 without shuffle. */
export function epochOrder(size: number, options: Pick<BatchOptions, 'shuffle' | 'seed' | 'epoch'> = {}): Int32Array {
  const { shuffle = true, seed = 0, epoch = 0 } = options;
  if (!shuffle) return Int32Array.from({ length: size }, (_, i) => i);
  return createRng(deriveSeed(seed, epoch, SHUFFLE_STREAM)).permutation(size);
}

/**
 * Copies the examples at `indices` into a new batch (no augmentation).
 * @returns `{ x, y }` owning their buffers
 */
export function gatherBatch(dataset: Dataset, indices: ArrayLike<number>): { x: Float32Array; y: Int32Array } {
  const per = imageSize(dataset.shape);
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= dataset.size) {
      throw new DataError('invalid-argument', `index ${i} is outside [0, ${dataset.size})`);
    }
    x.set(dataset.images.subarray(i * per, (i + 1) * per), k * per);
    y[k] = dataset.labels[i];
  }
  return { x, y };
}

/** Yields an epoch's batches as plain arrays (see {@link ArrayBatch}). */
export function* iterateBatches(dataset: Dataset, options: BatchOptions): Generator<ArrayBatch, void, undefined> {
  const o = compile(dataset.size, options);
  const order = epochOrder(dataset.size, o);
  const total = countBatches(dataset.size, o.batchSize, o.dropLast);
  const [h, w, c] = dataset.shape;
  const per = h * w * c;
  for (let b = o.startBatch; b < total; b++) {
    o.signal?.throwIfAborted();
    const indices = order.slice(b * o.batchSize, Math.min((b + 1) * o.batchSize, dataset.size));
    let x: Float32Array;
    let y: Int32Array;
    if (o.augment === undefined) {
      ({ x, y } = gatherBatch(dataset, indices));
    } else {
      const rng = createRng(deriveSeed(o.seed, o.epoch, b, AUGMENT_STREAM));
      x = new Float32Array(indices.length * per);
      y = new Int32Array(indices.length);
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        cropFlipInto(dataset.images.subarray(i * per, (i + 1) * per), x.subarray(k * per, (k + 1) * per), dataset.shape, drawCropFlip(rng, o.augment));
        y[k] = dataset.labels[i];
      }
    }
    yield { x, y, indices, shape: [indices.length, h, w, c], batchIndex: b };
  }
}

/**
 * Yields an epoch's batches as tensors. Each yielded `x` and `y` belongs to the consumer, who
 * must dispose them (or use {@link forEachBatch}, which does). Tensors are created only when a
 * batch is pulled, so breaking out of the loop leaks nothing.
 */
export function* iterateTensorBatches(dataset: Dataset, options: BatchOptions): Generator<TensorBatch, void, undefined> {
  for (const batch of iterateBatches(dataset, options)) {
    const x = tf.tensor4d(batch.x, batch.shape, 'float32');
    const y = tf.tensor1d(batch.y, 'int32');
    yield { x, y, indices: batch.indices, batchIndex: batch.batchIndex };
  }
}

/**
 * Runs `fn` on each tensor batch of an epoch and disposes the batch's `x` and `y` after `fn`
 * settles (also when it throws). Tensors `fn` creates itself remain its own to dispose.
 * @returns the number of batches processed
 */
export async function forEachBatch(
  dataset: Dataset,
  options: BatchOptions,
  fn: (batch: TensorBatch) => void | Promise<void>,
): Promise<number> {
  let n = 0;
  for (const batch of iterateTensorBatches(dataset, options)) {
    try {
      await fn(batch);
    } finally {
      batch.x.dispose();
      batch.y.dispose();
    }
    n++;
  }
  return n;
}
