/**
 * The per-epoch check on held-out data: clean accuracy, PGD robust accuracy (L∞, uniform random
 * start, `libs/attacks` PGD on the cross-entropy), the prediction histogram, and collapse detection.
 */
import { tf, type tfl } from '../engine/index.js';
import { createPgd, fromLayersModel, logitsValues } from '../attacks/index.js';
import { classCounts, iterateBatches, type Dataset } from '../data/index.js';

export interface HeldOutOptions {
  /** L∞ radius of the PGD check (the training ε). */
  eps: number;
  /** PGD steps. @default 20 (the protocol's PGD-20) */
  steps?: number;
  /** PGD step size. @default eps / 4 */
  alpha?: number;
  /** Samples per forward/backward pass. @default 256 */
  batchSize?: number;
  /** Seed of PGD's random start. @default 0 */
  seed?: number;
  signal?: AbortSignal;
}

export interface HeldOutMetrics {
  /** Samples evaluated. */
  n: number;
  cleanAccuracy: number;
  /** Accuracy under PGD (a clean mistake counts as a robust mistake). */
  robustAccuracy: number;
  /** The most often predicted class on clean inputs and the fraction of predictions it takes. */
  dominantClass: number;
  dominantFraction: number;
  /** Distinct classes predicted on clean inputs. */
  predictedClasses: number;
  /** Accuracy of always answering the held-out set's most frequent class (1/C when balanced). */
  majorityFraction: number;
}

/** Clean and PGD accuracy of `model` on `data` (inference mode; the model is not changed). */
export async function evaluateHeldOut(model: tfl.LayersModel, data: Dataset, options: HeldOutOptions): Promise<HeldOutMetrics> {
  const wrapped = fromLayersModel(model);
  const steps = options.steps ?? 20;
  // As the evaluation's PGD-20: a sample counts as broken when any iterate fooled the model.
  const pgd = createPgd({ steps, alpha: options.alpha ?? options.eps / 4, randomStart: true, loss: 'ce', earlyStop: true });
  const batchSize = options.batchSize ?? 256;
  const counts = new Int32Array(data.numClasses);
  let correct = 0;
  let robust = 0;
  let offset = 0;
  for (const batch of iterateBatches(data, { batchSize, shuffle: false, ...(options.signal ? { signal: options.signal } : {}) })) {
    const x = tf.tensor4d(batch.x, batch.shape, 'float32');
    try {
      const logits = await logitsValues(wrapped, x);
      const c = data.numClasses;
      for (let i = 0; i < batch.y.length; i++) {
        let best = 0;
        for (let k = 1; k < c; k++) if (logits[i * c + k] > logits[i * c + best]) best = k;
        counts[best]++;
        if (best === batch.y[i]) correct++;
      }
      const result = await pgd.run(wrapped, x, batch.y, {
        eps: options.eps,
        seed: options.seed ?? 0,
        indexOffset: offset,
        batchSize,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      for (const r of result.results) {
        r.raw.dispose();
        r.clipped.dispose();
      }
      for (const s of result.results[0].success) if (!s) robust++;
    } finally {
      x.dispose();
    }
    offset += batch.y.length;
  }
  const n = offset;
  let dominantClass = 0;
  for (let k = 1; k < counts.length; k++) if (counts[k] > counts[dominantClass]) dominantClass = k;
  const labelCounts = classCounts(data);
  return {
    n,
    cleanAccuracy: n === 0 ? 0 : correct / n,
    robustAccuracy: n === 0 ? 0 : robust / n,
    dominantClass,
    dominantFraction: n === 0 ? 0 : counts[dominantClass] / n,
    predictedClasses: counts.filter((k) => k > 0).length,
    majorityFraction: n === 0 ? 0 : Math.max(...labelCounts) / n,
  };
}

/** Why a run is considered collapsed. */
export type CollapseReason = 'non-finite-loss' | 'single-class' | 'chance';

export interface Collapse {
  reason: CollapseReason;
  /** One readable sentence with the numbers. */
  message: string;
}

/**
 * Collapse after an epoch: the training loss is not finite (diverged), every held-out prediction is
 * the same class, or clean accuracy is at chance — at most two standard errors above the accuracy of
 * always answering the most frequent class (`m + 2·√(m(1−m)/n)`; 0.127 for 10 balanced classes and
 * n = 500). `undefined` when none applies; without held-out metrics only the loss is checked.
 */
export function detectCollapse(metrics: HeldOutMetrics | undefined, trainLoss: number): Collapse | undefined {
  if (!Number.isFinite(trainLoss)) {
    return { reason: 'non-finite-loss', message: `the training loss is ${trainLoss}: training diverged` };
  }
  if (!metrics || metrics.n === 0) return undefined;
  if (metrics.predictedClasses === 1) {
    return {
      reason: 'single-class',
      message: `every one of ${metrics.n} held-out predictions is class ${metrics.dominantClass} (clean accuracy ${metrics.cleanAccuracy.toFixed(3)})`,
    };
  }
  const m = metrics.majorityFraction;
  const threshold = m + 2 * Math.sqrt((m * (1 - m)) / metrics.n);
  if (metrics.cleanAccuracy <= threshold) {
    return {
      reason: 'chance',
      message: `clean accuracy ${metrics.cleanAccuracy.toFixed(3)} is at chance (≤ ${threshold.toFixed(3)} for ${metrics.n} samples; ${(100 * metrics.dominantFraction).toFixed(1)}% of predictions are class ${metrics.dominantClass})`,
    };
  }
  return undefined;
}
