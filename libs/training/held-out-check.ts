/**
 * The per-epoch check on held-out data: clean accuracy, PGD robust accuracy (L∞, uniform random
 * start, `libs/attacks` PGD on the cross-entropy), the prediction histogram, how much the outputs
 * vary between samples (and, when they do not, which ReLU layers never fire), and collapse detection.
 */
import { tf, tfl } from '../engine/index.js';
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
  /** Largest spread of any one logit over the samples (max − min): 0 when the outputs ignore the input. */
  outputSpread: number;
  /** Largest |logit| seen, the scale `outputSpread` is judged against. */
  outputScale: number;
  /**
   * ReLU layers (by name) where no unit fires on any sample of the first held-out batch: measured only
   * when the outputs do not vary (`outputSpread` ≈ 0), to say why. Empty otherwise.
   */
  deadLayers: string[];
}

/** Whether outputs varying by at most `spread` at magnitude `scale` count as not depending on the input. */
function isConstantOutput(spread: number, scale: number): boolean {
  return spread <= 1e-5 * Math.max(1, scale);
}

/**
 * Names of the ReLU layers of `model` (layers of class ReLU, or with a `relu` activation) in which no
 * unit is positive for any sample of `x`: dead layers, through which no gradient flows. Reads back
 * asynchronously (webgpu in Node has no synchronous read).
 */
export async function deadReluLayers(model: tfl.LayersModel, x: tf.Tensor4D): Promise<string[]> {
  const relus = model.layers.filter((l) => {
    const config = l.getConfig() as { activation?: unknown };
    return l.getClassName() === 'ReLU' || config.activation === 'relu';
  });
  if (relus.length === 0) return [];
  const probe = tfl.model({ inputs: model.inputs, outputs: relus.map((l) => l.output as tfl.SymbolicTensor) });
  const peaks = tf.tidy(() => {
    const outs = probe.predict(x);
    return (Array.isArray(outs) ? outs : [outs]).map((t) => tf.max(t));
  });
  try {
    const values = await Promise.all(peaks.map((t) => t.data()));
    return relus.filter((_, i) => values[i][0] <= 0).map((l) => l.name);
  } finally {
    tf.dispose(peaks);
  }
}

/** Clean and PGD accuracy of `model` on `data` (inference mode; the model is not changed). */
export async function evaluateHeldOut(model: tfl.LayersModel, data: Dataset, options: HeldOutOptions): Promise<HeldOutMetrics> {
  const wrapped = fromLayersModel(model);
  const steps = options.steps ?? 20;
  // As the evaluation's PGD-20: a sample counts as broken when any iterate fooled the model.
  const pgd = createPgd({ steps, alpha: options.alpha ?? options.eps / 4, randomStart: true, loss: 'ce', earlyStop: true });
  const batchSize = options.batchSize ?? 256;
  const counts = new Int32Array(data.numClasses);
  const lowest = new Float32Array(data.numClasses).fill(Infinity);
  const highest = new Float32Array(data.numClasses).fill(-Infinity);
  let firstBatch: { x: Float32Array; shape: [number, number, number, number] } | undefined;
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
        for (let k = 0; k < c; k++) {
          const z = logits[i * c + k];
          if (z < lowest[k]) lowest[k] = z;
          if (z > highest[k]) highest[k] = z;
        }
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
      firstBatch ??= { x: batch.x.slice(), shape: batch.shape as [number, number, number, number] };
    } finally {
      x.dispose();
    }
    offset += batch.y.length;
  }
  const n = offset;
  let outputSpread = 0;
  let outputScale = 0;
  for (let k = 0; k < data.numClasses && n > 0; k++) {
    outputSpread = Math.max(outputSpread, highest[k] - lowest[k]);
    outputScale = Math.max(outputScale, Math.abs(highest[k]), Math.abs(lowest[k]));
  }
  let deadLayers: string[] = [];
  if (firstBatch && n > 1 && isConstantOutput(outputSpread, outputScale)) {
    const x = tf.tensor4d(firstBatch.x, firstBatch.shape, 'float32');
    try {
      deadLayers = await deadReluLayers(model, x);
    } finally {
      x.dispose();
    }
  }
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
    outputSpread,
    outputScale,
    deadLayers,
  };
}

/** Why a run is considered collapsed. */
export type CollapseReason = 'non-finite-loss' | 'dead-relu' | 'single-class' | 'chance';

export interface Collapse {
  reason: CollapseReason;
  /** One readable sentence with the numbers. */
  message: string;
}

/**
 * Collapse after an epoch: the training loss is not finite (diverged); the outputs are the same for
 * every held-out sample because whole ReLU layers never fire (`dead-relu`, naming them: no gradient
 * passes them, so it does not recover); every held-out prediction is the same class; or clean
 * accuracy is at chance — at most two standard errors above the accuracy of always answering the
 * most frequent class (`m + 2·√(m(1−m)/n)`; 0.127 for 10 balanced classes and n = 500). `undefined`
 * when none applies; without held-out metrics only the loss is checked.
 */
export function detectCollapse(metrics: HeldOutMetrics | undefined, trainLoss: number): Collapse | undefined {
  if (!Number.isFinite(trainLoss)) {
    return { reason: 'non-finite-loss', message: `the training loss is ${trainLoss}: training diverged` };
  }
  if (!metrics || metrics.n === 0) return undefined;
  const dead = metrics.deadLayers;
  // Dead layers are only looked for when no logit varies (evaluateHeldOut).
  if (dead.length > 0) {
    const spread = metrics.outputSpread === 0 ? 'identical logits' : `no logit varies by more than ${metrics.outputSpread.toExponential(1)}`;
    const them = dead.length === 1 ? 'it' : 'them';
    return {
      reason: 'dead-relu',
      message:
        `the outputs are the same for all ${metrics.n} held-out samples (${spread}): every prediction is class ${metrics.dominantClass}; ` +
        `no unit of ${dead.length === 1 ? 'layer' : 'layers'} ${dead.join(', ')} fires on any input (dead ReLUs), so the weights up to ${them} ` +
        `get no gradient, only weight decay, and more epochs are unlikely to revive ${them}: restart with a lower learning rate`,
    };
  }
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
