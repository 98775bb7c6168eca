/**
 * The per-epoch check's data: a held-out slice of the training split. The check picks the best
 * checkpoint (and flags collapse), so it must not see a test image: the test split is only ever
 * evaluated (`harden eval`, the evaluation service). The slice is drawn with a fixed seed from the
 * images read for training and set aside before training, so no image is both trained on and used to
 * choose.
 */
import { createRng, loadDataset, selectDataset, takeDataset, type Dataset, type DatasetSpec } from '../data/index.js';
import { TrainingError } from './errors.js';

/** Seed of the held-out draw: the same data and sizes give the same slice in every run. */
export const HELD_OUT_SEED = 0x5eed;

/** Where the per-epoch check's images come from, as reports and events state it. */
export const HELD_OUT_SOURCE = 'a seeded slice of the training split, set aside before training; the test split is never used to choose';

export interface TrainingSplits {
  /** The images trained on. */
  train: Dataset;
  /** The per-epoch check's images (disjoint from `train`); `undefined` when `evalSize` is 0. */
  heldOut: Dataset | undefined;
}

/**
 * Sets aside `evalSize` images of `data` (a training split) for the per-epoch check and keeps up to
 * `limit` of the rest, in their order, for training.
 */
export function splitHeldOut(data: Dataset, evalSize: number, limit?: number): TrainingSplits {
  if (data.split === 'test') {
    throw new TrainingError('invalid-argument', 'the per-epoch check picks the best checkpoint, so it is held out of the training split, never the test split', {
      field: 'heldOut',
    });
  }
  if (!Number.isInteger(evalSize) || evalSize < 0) throw new TrainingError('invalid-argument', `must be an integer ≥ 0; got ${evalSize}`, { field: 'evalSize' });
  if (evalSize === 0) return { train: limit === undefined ? data : takeDataset(data, limit), heldOut: undefined };
  if (evalSize >= data.size) {
    throw new TrainingError(
      'invalid-argument',
      `${evalSize} held-out images would leave none of the ${data.size} training images to train on (the check is held out of the training split)`,
      { field: 'evalSize' },
    );
  }
  const order = createRng(HELD_OUT_SEED).shuffle(Int32Array.from({ length: data.size }, (_, i) => i));
  const held = order.subarray(0, evalSize);
  const isHeld = new Uint8Array(data.size);
  for (const i of held) isHeld[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < data.size && (limit === undefined || rest.length < limit); i++) if (!isHeld[i]) rest.push(i);
  return { train: selectDataset(data, rest), heldOut: selectDataset(data, held) };
}

/**
 * Reads the training split of `spec`: `limit` images to train on (all when absent) plus `evalSize`
 * held out of the same split for the per-epoch check (fewer to train on when the split is smaller).
 */
export async function loadTrainingSplits(
  spec: string | DatasetSpec,
  options: { limit?: number; evalSize: number; signal?: AbortSignal },
): Promise<TrainingSplits> {
  const { limit, evalSize } = options;
  const read = await loadDataset(spec, {
    split: 'train',
    ...(limit !== undefined ? { limit: limit + evalSize } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return splitHeldOut(read, evalSize, limit);
}
