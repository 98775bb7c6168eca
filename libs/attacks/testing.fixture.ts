/**
 * Small deterministic models and helpers for the attack tests (not part of the public API).
 */
import { currentEngine, initEngine, tf, tfl, type Tensor4D } from '../engine/index.js';
import { createRng } from '../data/index.js';

/**
 * Starts the engine for the attack tests: wasm (attacks need only input gradients, which the
 * shipped wasm backend has; `trainMnistNet` adapts to missing filter gradients). The cpu reference
 * backend is ~100× slower on convolutions. `HARDEN_TEST_BACKEND=cpu` overrides.
 */
export async function initTestEngine(): Promise<string> {
  const forced = process.env.HARDEN_TEST_BACKEND === 'cpu' ? 'cpu' : 'wasm';
  await initEngine(forced);
  return currentEngine()!.backend;
}

/** Uniform values in [lo, hi) from a seeded stream. */
export function seededUniform(seed: number, n: number, lo = 0, hi = 1): Float32Array {
  return createRng(seed).fillUniform(new Float32Array(n), lo, hi);
}

/** A linear softmax classifier on `shape` inputs: flatten → dense(C) with the given weights `[D, C]` and bias `[C]`. */
export function linearModel(shape: [number, number, number], weights: Float32Array, bias: Float32Array): tfl.LayersModel {
  const C = bias.length;
  const D = shape[0] * shape[1] * shape[2];
  const model = tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: shape }), tfl.layers.dense({ units: C, kernelInitializer: 'zeros' })],
  });
  model.layers[1].setWeights([tf.tensor2d(weights, [D, C]), tf.tensor1d(bias)]);
  return model;
}

/**
 * conv3×3(6) → BatchNorm → ReLU → flatten → dense(C), seeded weights, BatchNorm moving statistics
 * set away from their initial 0/1 so an accidental update is visible.
 */
export function tinyBnModel(shape: [number, number, number], numClasses: number, seed: number): tfl.LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: shape, filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: tfl.initializers.glorotNormal({ seed }) }),
      tfl.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }),
      tfl.layers.reLU(),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: numClasses, kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }) }),
    ],
  });
  const bn = model.layers[1];
  const [gamma, beta] = bn.getWeights();
  const mean = tf.tensor1d(seededUniform(seed + 2, 6, -0.2, 0.2));
  const variance = tf.tensor1d(seededUniform(seed + 3, 6, 0.5, 1.5));
  bn.setWeights([gamma, beta, mean, variance]);
  return model;
}

/** Whether the current backend can train convolutions (wasm only once the project's kernels are registered). */
export function canTrainConvs(): boolean {
  const backend = tf.getBackend();
  return backend !== 'wasm' || tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined;
}

/**
 * A small conv net for MNIST (28×28×1): conv5×5 16 s2 → conv3×3 32 s2 → dense 10 (logits). With
 * `trainConvs: false` the convolutions stay at their seeded random init (a fixed feature extractor)
 * and only the dense head learns: still a CNN to attack, trainable where the backend lacks conv
 * filter gradients.
 */
export function mnistNet(seed: number, trainConvs = true): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: 16,
        kernelSize: 5,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        trainable: trainConvs,
        kernelInitializer: tfl.initializers.heNormal({ seed }),
      }),
      tfl.layers.conv2d({
        filters: 32,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        trainable: trainConvs,
        kernelInitializer: tfl.initializers.heNormal({ seed: seed + 1 }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
}

/**
 * Trains `mnistNet` normally: Adam on the softmax cross-entropy of the logits, fixed batch order
 * (deterministic on one backend), `epochs` passes over the given images.
 */
export async function trainMnistNet(
  images: Float32Array,
  labels: Int32Array,
  options: { seed: number; epochs: number; lr?: number; batchSize?: number },
): Promise<tfl.LayersModel> {
  const n = labels.length;
  const batch = options.batchSize ?? 64;
  const model = mnistNet(options.seed, canTrainConvs());
  const optimizer = tf.train.adam(options.lr ?? 0.003);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    for (let start = 0; start < n; start += batch) {
      const size = Math.min(batch, n - start);
      tf.tidy(() => {
        const xb = tf.tensor4d(images.subarray(start * 784, (start + size) * 784), [size, 28, 28, 1]);
        const yb = tf.oneHot(tf.tensor1d(labels.subarray(start, start + size), 'int32'), 10);
        optimizer.minimize(() => tf.losses.softmaxCrossEntropy(yb, model.apply(xb, { training: true }) as tf.Tensor2D) as tf.Scalar, false, vars);
      });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  optimizer.dispose();
  return model;
}

/** BatchNorm moving mean and variance of every BN layer, as plain arrays. */
export function batchNormStats(model: tfl.LayersModel): Float32Array[] {
  const out: Float32Array[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    for (const w of layer.weights) {
      if (w.name.includes('moving')) out.push(Float32Array.from(w.read().dataSync() as Float32Array));
    }
  }
  return out;
}

/** Random inputs in [0, 1], shape `[n, ...shape]`. */
export function randomInputs(seed: number, n: number, shape: [number, number, number]): Tensor4D {
  return tf.tensor4d(seededUniform(seed, n * shape[0] * shape[1] * shape[2]), [n, ...shape]);
}
