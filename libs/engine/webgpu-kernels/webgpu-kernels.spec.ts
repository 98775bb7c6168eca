/**
 * Our WGSL kernels must compute what the cpu backend computes, for every shape a model gives them.
 * Without a GPU this runs on Dawn's OpenGL ES backend over Mesa llvmpipe (HARDEN_WEBGPU_SOFTWARE=1),
 * the same WGSL a GPU runs; it is skipped, saying why, only where no such adapter exists. Shapes
 * are small: llvmpipe is slow.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { batchNormalization, batchNormTraining } from '../../models/batch-norm-layer.js';
import { initEngine, probeBackends, tf } from '../index.js';
import { relativeError, values } from '../kernel-check.fixture.js';
import { fitTiles } from './gemm-program.js';
import {
  compileKernelConfig,
  registerWebgpuKernels,
  restoreShippedWebgpuKernels,
  webgpuFallbackCounts,
  webgpuKernelActive,
  webgpuKernelsWanted,
  WEBGPU_KERNELS,
  type WebgpuKernelOptions,
} from './index.js';

process.env.HARDEN_WEBGPU_SOFTWARE ??= '1';
const status = (await probeBackends()).find((b) => b.name === 'webgpu');
const SKIP = status?.available ? false : `no webgpu adapter here (${status?.reason}); install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri for the software one`;

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface ConvCase {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  k: [number, number];
  strides: [number, number];
  pad: Pad;
  /** FusedConv2D with a bias and this activation instead of Conv2D. */
  fused?: 'linear' | 'relu';
  dilations?: [number, number];
}

const convName = (c: ConvCase): string =>
  `x=[${c.batch},${c.h},${c.w},${c.inC}] k=${c.k.join('x')}×${c.outC} s=${c.strides.join(',')} pad=${JSON.stringify(c.pad)}` +
  (c.fused ? ` fused(bias, ${c.fused})` : '') +
  (c.dilations ? ` d=${c.dilations.join(',')}` : '');

/**
 * y = conv(x, f) and the gradients of Σ y·r with respect to x, f (and the bias), read back; y alone
 * when dilated (tfjs has no gradient for dilated convolutions).
 */
