/**
 * The trainer loop shared by every method: epochs of seeded (optionally augmented) batches, one
 * `TrainingStep` per batch with the scheduled learning rate and ε, a held-out check after each
 * epoch (clean and PGD accuracy, collapse detection), then a checkpoint.
 *
 * Determinism: the batch order and augmentation are functions of (seed, epoch, batch) (libs/data);
 * the random starts of the inner maximisation use a per-epoch seed drawn from the trainer's RNG,
 * whose state is checkpointed, and dropout masks come from a stream of (epoch seed, batch) too
 * (libs/models `withDropoutSeed`). So a rerun with the same seed, or a run resumed from a
 * checkpoint, repeats the uninterrupted run's arithmetic on the same backend.
 */
import { tf, type Tensor } from '../engine/index.js';
import { AttackError } from '../attacks/index.js';
import { countBatches, createRng, deriveSeed, iterateBatches, takeDataset } from '../data/index.js';
import { withDropoutSeed } from '../models/index.js';
import {
  checkpointKey,
  openCheckpoint,
  publishCheckpoint,
  readPointer,
  writeCheckpoint,
  type EpochRecord,
  type TrainingState,
  CHECKPOINT_VERSION,
} from './checkpoint.js';
import { describeConfig, resolveTrainConfig, type TrainConfig, type TrainOptions } from './config.js';
import { isWasmOutOfMemory, TrainingError } from './errors.js';
import { detectCollapse, evaluateHeldOut, type Collapse } from './held-out-check.js';
import type { TrainingEvent } from './events.js';
import type { MethodModels, MethodName } from './method.js';
import { epsilonAt, learningRate } from './schedules.js';
import { createSgd, type Sgd } from './sgd.js';
import { collectParameters, createTrainingStep, readLosses } from './step.js';

/** Seed stream of the dropout masks (beside the inner maximisation's `deriveSeed(epochSeed, batch)`). */
const DROPOUT_STREAM = 0xd0;

export interface TrainingResult {
  method: MethodName;
  /** Epochs configured, and epochs completed (including those before a resumption). */
  epochs: number;
  completedEpochs: number;
  history: EpochRecord[];
  /** Held-out accuracy of the final model (the last epoch's check; NaN when evaluation is off). */
  cleanAccuracy: number;
  robustAccuracy: number;
  /** Best non-collapsed epoch by held-out robust accuracy. */
  best: { epoch: number; robustAccuracy: number } | null;
  /** Whether the final model is collapsed; `collapse` says how. */
  collapsed: boolean;
  collapse?: Collapse;
  /** Readable warnings (collapses, with their epochs, and an early stop). */
  warnings: string[];
  /** Set when training ended before `epochs`: the target died (`dead-relu`) after this epoch. */
  stopped?: { epoch: number; reason: 'dead-relu' };
  /** Wall-clock seconds of this call. */
  seconds: number;
  /** Completed epochs found in the checkpoint this call resumed from. */
  resumedFrom?: number;
  /** URIs of the latest and best checkpoint folders, when checkpoints were written. */
  checkpoints?: { latest: string; best: string | null };
}

function aborted(signal: AbortSignal | undefined): TrainingError {
  return new TrainingError('aborted', 'training aborted; the last completed epoch is checkpointed', { cause: signal?.reason });
}

/** Turns an attack's abort into the trainer's. */
async function guard<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (AttackError.is(error, 'aborted') || (signal?.aborted && error === signal.reason)) throw aborted(signal);
    throw error;
  }
}

interface RunState {
  history: EpochRecord[];
  best: TrainingState['best'];
  startEpoch: number;
  resumedFrom: number | undefined;
}

