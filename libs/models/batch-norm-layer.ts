/**
 * The BatchNormalization layer every model uses: tfjs-layers' own, with training mode computed by
 * one op with its own gradient.
 *
 * Why: in training mode the stock layer computes `tf.moments` and then `tf.batchNormalization`, and
 * under a gradient tape every intermediate a gradient needs stays alive until the backward pass: the
 * cast input, x − mean, (x − mean)² and the normalised output, three full-size tensors more than
 * the maths needs, per BN layer. On PreActResNet-18 at 32×32 that was 22 MiB per image kept by one
 * forward pass, and the backward pass of the stock composition adds as many temporaries again. This
 * op keeps x, the per-channel mean and 1/σ, and computes the gradient in closed form:
 *
 *   x̂ = (x − μ)/σ,  y = γ·x̂ + β,  σ = √(var + ε), var the biased batch variance over N·H·W = M
 *   dβ = Σ dy,  dγ = Σ dy·x̂,  dx = γ/(σ·M) · (M·dy − dβ − x̂·dγ)
 *
 * the last line being the usual BatchNorm backward with the gradient through μ and var included.
 * The moving statistics update as the stock layer does them: m ← m − (1 − momentum)·(m − batch),
 * with the biased variance. Inference mode is the stock code. Registered under the stock class name,
 * it is what loading any model.json builds; saved models are unchanged.
 *
 * Inference mode is the stock code too, except under a gradient tape (see `batchNormInference`).
 *
 * On the native engine the op is two oneDNN kernels (`HardenBatchNorm` forward, `HardenBatchNormGrad`
 * backward, libs/engine/native/batch-norm.ts) computing the same maths in one pass each; they keep
 * the variance instead of 1/σ. On webgpu the same two kernels are WGSL programs
 * (libs/engine/webgpu-kernels/batch-norm.ts; not with `HARDEN_WEBGPU_KERNELS=shipped`). The op uses
 * them wherever the current backend registers them; elsewhere it is composed of tfjs ops as below.
 */
import type { BatchNormalization } from '@tensorflow/tfjs-layers/dist/layers/normalization.js';
import { BATCH_NORM_GRAD_KERNEL, BATCH_NORM_KERNEL, tf, tfl } from '../engine/index.js';
import { stockLayerClass } from './stock-layer.js';

type BnArgs = NonNullable<Parameters<typeof tfl.layers.batchNormalization>[0]>;
type Kwargs = Parameters<BatchNormalization['call']>[1];

/** The stock layer's fields this layer reads (private in the typings). */
interface BnFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tfl.LayerVariable;
  beta: tfl.LayerVariable;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

const StockBatchNormalization = stockLayerClass<typeof BatchNormalization>('BatchNormalization');

/**
 * Training-mode batch norm over every axis but the last: returns y and the batch mean and biased
 * variance (for the moving statistics; no gradient flows back through those two outputs).
 */
export function batchNormTraining(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (x.dtype === 'float32' && x.size > 0 && tf.getKernel(BATCH_NORM_KERNEL, tf.getBackend())) return batchNormKernels(x, gamma, beta, epsilon);
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const count = x.size / x.shape[x.shape.length - 1];
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const op = tf.customGrad((...args: unknown[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const { mean, variance } = tf.moments(xi, axes);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const value = tf.add(tf.mul(tf.sub(xi, mean), tf.mul(invStd, g)), b);
    save([xi, mean, invStd, g]);
    stats = { mean: tf.keep(mean as tf.Tensor1D), variance: tf.keep(variance as tf.Tensor1D) };
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sMean, sInvStd, sGamma] = saved;
        const xHat = tf.mul(tf.sub(sx, sMean), sInvStd);
        const dBeta = tf.sum(dy, axes);
        const dGamma = tf.sum(tf.mul(dy, xHat), axes);
        // γ/(σ·M) · (M·dy − dβ − x̂·dγ) = γ/σ · (dy − dβ/M − x̂·dγ/M)
        const dx = tf.mul(tf.sub(tf.sub(dy, tf.div(dBeta, count)), tf.mul(xHat, tf.div(dGamma, count))), tf.mul(sInvStd, sGamma));
        return [dx, dGamma, dBeta];
      },
    };
  });
  const y = op(x, gamma, beta);
  if (!stats) throw new Error('batch norm computed no statistics');
  return { y, ...stats };
}

/** `batchNormTraining` through the engine's own kernels (the native and webgpu engines register them). */
function batchNormKernels(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number): { y: tf.Tensor; mean: tf.Tensor1D; variance: tf.Tensor1D } {
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | undefined;
  const op = tf.customGrad((...args: unknown[]) => {
    const [xi, g, b, save] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.GradSaveFunc];
    const [value, mean, variance] = tf.engine().runKernel(BATCH_NORM_KERNEL, { x: xi, gamma: g, beta: b }, { epsilon }) as unknown as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    save([xi, mean, variance, g]);
    stats = { mean: tf.keep(mean), variance: tf.keep(variance) };
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sMean, sVariance, sGamma] = saved;
        const inputs = { x: sx, dy, mean: sMean, variance: sVariance, gamma: sGamma };
        return tf.engine().runKernel(BATCH_NORM_GRAD_KERNEL, inputs, { epsilon }) as unknown as tf.Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta);
  if (!stats) throw new Error('batch norm computed no statistics');
  return { y, ...stats };
}

/**
 * Inference mode under a gradient tape (an attack's input gradient): (x − μ)·a + β with
 * a = γ/√(var + ε) per channel, whose input gradient is one broadcast multiply, dy·a. The stock
 * layer's `tf.batchNormalization` differentiates to a `Tile` of 1/σ to x's full shape, which the wasm
 * backend runs element by element: 690 of 1,251 ms of a PreActResNet-18 input-gradient step (batch
 * 8) on the native engine, more than all its convolutions together.
 */
function batchNormInference(x: tf.Tensor, f: BnFields): tf.Tensor {
  const a = tf.mul(f.gamma.read(), tf.rsqrt(tf.add(f.movingVariance.read(), f.epsilon)));
  return tf.add(tf.mul(tf.sub(x, f.movingMean.read()), a), f.beta.read());
}

export class TapedBatchNormalization extends StockBatchNormalization {
  /** Serialised as, and deserialised from, a plain `BatchNormalization`. */
  static override className = 'BatchNormalization';

  constructor(args: BnArgs) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const f = this as unknown as BnFields;
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = f.axis === -1 || f.axis === x.rank - 1;
    if (!lastAxis || !f.center || !f.scale) return super.call(inputs, kwargs);
    if (!kwargs?.training) {
      if (tf.engine().state.gradientDepth === 0) return super.call(inputs, kwargs);
      return tf.tidy(() => batchNormInference(x, f));
    }
    return tf.tidy(() => {
      const { y, mean, variance } = batchNormTraining(x, f.gamma.read() as tf.Tensor1D, f.beta.read() as tf.Tensor1D, f.epsilon);
      const decay = 1 - f.momentum;
      for (const [moving, batch] of [[f.movingMean, mean], [f.movingVariance, variance]] as const) {
        const old = moving.read();
        moving.write(tf.sub(old, tf.mul(tf.sub(old, batch), decay)));
      }
      tf.dispose([mean, variance]); // kept inside the op, for this update only
      return y;
    });
  }
}

tf.serialization.registerClass(TapedBatchNormalization);

/** A BatchNormalization layer whose training mode keeps only what its gradient needs (see above). */
export function batchNormalization(args: BnArgs): TapedBatchNormalization {
  return new TapedBatchNormalization(args);
}
