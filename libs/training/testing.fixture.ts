/**
 * Test fixtures: tiny seeded models and a learnable synthetic dataset, small enough for the wasm
 * backend on a shared 2-core machine.
 */
import { tfl } from '../engine/index.js';
import { createDataset, createRng, type Dataset } from '../data/index.js';
import { dropout } from '../models/dropout-layer.js';

export interface TinyModelOptions {
  seed: number;
  /** @default [8, 8, 1] */
  inputShape?: [number, number, number];
  /** @default 4 */
  numClasses?: number;
  /** Adds a BatchNorm after the first convolution. @default true */
  batchNorm?: boolean;
  /** @default 'tiny' */
  name?: string;
  /** Dropout rate before the dense layer (the models' own Dropout layer); 0 for none. @default 0 */
  dropout?: number;
}

/** conv3×3 4 → [BN] → ReLU → conv3×3 8 stride 2 → ReLU → flatten → [dropout] → dense (logits). */
export function tinyModel(options: TinyModelOptions): tfl.LayersModel {
  const { seed, inputShape = [8, 8, 1], numClasses = 4, batchNorm = true, name = 'tiny', dropout: rate = 0 } = options;
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: seed * 10 + k });
  const input = tfl.input({ shape: inputShape });
  // No bias before BatchNorm (its gradient would be exactly 0 in train mode), as in the ResNets.
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: init(1), useBias: !batchNorm }).apply(input) as tfl.SymbolicTensor;
  if (batchNorm) x = tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU().apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', kernelInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU().apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  if (rate > 0) x = dropout({ rate }).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: numClasses, kernelInitializer: init(3), biasInitializer: 'zeros' }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name });
}

/**
 * `n` images of one seeded random prototype per class plus uniform noise, clipped to [0, 1]:
 * separable, so a tiny model learns it in a few epochs. Labels cycle 0, 1, …, C−1.
 */
export function prototypeDataset(n: number, options: { seed?: number; shape?: [number, number, number]; numClasses?: number; noise?: number } = {}): Dataset {
  const { seed = 1, shape = [8, 8, 1], numClasses = 4, noise = 0.3 } = options;
  const rng = createRng(seed);
  const per = shape[0] * shape[1] * shape[2];
  const prototypes = Array.from({ length: numClasses }, () => rng.fillUniform(new Float32Array(per)));
  const images = new Float32Array(n * per);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % numClasses;
    labels[i] = y;
    for (let j = 0; j < per; j++) {
      const v = prototypes[y][j] + noise * (rng.next() - 0.5) * 2;
      images[i * per + j] = Math.min(1, Math.max(0, v));
    }
  }
  return createDataset({ name: 'prototypes', split: 'train', source: 'test', shape, numClasses, images, labels });
}
