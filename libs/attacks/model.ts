/**
 * Model wrappers: what attacks call. Attacks never own or mutate the model; they only ask for
 * logits in inference mode.
 */
import { tf, tfl, type Tensor2D, type Tensor4D } from '../engine/index.js';
import { AttackError } from './errors.js';
import type { AttackModel } from './types.js';

export interface ModelWrapperOptions {
  /** Valid input range. @default [0, 1] */
  bounds?: readonly [number, number];
}

function checkBounds(bounds: readonly [number, number]): readonly [number, number] {
  const [lo, hi] = bounds;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new AttackError('invalid-argument', `bounds must be finite with low < high; got [${lo}, ${hi}]`, { field: 'bounds' });
  }
  return [lo, hi];
}

/**
 * Wraps a tfjs-layers classifier whose last layer outputs logits. Every call runs
 * `model.apply(x, { training: false })`: BatchNorm normalises with its moving statistics and does not
 * update them, dropout is off. Models ending in a softmax still work but raise the `softmax-output`
 * check (their gradients are poor).
 */
export function fromLayersModel(model: tfl.LayersModel, options: ModelWrapperOptions = {}): AttackModel {
  const out = model.outputs[0]?.shape;
  const numClasses = out?.[out.length - 1];
  if (model.outputs.length !== 1 || !out || out.length !== 2 || typeof numClasses !== 'number' || numClasses < 2) {
    throw new AttackError(
      'invalid-argument',
      `the model must have one output of shape [batch, classes] with at least 2 classes; got ${JSON.stringify(model.outputs.map((o) => o.shape))}`,
      { field: 'model' },
    );
  }
  return {
    bounds: checkBounds(options.bounds ?? [0, 1]),
    numClasses,
    logits: (x: Tensor4D) => model.apply(x, { training: false }) as Tensor2D,
  };
}

/** Wraps any differentiable function of the input (already in inference mode) as a model. */
export function fromLogitsFunction(
  logits: (x: Tensor4D) => Tensor2D,
  numClasses: number,
  options: ModelWrapperOptions = {},
): AttackModel {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new AttackError('invalid-argument', `numClasses must be an integer ≥ 2; got ${numClasses}`, { field: 'numClasses' });
  }
  return { bounds: checkBounds(options.bounds ?? [0, 1]), numClasses, logits };
}

/** Logits for a batch as plain values `[n * numClasses]` (no tensor left behind), read asynchronously. */
export async function logitsValues(model: AttackModel, x: Tensor4D): Promise<Float32Array> {
  const z = tf.tidy(() => model.logits(x));
  try {
    return Float32Array.from((await z.data()) as Float32Array);
  } finally {
    z.dispose();
  }
}