async function convOutputs(c: ConvCase, seed: number): Promise<Float32Array[]> {
  const out = tf.tidy(() => {
    const x = tf.tensor4d(values(c.batch * c.h * c.w * c.inC, seed), [c.batch, c.h, c.w, c.inC]);
    const f = tf.tensor4d(values(c.k[0] * c.k[1] * c.inC * c.outC, seed + 1), [c.k[0], c.k[1], c.inC, c.outC]);
    const bias = tf.tensor1d(values(c.outC, seed + 2));
    const conv = (xi: tf.Tensor4D, fi: tf.Tensor4D, bi: tf.Tensor1D): tf.Tensor4D =>
      c.fused
        ? tf.fused.conv2d({ x: xi, filter: fi, strides: c.strides, pad: c.pad, bias: bi, activation: c.fused, dilations: c.dilations ?? 1 })
        : tf.conv2d(xi, fi, c.strides, c.pad, 'NHWC', c.dilations ?? 1);
    const y = conv(x, f, bias);
    const r = tf.tensor(values(y.size, seed + 3), y.shape);
    const loss = (xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor) => tf.sum(tf.mul(conv(xi as tf.Tensor4D, fi as tf.Tensor4D, bi as tf.Tensor1D), r));
    if (c.dilations) return [y];
    const grads = c.fused ? tf.grads(loss)([x, f, bias]) : tf.grads((xi, fi) => loss(xi, fi, bias))([x, f]);
    return [y, ...grads];
  });
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

const TOLERANCE = 1e-4;

/** Filters 1/3/5 × strides 1/2 × same/valid/explicit, odd sizes, batches 1 and 3, channels 1/3/4/5/8. */
function convGrid(): ConvCase[] {
  const cases: ConvCase[] = [];
  const inCs = [1, 3, 4, 5, 8];
  const outCs = [4, 6, 8, 3];
  const pads: Pad[] = ['same', 'valid', [[0, 0], [1, 2], [2, 0], [0, 0]]];
  let i = 0;
  for (const k of [1, 3, 5]) {
    for (const s of [1, 2]) {
      const pad = pads[i % pads.length];
      cases.push({
        batch: i % 2 === 0 ? 1 : 3,
        h: [7, 9, 11][i % 3],
        w: [9, 7, 11][(i + 1) % 3],
        inC: inCs[i % inCs.length],
        outC: outCs[i % outCs.length],
        k: [k, k],
        strides: [s, s],
        pad,
      });
      i++;
    }
  }
  return cases;
}

const CONV_CASES: ConvCase[] = [
  ...convGrid(),
  // The first layer's inputs, a layer deep enough to tile along channels, rectangular geometry.
  { batch: 2, h: 13, w: 13, inC: 3, outC: 16, k: [3, 3], strides: [1, 1], pad: 'same' },
  { batch: 2, h: 9, w: 9, inC: 1, outC: 8, k: [5, 5], strides: [2, 2], pad: 'same' },
  { batch: 2, h: 8, w: 8, inC: 16, outC: 32, k: [3, 3], strides: [2, 2], pad: 'same' },
  { batch: 2, h: 9, w: 8, inC: 3, outC: 4, k: [3, 2], strides: [2, 1], pad: 1 },
  // Stride 3 (nine input-gradient phases, some without filter taps), and fewer rows than the stride.
  { batch: 2, h: 11, w: 10, inC: 2, outC: 4, k: [5, 3], strides: [3, 2], pad: 'valid' },
  { batch: 1, h: 2, w: 5, inC: 3, outC: 4, k: [3, 3], strides: [3, 3], pad: 'same' },
  { batch: 2, h: 8, w: 9, inC: 4, outC: 8, k: [2, 2], strides: [3, 3], pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  // K = N·OH·OW = 3·15·15 = 675: the filter gradient is split under the default config too.
  { batch: 3, h: 15, w: 15, inC: 4, outC: 8, k: [3, 3], strides: [1, 1], pad: 'same' },
  { batch: 2, h: 9, w: 7, inC: 3, outC: 8, k: [3, 3], strides: [1, 1], pad: 'same', fused: 'relu' },
  { batch: 1, h: 7, w: 7, inC: 5, outC: 6, k: [3, 3], strides: [2, 2], pad: 'valid', fused: 'linear' },
];

/** Left to the shipped kernels: must still agree with cpu, through the fallback. */
const FALLBACK_CASES: ConvCase[] = [{ batch: 1, h: 9, w: 9, inC: 3, outC: 4, k: [3, 3], strides: [1, 1], pad: 'same', dilations: [2, 2] }];

/** Small tiles, one thread column per 4 outputs, aggressive split-K: other code paths of the same shaders. */
const SMALL_TILES: WebgpuKernelOptions = {
  conv2d: { threadsM: 4, threadsN: 8, rowsPerThread: 2, colsPerThread: 1, tileK: 4 },
  conv2dBackpropInput: { threadsM: 8, threadsN: 4, rowsPerThread: 1, colsPerThread: 2, tileK: 8 },
  conv2dBackpropFilter: { threadsM: 4, threadsN: 4, rowsPerThread: 2, colsPerThread: 1, tileK: 4 },
  splitK: { targetWorkgroups: 4096, minPerSplit: 8, maxSplits: 7 },
  batchNorm: { channels: 4, rows: 4, rowsPerChunk: 16 },
};

interface BnCase {
  shape: number[];
  /** Added to x: BatchNorm's statistics must not cancel when |mean| ≫ σ. */
  offset: number;
}

const BN_CASES: BnCase[] = [
  { shape: [2, 5, 7, 3], offset: 0 },
  { shape: [3, 4, 4, 8], offset: 100 },
  { shape: [6, 5], offset: 0.5 },
  // M = 1,088 rows: several chunks under the default 512 rows per chunk.
  { shape: [4, 16, 17, 6], offset: -3 },
];

const EPS = 1e-3;

/** batchNormTraining's outputs and the gradients of Σ y·r with respect to x, gamma, beta. */
async function bnOutputs(c: BnCase, seed: number): Promise<Float32Array[]> {
  const size = c.shape.reduce((a, b) => a * b, 1);
  const ch = c.shape[c.shape.length - 1];
  const out = tf.tidy(() => {
    const x = tf.add(tf.tensor(values(size, seed), c.shape), c.offset);
    const gamma = tf.add(tf.tensor1d(values(ch, seed + 1)), 1.5) as tf.Tensor1D;
    const beta = tf.tensor1d(values(ch, seed + 2));
    const r = tf.tensor(values(size, seed + 3), c.shape);
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, EPS);
    const grads = tf.grads((xi, g, b) => tf.sum(tf.mul(batchNormTraining(xi, g as tf.Tensor1D, b as tf.Tensor1D, EPS).y, r)))([x, gamma, beta]);
    return [y, mean, variance, ...grads];
  });
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

const BN_OUTPUTS = ['y', 'mean', 'variance', 'dx', 'dgamma', 'dbeta'];

/**
 * A small model end to end: conv → BatchNorm → relu → strided fused conv (bias, relu) → mean pool →
 * dense. (No bias before BatchNorm: its gradient is zero in exact arithmetic, so rounding noise.)
 */
async function modelGradients(seed: number): Promise<Float32Array[]> {
  const out = tf.tidy(() => {
    const x = tf.tensor4d(values(3 * 10 * 10 * 3, seed).map((v) => (v + 1) / 2), [3, 10, 10, 3]);
    const w1 = tf.tensor4d(values(3 * 3 * 3 * 8, seed + 1).map((v) => 0.4 * v), [3, 3, 3, 8]);
    const gamma = tf.tensor1d(values(8, seed + 3).map((v) => 1 + 0.2 * v));
    const beta = tf.tensor1d(values(8, seed + 4).map((v) => 0.1 * v));
    const w2 = tf.tensor4d(values(3 * 3 * 8 * 12, seed + 5).map((v) => 0.2 * v), [3, 3, 8, 12]);
    const b2 = tf.tensor1d(values(12, seed + 2).map((v) => 0.1 * v));
    const dense = tf.tensor2d(values(12 * 5, seed + 6).map((v) => 0.3 * v), [12, 5]);
    const labels = tf.oneHot(tf.tensor1d([0, 3, 4], 'int32'), 5);
    const loss = (...p: tf.Tensor[]) => {
      const [xi, a, g, b, c, cb, d] = p as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor4D, tf.Tensor1D, tf.Tensor2D];
      let h: tf.Tensor4D = tf.conv2d(xi, a, 1, 'same');
      h = tf.relu(batchNormTraining(h, g, b, EPS).y) as tf.Tensor4D;
      h = tf.fused.conv2d({ x: h, filter: c, strides: 2, pad: 'same', bias: cb, activation: 'relu' });
      return tf.losses.softmaxCrossEntropy(labels, tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, d)) as tf.Scalar;
    };
    const params = [x, w1, gamma, beta, w2, b2, dense];
    return [loss(...params), ...tf.grads(loss)(params)];
  });
  const data = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return data;
}

