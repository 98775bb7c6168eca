import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf } from '../index.js';
import { loadNative, NATIVE_KERNEL_NAMES, nativeKernelsActive, registerNativeKernels, unregisterNativeKernels } from './index.js';
import { assertNativeLoaded, nativeTestSkip } from './native-availability.js';
import { relativeError, values } from '../kernel-check.fixture.js';


const TOLERANCE = 1e-4;
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const tensor = (shape: number[], seed: number) => tf.tensor(values(size(shape), seed), shape);

/** A computation whose outputs are compared between the cpu backend and the native engine. */
interface Check {
  name: string;
  run(): Float32Array[];
}

type Pad = 'same' | 'valid';

interface ConvCase {
  batch: number;
  h: number;
  w: number;
  inC: number;
  out: number;
  k: [number, number];
  strides: [number, number];
  pad: Pad | number;
  dilations?: [number, number];
}

const convName = (c: ConvCase) =>
  `conv x=[${c.batch},${c.h},${c.w},${c.inC}] k=${c.k.join('x')}×${c.out} s=${c.strides.join(',')} pad=${c.pad}` + (c.dilations ? ` d=${c.dilations.join(',')}` : '');

/** y, and the gradients of Σ (conv(x, f) + b) · r with respect to x, f and b (no dilation: tfjs has no dilated conv gradients). */
function convCheck(c: ConvCase, seed: number): Check {
  return {
    name: convName(c),
    run: () =>
      tf.tidy(() => {
        const x = tensor([c.batch, c.h, c.w, c.inC], seed) as tf.Tensor4D;
        const f = tensor([c.k[0], c.k[1], c.inC, c.out], seed + 1) as tf.Tensor4D;
        const b = tensor([c.out], seed + 2) as tf.Tensor1D;
        const conv = (xi: tf.Tensor4D, fi: tf.Tensor4D) => tf.conv2d(xi, fi, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
        const y = conv(x, f);
        // Fused (outside a tape: bias + ReLU in the kernel).
        const fused = tf.fused.conv2d({ x, filter: f, strides: c.strides, pad: c.pad, dilations: c.dilations ?? 1, bias: b, activation: 'relu' });
        const out = [y.dataSync() as Float32Array, fused.dataSync() as Float32Array];
        if (!c.dilations) {
          const r = tensor(y.shape, seed + 3);
          const grads = tf.grads((xi, fi, bi) => tf.sum(tf.mul(tf.add(conv(xi as tf.Tensor4D, fi as tf.Tensor4D), bi), r)))([x, f, b]);
          out.push(...grads.map((g) => g.dataSync() as Float32Array));
        }
        return out;
      }),
  };
}

function convGrid(): ConvCase[] {
  const cases: ConvCase[] = [];
  const sizes = [7, 9, 11, 8];
  const channels = [1, 3, 4, 16];
  let i = 0;
  for (const k of [1, 3, 5]) {
    for (const s of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        cases.push({
          batch: i % 2 === 0 ? 1 : 3,
          h: sizes[i % sizes.length],
          w: sizes[(i + 1) % sizes.length],
          inC: channels[i % channels.length],
          out: [2, 5, 8, 32][i % 4],
          k: [k, k],
          strides: [s, s],
          pad,
        });
        i++;
      }
    }
  }
  cases.push(
    { batch: 2, h: 9, w: 8, inC: 3, out: 4, k: [3, 2], strides: [2, 1], pad: 'same' },
    { batch: 2, h: 11, w: 10, inC: 2, out: 3, k: [5, 3], strides: [3, 2], pad: 'valid' },
    { batch: 1, h: 9, w: 9, inC: 2, out: 3, k: [3, 3], strides: [2, 2], pad: 1 },
    { batch: 4, h: 16, w: 16, inC: 32, out: 64, k: [3, 3], strides: [2, 2], pad: 'same' },
    { batch: 2, h: 11, w: 10, inC: 3, out: 4, k: [3, 3], strides: [1, 1], pad: 'same', dilations: [2, 2] },
    { batch: 1, h: 12, w: 13, inC: 2, out: 5, k: [3, 2], strides: [1, 1], pad: 'valid', dilations: [2, 3] },
  );
  return cases;
}