async function restore(c: TrainConfig, models: MethodModels, optimizer: Sgd, rng: ReturnType<typeof createRng>): Promise<RunState> {
  const fresh: RunState = { history: [], best: null, startEpoch: 0, resumedFrom: undefined };
  if (!c.checkpoints) return fresh;
  const pointer = await readPointer(c.checkpoints, 'latest');
  if (!pointer) return fresh;
  if (!c.resume) {
    // Mixing a new run's epochs with an old run's folders and pointers would corrupt both.
    throw new TrainingError(
      'invalid-argument',
      `checkpoints: ${c.checkpoints.uri} already holds a run (${pointer.epoch} epochs done); resume it or write elsewhere`,
      { field: 'checkpoints' },
    );
  }
  // The latest checkpoint first, then the other folders still kept (the best epoch), newest first.
  const others = new Set<string>();
  for (const k of await c.checkpoints.list('epoch-')) {
    const folder = k.slice(0, k.indexOf('/'));
    if (/^epoch-\d{4,}$/.test(folder) && folder !== pointer.key && k === `${folder}/manifest.json`) others.add(folder);
  }
  const candidates = [pointer.key, ...[...others].filter((k) => k < pointer.key).sort().reverse()];
  const skipped: Array<{ key: string; reason: 'damaged' | 'incomplete' }> = [];
  let touched = false;
  for (const key of candidates) {
    let ckpt;
    try {
      ckpt = await openCheckpoint(c.checkpoints, key);
      if (ckpt.state.method !== c.method.name) {
        throw new TrainingError('invalid-argument', `resume: ${ckpt.uri} is a ${ckpt.state.method} run, not ${c.method.name}`, { field: 'resume' });
      }
      touched = true;
      await ckpt.restoreModels(models);
      optimizer.importState(ckpt.optimizerState());
    } catch (error) {
      // Only a damaged or incomplete checkpoint is skipped; a store failure or a wrong run is not.
      if (!TrainingError.is(error, 'corrupt', 'not-found')) throw error;
      skipped.push({ key, reason: error.code === 'corrupt' ? 'damaged' : 'incomplete' });
      continue;
    }
    rng.setState(ckpt.state.rng);
    c.onEvent?.({ type: 'resumed', epoch: ckpt.state.epoch, uri: ckpt.uri, ...(skipped.length ? { skipped } : {}) });
    return { history: ckpt.state.history, best: ckpt.state.best, startEpoch: ckpt.state.epoch, resumedFrom: ckpt.state.epoch };
  }
  // No intact checkpoint. Weights half-restored from a damaged one cannot be trusted: fail then.
  if (touched) throw new TrainingError('corrupt', `every checkpoint in ${c.checkpoints.uri} is damaged (${skipped.map((s) => s.key).join(', ')})`);
  // Nothing was loaded: start over, saying why; the next checkpoint replaces the damaged ones.
  c.onEvent?.({ type: 'resumed', epoch: 0, uri: '', skipped });
  return fresh;
}

/**
 * Trains `options.target` (and co-trains `options.guidance` for lbgat / d2r) in place. Validates
 * every option first (`TrainingError` `invalid-argument`, nothing done); honours `signal` between
 * batches (`aborted`); reports progress through `onEvent`.
 */
