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
      let y: tf.Tensor = tf.conv2d(x, this.kernel.read() as tf.Tensor4D, strides, this.padding as 'same' | 'valid', 'NHWC', dilations);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation.apply(y);
    });
  }
}

tf.serialization.registerClass(TapedConv2D);

/** A Conv2D layer that runs unfused under a gradient tape (see the module comment). */
export function conv2d(args: ConvArgs): TapedConv2D {
  return new TapedConv2D(args);
}
