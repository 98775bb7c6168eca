/**
 * The Dropout layer every model uses: tfjs-layers' Dropout, with masks that can be reproduced.
 *
 * Why: tfjs draws dropout masks from an unseeded generator, so two training runs with the same seed
 * diverged from the first batch (small-cnn has dropout 0.5), and a run resumed from a checkpoint
 * matched the uninterrupted one only statistically. Giving the stock layer a `seed` is no fix: it
 * then draws the same mask at every step.
 *
 * Here, inside `withDropoutSeed(seed, fn)` (the trainer wraps each training step in one, seeded by
 * (run seed, epoch, batch)), the k-th dropout applied in training mode draws its mask from
 * `deriveSeed(seed, k)`: a fresh mask for every layer, forward pass and step, and the same ones
 * again in a rerun or a resumed run. Outside such a scope it behaves exactly like the stock layer.
 * Same config and class name (registered under `Dropout`), so saved models load either way.
 */
import type { Dropout } from '@tensorflow/tfjs-layers/dist/layers/core.js';
import { deriveSeed } from '../data/rng.js';
import { tf, tfl } from '../engine/index.js';
import { stockLayerClass } from './stock-layer.js';

type DropoutArgs = Parameters<typeof tfl.layers.dropout>[0];
type Kwargs = Parameters<Dropout['call']>[1];

const StockDropout = stockLayerClass<typeof Dropout>('Dropout');

/** The seed scope of the step running in this thread, and how many masks it has drawn. */
let scope: { seed: number; draws: number } | undefined;

/**
 * Runs `fn` with dropout masks drawn from `seed` (see the module comment); restores the previous
 * scope afterwards, also when `fn` fails. `fn` may be async: one step runs at a time per thread.
 */
export async function withDropoutSeed<T>(seed: number, fn: () => Promise<T> | T): Promise<T> {
  const outer = scope;
  scope = { seed, draws: 0 };
  try {
    return await fn();
  } finally {
    scope = outer;
  }
}

/**
 * Runs forward pass `pass` of a step (synchronously) with masks from its own sub-stream of the
 * step's seed, so that a pass run twice — once for its logits, again to back-propagate, as
 * low-memory training does — draws the same masks both times, and the same as under one tape.
 * Outside a `withDropoutSeed` scope it just runs `fn`.
 */
export function withDropoutPass<T>(pass: number, fn: () => T): T {
  const outer = scope;
  if (!outer) return fn();
  scope = { seed: deriveSeed(outer.seed, PASS_STREAM, pass), draws: 0 };
  try {
    return fn();
  } finally {
    scope = outer;
  }
}

/** Sub-streams of forward passes (apart from the step's own draws, `deriveSeed(seed, k)`). */
const PASS_STREAM = 0x9a55;

export class SeededDropout extends StockDropout {
  /** Serialised as, and deserialised from, a plain `Dropout`. */
  static override className = 'Dropout';

  constructor(args: DropoutArgs) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    // The stock layer passes its `seed` to tf.dropout, whose mask is then a function of it.
    const self = this as unknown as { seed: number | undefined; rate: number };
    if (!scope || kwargs?.training !== true || !(self.rate > 0 && self.rate < 1)) return super.call(inputs, kwargs);
    const own = self.seed;
    self.seed = deriveSeed(scope.seed, scope.draws++);
    try {
      return super.call(inputs, kwargs);
    } finally {
      self.seed = own;
    }
  }
}

tf.serialization.registerClass(SeededDropout);

/** A Dropout layer with reproducible masks inside `withDropoutSeed` (see the module comment). */
export function dropout(args: DropoutArgs): SeededDropout {
  return new SeededDropout(args);
}