const MODEL_OUTPUTS = ['loss', 'dx', 'dw1', 'dgamma', 'dbeta', 'dw2', 'db2', 'ddense'];

function assertClose(got: Float32Array[], want: Float32Array[], names: string[], what: string): void {
  assert.equal(got.length, want.length);
  for (const [i, name] of names.entries()) {
    const e = relativeError(got[i], want[i]);
    assert.ok(e < TOLERANCE, `${what}: ${name} relative error ${e.toExponential(2)}`);
  }
}

const fallbackTotal = (): number => [...webgpuFallbackCounts().values()].reduce((a, b) => a + b, 0);

describe('webgpu kernels against the cpu backend', { skip: SKIP }, () => {
  const ref = { conv: [] as Float32Array[][], fallback: [] as Float32Array[][], bn: [] as Float32Array[][], model: [] as Float32Array[] };

  before(async () => {
    await initEngine('cpu');
    for (const [i, c] of CONV_CASES.entries()) ref.conv.push(await convOutputs(c, 100 + 13 * i));
    for (const [i, c] of FALLBACK_CASES.entries()) ref.fallback.push(await convOutputs(c, 500 + 13 * i));
    for (const [i, c] of BN_CASES.entries()) ref.bn.push(await bnOutputs(c, 700 + 13 * i));
    ref.model = await modelGradients(900);
    await initEngine('webgpu');
  });

  it('registers its kernels over the shipped ones, and can put the shipped ones back', async () => {
    for (const name of WEBGPU_KERNELS) assert.ok(webgpuKernelActive(name), `${name} is ours after initEngine('webgpu')`);
    restoreShippedWebgpuKernels();
    assert.ok(!webgpuKernelActive('Conv2D') && tf.getKernel('Conv2D', 'webgpu'), 'the shipped Conv2D is back');
    assert.equal(tf.getKernel('HardenBatchNorm', 'webgpu'), undefined, 'no shipped BatchNorm op: the layer composes tfjs ops');
    const shipped = await bnOutputs(BN_CASES[0], 700);
    assertClose(shipped, ref.bn[0], BN_OUTPUTS, 'the layer without our kernels');
    const limits = (tf.backend() as unknown as { device: GPUDevice }).device.limits;
    registerWebgpuKernels(limits);
    for (const name of WEBGPU_KERNELS) assert.ok(webgpuKernelActive(name), `${name} is ours again`);
  });

  for (const [label, options] of [
    ['default tiles', {}],
    ['small tiles, split-K', SMALL_TILES],
  ] as Array<[string, WebgpuKernelOptions]>) {
    describe(label, () => {
      before(() => {
        registerWebgpuKernels((tf.backend() as unknown as { device: GPUDevice }).device.limits, options);
      });

      for (const [i, c] of CONV_CASES.entries()) {
        it(`convolution forward, input and filter gradients: ${convName(c)}`, async () => {
          assert.equal(tf.getBackend(), 'webgpu');
          const before = fallbackTotal();
          const got = await convOutputs(c, 100 + 13 * i);
          assert.equal(fallbackTotal(), before, 'ran our kernels, not the shipped ones');
          assertClose(got, ref.conv[i], c.fused ? ['y', 'dx', 'dfilter', 'dbias'] : ['y', 'dx', 'dfilter'], convName(c));
        });
      }

      for (const [i, c] of BN_CASES.entries()) {
        it(`BatchNorm op forward and backward: x=[${c.shape}] + ${c.offset}`, async () => {
          assert.ok(webgpuKernelActive('HardenBatchNorm') && webgpuKernelActive('HardenBatchNormGrad'));
          assertClose(await bnOutputs(c, 700 + 13 * i), ref.bn[i], BN_OUTPUTS, `x=[${c.shape}]`);
        });
      }

      it('a small model (conv → BatchNorm → relu → fused conv → pool → dense): loss and every gradient', async () => {
        const before = fallbackTotal();
        assertClose(await modelGradients(900), ref.model, MODEL_OUTPUTS, 'model');
        assert.equal(fallbackTotal(), before, 'ran our kernels, not the shipped ones');
      });
    });
  }

  it('the models\' BatchNorm layer runs our kernels in training mode on webgpu', async () => {
    const layer = batchNormalization({});
    const x = tf.tensor4d(values(2 * 4 * 5 * 3, 42), [2, 4, 5, 3]);
    const info = await tf.profile(() => tf.grads((a) => tf.sum(layer.apply(a, { training: true }) as tf.Tensor))([x]));
    tf.dispose(x);
    layer.dispose();
    assert.ok(info.kernelNames.includes('HardenBatchNorm'), `forward kernels: ${info.kernelNames.join(', ')}`);
    assert.ok(info.kernelNames.includes('HardenBatchNormGrad'), `gradient kernels: ${info.kernelNames.join(', ')}`);
  });

  it('leaves dilated convolutions to the shipped kernels, which agree with cpu', async () => {
    registerWebgpuKernels((tf.backend() as unknown as { device: GPUDevice }).device.limits);
    for (const [i, c] of FALLBACK_CASES.entries()) {
      const before = webgpuFallbackCounts().get('Conv2D') ?? 0;
      assertClose(await convOutputs(c, 500 + 13 * i), ref.fallback[i], ['y'], convName(c));
      assert.ok((webgpuFallbackCounts().get('Conv2D') ?? 0) > before, 'the dilated forward went to the shipped kernel');
    }
  });
});

