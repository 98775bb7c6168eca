/**
 * Sanity checks in the spirit of AutoAttack's `checks.py`: signs that an evaluation may overstate
 * robustness (gradient masking, probabilities instead of logits, randomness). They never stop a run;
 * they come back as structured warnings with stable ids, explained in CHECKS.md.
 */

/** Stable ids of the checks; CHECKS.md has one section per id. */
export const CHECK_IDS = [
  'softmax-output',
  'zero-gradient',
  'non-finite-loss',
  'randomized-model',
  'black-box-stronger',
  'too-many-target-classes',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckWarning {
  readonly id: CheckId;
  /** The attack (or AutoAttack stage) that raised it. */
  readonly attack: string;
  readonly message: string;
  /** How many samples are affected, when the check is per sample. */
  readonly count?: number;
  /** The measured quantity the check compares (e.g. the accuracy gap), when there is one. */
  readonly value?: number;
}

/** Where CHECKS.md explains the warnings (for messages). */
export const CHECKS_DOC = 'libs/attacks/CHECKS.md';

/**
 * `softmax-output`: every logits row lies in [0, 1] and sums to 1 (±1e-5), so the model most likely
 * returns probabilities; CE and DLR gradients then vanish or mislead.
 */
export function checkSoftmaxOutput(logits: Float32Array, numClasses: number, attack: string): CheckWarning | undefined {
  const n = logits.length / numClasses;
  if (n === 0) return undefined;
  const tol = 1e-5;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      const v = logits[i * numClasses + c];
      if (!(v >= -tol && v <= 1 + tol)) return undefined;
      sum += v;
    }
    if (Math.abs(sum - 1) > tol) return undefined;
  }
  return {
    id: 'softmax-output',
    attack,
    message: `the model's outputs look like probabilities (in [0, 1], summing to 1), not logits; gradient attacks may be unreliable. See ${CHECKS_DOC}.`,
  };
}

/** `zero-gradient`: samples whose input gradient is exactly zero at the attack's starting point. */
export function checkZeroGradient(gradAbsSums: ArrayLike<number>, attack: string): CheckWarning | undefined {
  let count = 0;
  for (let i = 0; i < gradAbsSums.length; i++) if (gradAbsSums[i] === 0) count++;
  if (count === 0) return undefined;
  return {
    id: 'zero-gradient',
    attack,
    count,
    message: `${count} sample(s) have a zero input gradient at the starting point; gradient-based attacks cannot make progress there. See ${CHECKS_DOC}.`,
  };
}

/** `non-finite-loss`: the attack's loss is NaN or ±Infinity for some samples. */
export function checkFiniteLoss(loss: ArrayLike<number>, attack: string): CheckWarning | undefined {
  let count = 0;
  for (let i = 0; i < loss.length; i++) if (!Number.isFinite(loss[i])) count++;
  if (count === 0) return undefined;
  return {
    id: 'non-finite-loss',
    attack,
    count,
    message: `the loss is not finite for ${count} sample(s); their gradients are meaningless. See ${CHECKS_DOC}.`,
  };
}

/**
 * `randomized-model`: two forward passes on the same inputs disagree (normalised logits differ by
 * more than 1e-4 in L2, or the number of correct predictions changes).
 */
export function checkRandomized(first: Float32Array, second: Float32Array, numClasses: number, attack: string): CheckWarning | undefined {
  const n = first.length / numClasses;
  let maxDiff = 0;
  for (let i = 0; i < n; i++) {
    let na = 0;
    let nb = 0;
    for (let c = 0; c < numClasses; c++) {
      na += first[i * numClasses + c] ** 2;
      nb += second[i * numClasses + c] ** 2;
    }
    na = Math.sqrt(na) + 1e-10;
    nb = Math.sqrt(nb) + 1e-10;
    let d = 0;
    for (let c = 0; c < numClasses; c++) d += (first[i * numClasses + c] / na - second[i * numClasses + c] / nb) ** 2;
    maxDiff = Math.max(maxDiff, Math.sqrt(d));
  }
  if (!(maxDiff > 1e-4)) return undefined;
  return {
    id: 'randomized-model',
    attack,
    value: maxDiff,
    message: `two forward passes on the same inputs differ (max normalised-logit distance ${maxDiff.toExponential(2)}); a randomized model needs EoT-style attacks. See ${CHECKS_DOC}.`,
  };
}

/**
 * `black-box-stronger`: the score-based Square attack lowers robust accuracy below what the
 * white-box stages reached by more than `alpha` (0.002, as in AutoAttack).
 */
export function checkBlackBoxStronger(
  whiteBoxRobustAccuracy: number,
  squareRobustAccuracy: number,
  attack: string,
  alpha = 0.002,
): CheckWarning | undefined {
  const gap = whiteBoxRobustAccuracy - squareRobustAccuracy;
  if (!(gap > alpha)) return undefined;
  return {
    id: 'black-box-stronger',
    attack,
    value: gap,
    message: `Square (black-box) lowered robust accuracy by ${(gap * 100).toFixed(2)} points after the white-box attacks; gradients may be masked and the evaluation unreliable. See ${CHECKS_DOC}.`,
  };
}

/** `too-many-target-classes`: more target classes were asked for than the model has other classes. */
export function checkTargetCount(requested: number, numClasses: number, attack: string): CheckWarning | undefined {
  if (requested <= numClasses - 1) return undefined;
  return {
    id: 'too-many-target-classes',
    attack,
    value: requested,
    message: `${requested} target classes requested but the model has only ${numClasses - 1} other classes; using ${numClasses - 1}. See ${CHECKS_DOC}.`,
  };
}
