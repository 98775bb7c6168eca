/**
 * The Conv2D layer every model uses: tfjs-layers' Conv2D with one change to how it runs under a
 * gradient tape.
 *
 * Why: tfjs-layers runs a linear-activation conv (every conv here: ReLU and BatchNorm are separate
 * layers) through `tf.fused.conv2d`, and that op stays fused under a gradient tape when the
 * activation is linear. Its custom gradient then returns the gradients of the input, the filter
 * and the bias together, whichever the caller asked for. An attack step wants only the input
 * gradient, yet paid for every Conv2DBackpropFilter: on the reference CNN that halved input-gradient
 * throughput (186 vs 372 img/s, wasm, batch 64), and on PreActResNet-18 an attack step cost as
 * much as a training step. Under a tape this layer runs conv2d + bias add + activation as separate
 * ops instead, so the tape computes only the gradients on a path to what was asked for (no filter
 * gradients for an input gradient, no first-layer input gradient for a weight gradient). Outside
 * a tape (inference) it keeps the fused kernel.
 *
 * Same weights, same config, same maths, same class name: registered under `Conv2D`, it is what
 * `loadLayersModel` builds for every Conv2D in a model.json, ours or not. Models saved with it load
 * in stock tfjs-layers and the other way round.
 */
import type { Conv2D } from '@tensorflow/tfjs-layers/dist/layers/convolutional.js';
import { tf, tfl } from '../engine/index.js';
import { stockLayerClass } from './stock-layer.js';

type ConvArgs = Parameters<typeof tfl.layers.conv2d>[0];
type Kwargs = Parameters<Conv2D['call']>[1];

const StockConv2D = stockLayerClass<typeof Conv2D>('Conv2D');

export class TapedConv2D extends StockConv2D {
  /** Serialised as, and deserialised from, a plain `Conv2D`. */
  static override className = 'Conv2D';

  constructor(args: ConvArgs) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const taped = tf.engine().state.gradientDepth > 0;
    if (!taped || this.dataFormat !== 'channelsLast' || this.padding === 'causal') return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const strides = this.strides as [number, number];
      const dilations = this.dilationRate as [number, number];
      const kernel = this.kernel.read() as tf.Tensor4D;
      const padding = this.padding as 'same' | 'valid';
      let y: tf.Tensor = dilations.some((d) => d > 1) ? atrousConv2d(x, kernel, padding, dilations) : tf.conv2d(x, kernel, strides, padding, 'NHWC', dilations);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation.apply(y);
    });
  }
}

tf.serialization.registerClass(TapedConv2D);

/**
 * A stride-1 convolution with dilation d as space-to-batch (d×d phases), an undilated convolution
 * and batch-to-space: the same values as `tf.conv2d(…, dilations)`, which tfjs cannot differentiate
 * ("dilation rates greater than 1 are not yet supported in gradients"). Dilated convolutions come in
 * with imported ONNX models; tfjs itself refuses stride > 1 together with dilation > 1.
 */
function atrousConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, padding: 'same' | 'valid', [dh, dw]: [number, number]): tf.Tensor4D {
  const [kh, kw] = kernel.shape;
  const [eh, ew] = [(kh - 1) * dh, (kw - 1) * dw]; // extent of the dilated kernel − 1
  let xp = x;
  if (padding === 'same') xp = tf.pad(x, [[0, 0], [Math.floor(eh / 2), eh - Math.floor(eh / 2)], [Math.floor(ew / 2), ew - Math.floor(ew / 2)], [0, 0]]);
  const [h, w] = [xp.shape[1], xp.shape[2]];
  const [outH, outW] = [h - eh, w - ew];
  // Pad to a multiple of d; the extra rows and columns only feed outputs that are cropped below.
  const [padH, padW] = [(dh - (h % dh)) % dh, (dw - (w % dw)) % dw];
  const phases = tf.spaceToBatchND(xp, [dh, dw], [[0, padH], [0, padW]]) as tf.Tensor4D;
  const z = tf.conv2d(phases, kernel, 1, 'valid');
  return tf.batchToSpaceND(z, [dh, dw], [[0, z.shape[1] * dh - outH], [0, z.shape[2] * dw - outW]]) as tf.Tensor4D;
}

/** A Conv2D layer that runs unfused under a gradient tape (see the module comment). */
export function conv2d(args: ConvArgs): TapedConv2D {
  return new TapedConv2D(args);
}
