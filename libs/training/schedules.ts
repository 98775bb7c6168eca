/**
 * Learning-rate schedules and the optional ε warm-up, as pure functions of the position in the run.
 *
 * A position is `{ epoch, batch, batches, epochs }`: `epoch` 0-based, `batch` the 0-based batch of
 * that epoch about to be taken, `batches` per epoch.
 */
import { invalidArgument } from './errors.js';

export const SCHEDULE_KINDS = ['piecewise', 'cosine', 'constant'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/**
 * - `piecewise`: the paper's (lr 0.1 for 100 epochs: 0.02 in epoch 1, ×0.1 from epoch 76, ×0.01 from
 *   epoch 91), scaled to the run's length: with `E` epochs and 0-based epoch `i`, the factor is 0.2
 *   while `i < E/100` (so always the first epoch, for E ≤ 100), 0.01 once `i ≥ 0.9·E`, 0.1 once
 *   `i ≥ 0.75·E`, else 1. For E = 100 this is exactly the paper's; for E = 10: 0.2, 1 ×7, 0.1, 0.01.
 *   Constant within an epoch, as in the reference code.
 * - `cosine`: linear warm-up over `warmupEpochs` (per batch, reaching the base lr at the end of the
 *   warm-up), then half a cosine from the base lr to 0 at the end of the run (per batch).
 * - `constant`: the base lr throughout.
 */
export type LrSchedule =
  | { kind: 'piecewise' }
  | {
      kind: 'cosine';
      /** Epochs of linear warm-up (may be fractional, ≥ 0). @default min(5, floor(epochs / 10)) */
      warmupEpochs?: number;
    }
  | { kind: 'constant' };

export interface RunPosition {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based batch within the epoch (the step about to be taken). */
  batch: number;
  /** Batches per epoch. */
  batches: number;
  /** Epochs in the whole run. */
  epochs: number;
}

/** Fraction of the run done once the current step is taken, in epochs (in (0, epochs]). */
function stepEnd(p: RunPosition): number {
  return p.epoch + (p.batch + 1) / p.batches;
}

/** The piecewise schedule's factor for 0-based epoch `epoch` of `epochs`. */
export function piecewiseFactor(epoch: number, epochs: number): number {
  if (epoch >= 0.9 * epochs) return 0.01;
  if (epoch >= 0.75 * epochs) return 0.1;
  if (epoch < epochs / 100) return 0.2;
  return 1;
}

/** Default cosine warm-up: 5 epochs for runs of ≥ 50 epochs, a tenth of shorter runs (0 below 10). */
export function defaultWarmupEpochs(epochs: number): number {
  return Math.min(5, Math.floor(epochs / 10));
}

/** Validates a schedule (throws `invalid-argument` naming `schedule`). */
export function checkSchedule(schedule: LrSchedule, epochs: number): LrSchedule {
  const kind = (schedule as { kind?: unknown })?.kind;
  if (!(SCHEDULE_KINDS as readonly unknown[]).includes(kind)) {
    throw invalidArgument('schedule', `unknown kind ${JSON.stringify(kind)}; expected one of ${SCHEDULE_KINDS.join(', ')}`);
  }
  if (schedule.kind === 'cosine' && schedule.warmupEpochs !== undefined) {
    const w = schedule.warmupEpochs;
    if (!(Number.isFinite(w) && w >= 0 && w < epochs)) {
      throw invalidArgument('schedule', `warmupEpochs must be in [0, epochs = ${epochs}); got ${w}`);
    }
  }
  return schedule;
}

/** The learning rate for the step at `p`. */
export function learningRate(schedule: LrSchedule, baseLr: number, p: RunPosition): number {
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'piecewise':
      return baseLr * piecewiseFactor(p.epoch, p.epochs);
    case 'cosine': {
      const warm = schedule.warmupEpochs ?? defaultWarmupEpochs(p.epochs);
      const t = stepEnd(p);
      if (t <= warm) return (baseLr * t) / warm;
      // Half a cosine over the rest; the last step gets lr · (1 + cos(π·(E − w − δ)/(E − w)))/2 > 0.
      const progress = (t - warm - 1 / p.batches) / (p.epochs - warm);
      return baseLr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, Math.max(0, progress))));
    }
  }
}

/**
 * ε for the step at `p` with a linear warm-up over `warmupEpochs` epochs (per batch: the ramp reaches
 * ε at the end of the warm-up); `warmupEpochs = 0` (the default, as in the paper) gives ε throughout.
 */
export function epsilonAt(eps: number, warmupEpochs: number, p: RunPosition): number {
  if (warmupEpochs <= 0) return eps;
  return eps * Math.min(1, stepEnd(p) / warmupEpochs);
}