interface MatMulCase {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

function matMulCheck(c: MatMulCase, seed: number): Check {
  return {
    name: `matMul a=[${c.a}] b=[${c.b}] tA=${c.transposeA} tB=${c.transposeB}`,
    run: () =>
      tf.tidy(() => {
        const a = tensor(c.a, seed);
        const b = tensor(c.b, seed + 1);
        const mm = (ai: tf.Tensor, bi: tf.Tensor) => tf.matMul(ai, bi, c.transposeA, c.transposeB);
        const y = mm(a, b);
        const bias = tensor([y.shape[y.shape.length - 1]], seed + 2);
        const fused = tf.fused.matMul({ a, b, transposeA: c.transposeA, transposeB: c.transposeB, bias, activation: 'relu' });
        const r = tensor(y.shape, seed + 3);
        const grads = tf.grads((ai, bi) => tf.sum(tf.mul(mm(ai, bi), r)))([a, b]);
        return [y, fused, ...grads].map((t) => t.dataSync() as Float32Array);
      }),
  };
}

const MATMULS: MatMulCase[] = [
  { a: [1, 7], b: [7, 3], transposeA: false, transposeB: false },
  { a: [32, 1024], b: [1024, 200], transposeA: false, transposeB: false },
  { a: [5, 9], b: [4, 9], transposeA: false, transposeB: true },
  { a: [9, 5], b: [9, 4], transposeA: true, transposeB: false },
  { a: [9, 5], b: [4, 9], transposeA: true, transposeB: true },
  { a: [3, 5, 6], b: [3, 6, 2], transposeA: false, transposeB: false },
  { a: [2, 3, 6, 5], b: [2, 3, 6, 4], transposeA: true, transposeB: false },
];

interface PoolCase {
  kind: 'max' | 'avg';
  x: [number, number, number, number];
  window: [number, number];
  strides: [number, number];
  pad: Pad;
}

function poolCheck(c: PoolCase, seed: number): Check {
  return {
    name: `${c.kind}Pool x=[${c.x}] window=${c.window.join('x')} s=${c.strides.join(',')} pad=${c.pad}`,
    run: () =>
      tf.tidy(() => {
        const x = tensor(c.x, seed) as tf.Tensor4D;
        const pool = (xi: tf.Tensor4D) => (c.kind === 'max' ? tf.maxPool(xi, c.window, c.strides, c.pad) : tf.avgPool(xi, c.window, c.strides, c.pad));
        const y = pool(x);
        const r = tensor(y.shape, seed + 1);
        const dx = tf.grad((xi) => tf.sum(tf.mul(pool(xi as tf.Tensor4D), r)))(x);
        return [y, dx].map((t) => t.dataSync() as Float32Array);
      }),
  };
}

function poolGrid(): PoolCase[] {
  const cases: PoolCase[] = [];
  let i = 0;
  for (const kind of ['max', 'avg'] as const) {
    for (const window of [2, 3]) {
      for (const s of [1, 2]) {
        for (const pad of ['same', 'valid'] as const) {
          const h = [7, 8, 9, 11][i % 4];
          cases.push({ kind, x: [i % 2 === 0 ? 1 : 3, h, h + 2, [1, 3, 8][i % 3]], window: [window, window], strides: [s, s], pad });
          i++;
        }
      }
    }
  }
  return cases;
}

/** Training-mode batch norm as the project's op computes it (libs/models/batch-norm-layer.ts). */
function batchNormCheck(shape: number[], seed: number): Check {
  return {
    name: `HardenBatchNorm x=[${shape}]`,
    run: () =>
      tf.tidy(() => {
        const c = shape[shape.length - 1];
        const x = tf.add(tf.mul(tensor(shape, seed), 3), 0.5);
        const gamma = tensor([c], seed + 1);
        const beta = tensor([c], seed + 2);
        const r = tensor(shape, seed + 3);
        const eps = 1e-3;
        const axes = shape.slice(0, -1).map((_, i) => i);
        const native = tf.getKernel('HardenBatchNorm', tf.getBackend()) !== undefined;
        const forward = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor[] => {
          if (native) return tf.engine().runKernel('HardenBatchNorm', { x: xi, gamma: g, beta: b }, { epsilon: eps }) as unknown as tf.Tensor[];
          const { mean, variance } = tf.moments(xi, axes);
          return [tf.add(tf.mul(tf.div(tf.sub(xi, mean), tf.sqrt(tf.add(variance, eps))), g), b), mean, variance];
        };
        const [y, mean, variance] = forward(x, gamma, beta);
        let grads: tf.Tensor[];
        if (native) {
          grads = tf.engine().runKernel('HardenBatchNormGrad', { x, dy: r, mean, variance, gamma }, { epsilon: eps }) as unknown as tf.Tensor[];
        } else {
          grads = tf.grads((xi, g, b) => tf.sum(tf.mul(forward(xi, g, b)[0], r)))([x, gamma, beta]);
        }
        return [y, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
      }),
  };
}

const CHECKS: Check[] = [
  ...convGrid().map((c, i) => convCheck(c, 100 + 7 * i)),
  ...MATMULS.map((c, i) => matMulCheck(c, 500 + 7 * i)),
  ...poolGrid().map((c, i) => poolCheck(c, 900 + 7 * i)),
  batchNormCheck([4, 5, 7, 3], 1300),
  batchNormCheck([1, 9, 9, 16], 1310),
  batchNormCheck([6, 10], 1320),
];

describe('native engine kernels (oneDNN)', { skip: nativeTestSkip() }, () => {
  const reference = new Map<string, Float32Array[]>();

  before(async () => {
    assertNativeLoaded();
    await initEngine('cpu');
    for (const c of CHECKS) reference.set(c.name, c.run());
    await initEngine('native');
  });

  it('registers its kernels over wasm and puts the previous ones back', async () => {
    assert.ok(nativeKernelsActive());
    const conv = tf.getKernel('Conv2D', 'wasm')?.kernelFunc;
    unregisterNativeKernels();
    assert.notEqual(tf.getKernel('Conv2D', 'wasm')?.kernelFunc, conv);
    assert.equal(tf.getKernel('HardenBatchNorm', 'wasm'), undefined);
    registerNativeKernels();
    registerNativeKernels();
    for (const name of NATIVE_KERNEL_NAMES) assert.ok(tf.getKernel(name, 'wasm'), name);
    const load = loadNative();
    assert.ok(load.ok && /^(sse41|avx|avx2|avx2_vnni|avx512\w*|generic)$/.test(load.addon.info().isa));
  });

  for (const c of CHECKS) {
    it(`matches the cpu backend: ${c.name}`, () => {
      const ref = reference.get(c.name);
      assert.ok(ref);
      const got = c.run();
      assert.equal(got.length, ref.length);
      got.forEach((g, i) => {
        const err = relativeError(g, ref[i]);
        assert.ok(err < TOLERANCE, `output ${i}: relative error ${err}`);
      });
    });
  }

  it('rejects views shorter than the geometry instead of writing past them', () => {
    const load = loadNative();
    assert.ok(load.ok);
    const geo = Int32Array.from([1, 4, 4, 1, 1, 3, 3, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.throws(() => load.addon.conv2dForward(geo, new Float32Array(16), new Float32Array(9), null, new Float32Array(15), 0), /y has 15 elements/);
  });
});