describe('webgpu kernel config', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxStorageBuffersPerShaderStage: 4 };

  it('fills in defaults within WebGPU default limits', () => {
    const c = compileKernelConfig({}, limits);
    assert.equal(c.conv2d.threadsM * c.conv2d.threadsN, 256);
    assert.ok(4 * c.conv2d.tileK * (c.conv2d.threadsM * c.conv2d.rowsPerThread + c.conv2d.threadsN * c.conv2d.colsPerThread) <= 16384);
  });

  it('refuses what the device cannot run, saying why', () => {
    assert.throws(() => compileKernelConfig({ conv2d: { threadsM: 32, threadsN: 16 } }, limits), /512 threads exceed the device's 256/);
    assert.throws(() => compileKernelConfig({ conv2dBackpropFilter: { tileK: 64 } }, limits), /32768 bytes of workgroup storage exceed/);
    assert.throws(() => compileKernelConfig({ conv2dBackpropInput: { tileK: 6 } }, limits), /tileK must be a multiple of 4/);
    assert.throws(() => compileKernelConfig({ splitK: { maxSplits: 0 } }, limits), /splitK.maxSplits must be a positive integer/);
  });

  // registerWebgpuBackend reads this before it creates a device (switching webgpu off and on again in
  // one process is not exercised here: Dawn on llvmpipe aborts now and then on a second device).
  it('HARDEN_WEBGPU_KERNELS: ours by default, "shipped" for A/B runs, anything else refused', () => {
    assert.equal(webgpuKernelsWanted({}), true);
    assert.equal(webgpuKernelsWanted({ HARDEN_WEBGPU_KERNELS: 'own' }), true);
    assert.equal(webgpuKernelsWanted({ HARDEN_WEBGPU_KERNELS: 'shipped' }), false);
    assert.throws(() => webgpuKernelsWanted({ HARDEN_WEBGPU_KERNELS: 'fast' }), /must be "own" or "shipped", got "fast"/);
  });

  it('narrows tiles for thin products within the same constraints, and leaves wide ones alone', () => {
    const c = compileKernelConfig({}, limits).conv2d;
    const storage = (t: typeof c) => 4 * t.tileK * (t.threadsM * t.rowsPerThread + t.threadsN * t.colsPerThread);
    assert.deepEqual(fitTiles(c, 4096, 64), c);
    for (const m of [1, 3, 9, 27, 100, 4096]) {
      for (const n of [1, 3, 8, 32, 512]) {
        const t = fitTiles(c, m, n);
        const where = `M=${m} N=${n}: ${JSON.stringify(t)}`;
        assert.equal((t.threadsM * t.rowsPerThread) % 4, 0, where);
        assert.equal((t.threadsN * t.colsPerThread) % 4, 0, where);
        assert.ok(t.threadsM * t.threadsN <= 256 && t.threadsM <= 128 && t.threadsN <= 128, where);
        assert.ok(storage(t) <= storage(c), where);
      }
    }
    const thin = fitTiles(c, 1024, 3);
    assert.equal(thin.threadsN * thin.colsPerThread, 4, 'a 3-column product gets a 4-column tile');
  });
});
