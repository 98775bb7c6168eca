/** What a training run reports while it runs (`TrainOptions.onEvent`). */
import type { EpochRecord } from './checkpoint.js';
import type { Collapse } from './held-out-check.js';

export type TrainingEvent =
  /**
   * Continuing from a checkpoint: `epoch` epochs were already done. `skipped`: newer checkpoints that
   * were damaged or incomplete and passed over (epoch 0 and no `uri`: none was intact; starting over).
   */
  | { type: 'resumed'; epoch: number; uri: string; skipped?: Array<{ key: string; reason: 'damaged' | 'incomplete' }> }
  /** Every `progressEvery` batches (and after an epoch's last batch). */
  | {
      type: 'batch';
      /** 1-based epoch and the count of batches done in it. */
      epoch: number;
      epochs: number;
      batch: number;
      batches: number;
      /** Mean loss over the batches since the last event. */
      loss: number;
      lr: number;
      eps: number;
      /** Training images per second since the last event. */
      imagesPerSecond: number;
      /** Seconds since this run (or resumption) started, and the estimate of what is left. */
      elapsedSeconds: number;
      etaSeconds: number;
    }
  /** After an epoch's held-out evaluation. */
  | { type: 'epoch'; record: EpochRecord; etaSeconds: number }
  /** Training has collapsed (also in `record.collapse`), reported as it is detected. */
  | { type: 'collapse'; epoch: number; collapse: Collapse }
  /** A checkpoint became the latest. */
  | { type: 'checkpoint'; epoch: number; uri: string; best: boolean };