export async function train(options: TrainOptions): Promise<TrainingResult> {
  const c = resolveTrainConfig(options);
  const started = performance.now();
  const models: MethodModels = { target: c.target, guidance: c.guidance };
  const { variables, names } = collectParameters(models);
  const optimizer = createSgd(variables, { momentum: c.momentum, weightDecay: c.weightDecay }, names);
  const emit = (e: TrainingEvent) => c.onEvent?.(e);
  try {
    const rng = createRng(c.seed);
    const run = await restore(c, models, optimizer, rng);
    const { history } = run;
    let best = run.best;
    const step = createTrainingStep({ method: c.method, models, optimizer, weights: c.weights, numClasses: c.numClasses, gradients: c.gradients });
    const heldOut = c.heldOut && c.evalSize > 0 ? takeDataset(c.heldOut, c.evalSize) : undefined;
    const batches = countBatches(c.train.size, c.batchSize);
    const config = describeConfig(c);
    let trainSecondsTotal = 0;
    let batchesDone = 0;
    let lastEvalSeconds = 0;
    /** Seconds left: this epoch's remaining batches (and its check, unless done), then the later epochs. */
    const etaSeconds = (epoch: number, batchInEpoch: number, checked: boolean) => {
      const perBatch = batchesDone > 0 ? trainSecondsTotal / batchesDone : 0;
      const later = c.epochs - epoch - 1;
      return perBatch * (later * batches + batches - batchInEpoch) + lastEvalSeconds * (later + (checked ? 0 : 1));
    };

    let stopped: TrainingResult['stopped'];
    for (let epoch = run.startEpoch; epoch < c.epochs; epoch++) {
      const epochSeed = rng.nextUint32();
      let lossSum = 0;
      let windowLoss = 0;
      let windowBatches = 0;
      let windowImages = 0;
      let windowStart = performance.now();
      let epochImages = 0;
      let lr = c.lr;
      let eps = c.eps;
      // The window's losses stay on the device until the progress event reads them, all at once:
      // one read-back per `progressEvery` batches, none inside a step.
      const pending: Tensor[] = [];
      const epochStart = performance.now();
      try {
        for (const batch of iterateBatches(c.train, { batchSize: c.batchSize, shuffle: true, seed: c.seed, epoch, augment: c.augment })) {
          if (c.signal?.aborted) throw aborted(c.signal);
          const b = batch.batchIndex;
          const position = { epoch, batch: b, batches, epochs: c.epochs };
          lr = learningRate(c.schedule, c.lr, position);
          eps = epsilonAt(c.eps, c.epsWarmupEpochs, position);
          const x = tf.tensor4d(batch.x, batch.shape, 'float32');
          const y = tf.tensor1d(batch.y, 'int32');
          const stepStart = performance.now();
          try {
            // Dropout masks from their own stream of (epoch seed, batch): reruns and resumed runs draw the same ones.
            const { loss } = await withDropoutSeed(deriveSeed(epochSeed, b, DROPOUT_STREAM), () =>
              guard(c.signal, () =>
                step(x, y, batch.y, {
                  lr,
                  eps,
                  alpha: (c.alpha * eps) / c.eps,
                  steps: c.steps,
                  seed: deriveSeed(epochSeed, b),
                  ...(c.signal ? { signal: c.signal } : {}),
                }),
              ),
            );
            pending.push(loss);
          } catch (error) {
            if (tf.getBackend() === 'wasm' && isWasmOutOfMemory(error)) {
              throw new TrainingError(
                'out-of-memory',
                `a ${c.method.name} step at batch ${c.batchSize} ran out of the wasm engine's 4 GiB of memory` +
                  (c.gradients === 'tape' ? '; train with --low-memory (one forward pass at a time, same updates) or a smaller --batch' : '; train with a smaller --batch'),
                { cause: error, field: 'batch_size' },
              );
            }
            throw error;
          } finally {
            x.dispose();
            y.dispose();
          }
          trainSecondsTotal += (performance.now() - stepStart) / 1000;
          batchesDone++;
          windowBatches++;
          windowImages += batch.y.length;
          epochImages += batch.y.length;
          if (windowBatches >= c.progressEvery || b === batches - 1) {
            // The read waits for the window's queued steps on a GPU: count it as training time.
            const readStart = performance.now();
            for (const loss of await readLosses(pending.splice(0))) {
              lossSum += loss;
              windowLoss += loss;
            }
            const now = performance.now();
            trainSecondsTotal += (now - readStart) / 1000;
            emit({
              type: 'batch',
              epoch: epoch + 1,
              epochs: c.epochs,
              batch: b + 1,
              batches,
              loss: windowLoss / windowBatches,
              lr,
              eps,
              imagesPerSecond: windowImages / Math.max(1e-9, (now - windowStart) / 1000),
              elapsedSeconds: (now - started) / 1000,
              etaSeconds: etaSeconds(epoch, b + 1, false),
            });
            windowLoss = 0;
            windowBatches = 0;
            windowImages = 0;
            windowStart = now;
          }
          // Let timers and I/O (progress output, abort signals) run between batches.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        tf.dispose(pending.splice(0));
      }
      const trainSeconds = (performance.now() - epochStart) / 1000;
      const meanLoss = lossSum / batches;

      const evalStart = performance.now();
      const metrics = heldOut
        ? await guard(c.signal, () =>
            evaluateHeldOut(c.target, heldOut, {
              eps: c.eps,
              steps: c.evalSteps,
              alpha: c.evalAlpha,
              batchSize: c.evalBatchSize,
              seed: c.seed,
              ...(c.signal ? { signal: c.signal } : {}),
            }),
          )
        : undefined;
      lastEvalSeconds = (performance.now() - evalStart) / 1000;
      const collapse = detectCollapse(metrics, meanLoss);
      const record: EpochRecord = {
        epoch: epoch + 1,
        lr,
        eps,
        loss: meanLoss,
        trainSeconds,
        evalSeconds: lastEvalSeconds,
        imagesPerSecond: epochImages / Math.max(1e-9, trainSeconds),
        evalSize: metrics?.n ?? 0,
        cleanAccuracy: metrics?.cleanAccuracy ?? NaN,
        robustAccuracy: metrics?.robustAccuracy ?? NaN,
        dominantClass: metrics?.dominantClass ?? -1,
        dominantFraction: metrics?.dominantFraction ?? NaN,
        ...(collapse ? { collapse } : {}),
      };
      history.push(record);
      const isBest = metrics !== undefined && !collapse && (best === null || metrics.robustAccuracy > best.robustAccuracy);
      if (isBest) best = { epoch: epoch + 1, robustAccuracy: metrics.robustAccuracy };
      emit({ type: 'epoch', record, etaSeconds: etaSeconds(epoch, batches, true) });
      if (collapse) emit({ type: 'collapse', epoch: epoch + 1, collapse });

      if (c.checkpoints) {
        const state: TrainingState = {
          version: CHECKPOINT_VERSION,
          method: c.method.name,
          epoch: epoch + 1,
          rng: rng.getState(),
          history,
          best,
          config,
        };
        const key = await writeCheckpoint(c.checkpoints, { models, optimizer, state });
        await publishCheckpoint(c.checkpoints, { key, epoch: epoch + 1, robustAccuracy: record.robustAccuracy }, isBest);
        emit({ type: 'checkpoint', epoch: epoch + 1, uri: `${c.checkpoints.uri}/${key}`, best: isBest });
      }
      // Whole ReLU layers dead: no gradient reaches the weights below them, so the outputs cannot
      // depend on the input again and the remaining epochs would be spent for nothing.
      if (collapse?.reason === 'dead-relu' && epoch + 1 < c.epochs) {
        stopped = { epoch: epoch + 1, reason: 'dead-relu' };
        break;
      }
    }

    const last = history.at(-1);
    const warnings = history
      .filter((r) => r.collapse)
      .map((r) => `epoch ${r.epoch}: training collapsed (${r.collapse?.reason}): ${r.collapse?.message}`);
    if (stopped) warnings.push(`stopped after epoch ${stopped.epoch} of ${c.epochs}: the target's ReLUs are dead, so further epochs cannot change its outputs`);
    const result: TrainingResult = {
      method: c.method.name,
      epochs: c.epochs,
      completedEpochs: last?.epoch ?? 0,
      history,
      cleanAccuracy: last?.cleanAccuracy ?? NaN,
      robustAccuracy: last?.robustAccuracy ?? NaN,
      best,
      collapsed: last?.collapse !== undefined,
      ...(last?.collapse ? { collapse: last.collapse } : {}),
      warnings,
      ...(stopped ? { stopped } : {}),
      seconds: (performance.now() - started) / 1000,
      ...(run.resumedFrom !== undefined ? { resumedFrom: run.resumedFrom } : {}),
    };
    if (c.checkpoints && last) {
      result.checkpoints = {
        latest: `${c.checkpoints.uri}/${checkpointKey(last.epoch)}`,
        best: best ? `${c.checkpoints.uri}/${checkpointKey(best.epoch)}` : null,
      };
    }
    return result;
  } finally {
    optimizer.dispose();
  }
}
