/**
 * Shared layer factory for the architectures: every layer gets an explicit, stable name (PyTorch's
 * state-dict name with `.` → `_`, so weights can be mapped later), and every initialiser its own seed
 * derived from the model seed and the layer name (so inits do not depend on construction order).
 *
 * Conventions (PyTorch → tfjs-layers):
 * - Channels last (NHWC); kernels [kh, kw, in, out]. A `flatten` therefore orders features (h, w, c),
 *   not PyTorch's (c, h, w): only matters when importing PyTorch dense weights.
 * - PyTorch `padding=1` on a 3×3 conv ↔ tfjs `'same'`. Output sizes agree (⌈n/s⌉) but with stride 2 on
 *   an even input, TF pads 0 before and 1 after, while PyTorch pads 1 on both sides and drops the last
 *   row/column: the sampling grid is shifted by one pixel. Same parameters and shapes; imported
 *   PyTorch weights would see a one-pixel shift in the strided convs.
 * - BatchNorm: momentum 0.9 in the Keras convention (moving = 0.9·moving + 0.1·batch), which is
 *   PyTorch's `momentum=0.1`; epsilon 1e-5 (PyTorch's default). See README.md for how training mode
 *   updates the moving statistics.
 */
import { tfl } from '../engine/index.js';
import { batchNormalization } from './batch-norm-layer.js';
import { conv2d } from './conv-layer.js';
import { dropout } from './dropout-layer.js';

type Sym = tfl.SymbolicTensor;

/**
 * How a weight is initialised, mirroring the PyTorch reference code:
 * - `kaiming-normal`: N(0, 2/fan), untruncated (`nn.init.kaiming_normal_` with a=0; WRN's
 *   `normal_(0, sqrt(2/n))` with n = k·k·out is the `fan-out` mode).
 * - `torch-default`: U(−1/√fan_in, 1/√fan_in), PyTorch's default for Conv2d/Linear weights and biases
 *   (`kaiming_uniform_(a=√5)`).
 * - `zeros`.
 */
export type WeightInit = { kind: 'kaiming-normal'; mode: 'fan-in' | 'fan-out' } | { kind: 'torch-default' } | { kind: 'zeros' };

export interface ConvSpec {
  name: string;
  filters: number;
  kernelSize: number;
  /** @default 1 */
  strides?: number;
  padding: 'same' | 'valid';
  /** Kernel initialiser. */
  init: WeightInit;
  /** Bias initialiser; no bias when absent (convs before BatchNorm). */
  bias?: WeightInit;
}

export interface DenseSpec {
  name: string;
  units: number;
  init: WeightInit;
  bias: WeightInit;
}

export interface LayerBuilder {
  conv(x: Sym, spec: ConvSpec): Sym;
  dense(x: Sym, spec: DenseSpec): Sym;
  batchNorm(x: Sym, name: string): Sym;
  relu(x: Sym, name: string): Sym;
  add(a: Sym, b: Sym, name: string): Sym;
  maxPool(x: Sym, name: string): Sym;
  globalAvgPool(x: Sym, name: string): Sym;
  flatten(x: Sym, name: string): Sym;
  /** Dropout (active only with `training: true`); masks reproducible inside `withDropoutSeed` (dropout-layer.ts). */
  dropout(x: Sym, rate: number, name: string): Sym;
}

/** BatchNorm settings shared by every architecture (see the module comment). */
export const BATCH_NORM = { momentum: 0.9, epsilon: 1e-5 } as const;

/** Creates the builder for one model; `seed` is the model seed. */
export function createLayerBuilder(seed: number): LayerBuilder {
  const initializer = (init: WeightInit, fanIn: number, fanOut: number, key: string) => {
    const s = deriveSeed(seed, key);
    switch (init.kind) {
      case 'zeros':
        return tfl.initializers.zeros();
      case 'kaiming-normal': {
        const fan = init.mode === 'fan-in' ? fanIn : fanOut;
        return tfl.initializers.randomNormal({ mean: 0, stddev: Math.sqrt(2 / fan), seed: s });
      }
      case 'torch-default': {
        const bound = 1 / Math.sqrt(fanIn);
        return tfl.initializers.randomUniform({ minval: -bound, maxval: bound, seed: s });
      }
    }
  };
  const apply = (layer: tfl.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

  return {
    conv(x, spec) {
      const inChannels = lastDim(x);
      const area = spec.kernelSize * spec.kernelSize;
      const [fanIn, fanOut] = [inChannels * area, spec.filters * area];
      return apply(
        conv2d({
          name: spec.name,
          filters: spec.filters,
          kernelSize: spec.kernelSize,
          strides: spec.strides ?? 1,
          padding: spec.padding,
          useBias: spec.bias !== undefined,
          kernelInitializer: initializer(spec.init, fanIn, fanOut, `${spec.name}/kernel`),
          ...(spec.bias ? { biasInitializer: initializer(spec.bias, fanIn, fanOut, `${spec.name}/bias`) } : {}),
        }),
        x,
      );
    },
    dense(x, spec) {
      const fanIn = lastDim(x);
      return apply(
        tfl.layers.dense({
          name: spec.name,
          units: spec.units,
          kernelInitializer: initializer(spec.init, fanIn, spec.units, `${spec.name}/kernel`),
          biasInitializer: initializer(spec.bias, fanIn, spec.units, `${spec.name}/bias`),
        }),
        x,
      );
    },
    batchNorm: (x, name) => apply(batchNormalization({ name, axis: -1, ...BATCH_NORM }), x),
    relu: (x, name) => apply(tfl.layers.reLU({ name }), x),
    add: (a, b, name) => apply(tfl.layers.add({ name }), [a, b]),
    maxPool: (x, name) => apply(tfl.layers.maxPooling2d({ name, poolSize: 2, strides: 2, padding: 'valid' }), x),
    globalAvgPool: (x, name) => apply(tfl.layers.globalAveragePooling2d({ name }), x),
    flatten: (x, name) => apply(tfl.layers.flatten({ name }), x),
    dropout: (x, rate, name) => apply(dropout({ name, rate }), x),
  };
}

function lastDim(x: Sym): number {
  const d = x.shape[x.shape.length - 1];
  if (typeof d !== 'number') throw new Error(`layer input ${x.name} has no static channel count`);
  return d;
}

/** A 31-bit seed from the model seed and a weight name (FNV-1a, then a murmur3 finaliser). */
export function deriveSeed(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}
