/**
 * The one place the project imports TensorFlow.js from.
 *
 * tfjs-core's Node bundle registers no gradient functions; the tfjs-layers bundle registers all of
 * them (into the global gradient registry shared with core), so importing it here makes `tf.grad`
 * work on every backend. Prod mode silences tfjs's console banners; our own checks replace its
 * debug-mode NaN checks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

tf.enableProdMode();

export { tf, tfl };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Variable, NamedTensorMap } from '@tensorflow/tfjs-core';
