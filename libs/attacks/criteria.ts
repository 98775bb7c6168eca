/**
 * Success criteria (after Foolbox's `criteria.py`): an attack succeeds on a sample when the
 * criterion holds for its adversarial input. Ties count as success for misclassification (the
 * argmax is the first maximal class, as in `tf.argMax`).
 */
import { tf, type Tensor1D } from '../engine/index.js';
import { AttackError } from './errors.js';
import type { Criterion } from './types.js';

function argMax(row: Float32Array): number {
  let best = 0;
  for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
  return best;
}

/** Untargeted: the predicted class (argmax of the logits) differs from the true label. */
export function misclassification(): Criterion {
  return {
    name: 'misclassification',
    isAdversarialRow: (row, label) => argMax(row) !== label,
    adversarialMask: (logits, labels) => tf.tidy(() => tf.notEqual(tf.argMax(logits, 1), labels) as Tensor1D),
  };
}

/** Targeted: the predicted class equals `targets[i]` for sample i (targets in batch order). */
export function targetedMisclassification(targets: Int32Array | readonly number[]): Criterion {
  const t = Int32Array.from(targets);
  for (let i = 0; i < t.length; i++) {
    if (!Number.isInteger(t[i]) || t[i] < 0) {
      throw new AttackError('invalid-argument', `targets[${i}] = ${t[i]} is not a class index`, { field: 'targets' });
    }
  }
  return {
    name: 'targeted-misclassification',
    targets: t,
    isAdversarialRow: (row, _label, target) => argMax(row) === target,
    adversarialMask: (logits, _labels, targets) => tf.tidy(() => tf.equal(tf.argMax(logits, 1), targets!) as Tensor1D),
  };
}

/** Per-sample success for a batch of logits `[n * numClasses]`. */
export function evaluateCriterion(
  criterion: Criterion,
  logits: Float32Array,
  numClasses: number,
  labels: Int32Array,
  targets: Int32Array | undefined,
): Uint8Array {
  const n = labels.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    out[i] = criterion.isAdversarialRow(row, labels[i], targets ? targets[i] : -1) ? 1 : 0;
  }
  return out;
}
