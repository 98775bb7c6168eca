import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf } from '../index.js';
import { registerWasmKernels, shippedWasmKernel, WASM_KERNELS } from './index.js';
import { relativeError, values } from '../kernel-check.fixture.js';


type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

interface Case {
  kind: 'conv2d' | 'depthwise';
  batch: number;
  h: number;
  w: number;
  inC: number;
  /** Output channels (conv2d) or channel multiplier (depthwise). */
  out: number;
  k: [number, number];
  strides: [number, number];
  pad: Pad;
  dilations?: [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const name = (c: Case): string =>
  `${c.kind} x=[${c.batch},${c.h},${c.w},${c.inC}] k=${c.k.join('x')}×${c.out} s=${c.strides.join(',')} pad=${JSON.stringify(c.pad)}` +
  (c.dilations ? ` d=${c.dilations.join(',')}` : '') +
  (c.dimRoundingMode ? ` round=${c.dimRoundingMode}` : '');

/** Gradients of Σ conv(x, f) · r with respect to x and f, read back as arrays. */
function gradients(c: Case, seed: number): { dx: Float32Array; df: Float32Array } {
  const filterShape: [number, number, number, number] = [c.k[0], c.k[1], c.inC, c.out];
  const xShape: [number, number, number, number] = [c.batch, c.h, c.w, c.inC];
  return tf.tidy(() => {
    const x = tf.tensor4d(values(c.batch * c.h * c.w * c.inC, seed), xShape);
    const f = tf.tensor4d(values(filterShape.reduce((a, b) => a * b), seed + 1), filterShape);
    const conv = (xi: tf.Tensor4D, fi: tf.Tensor4D): tf.Tensor4D =>
      c.kind === 'conv2d'
        ? tf.conv2d(xi, fi, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode)
        : tf.depthwiseConv2d(xi, fi, c.strides, c.pad, 'NHWC', c.dilations ?? 1, c.dimRoundingMode);
    const y = conv(x, f);
    const r = tf.tensor(values(y.size, seed + 2), y.shape);
    const [dx, df] = tf.grads((xi, fi) => tf.sum(tf.mul(conv(xi as tf.Tensor4D, fi as tf.Tensor4D), r)))([x, f]);
    return { dx: dx.dataSync() as Float32Array, df: df.dataSync() as Float32Array };
  });
}

/** Runs one kernel directly (for attributes the tfjs gradients never produce: dilation, NCHW). */
function runKernel(kernelName: string, inputs: Record<string, { shape: number[]; seed: number }>, attrs: Record<string, unknown>): Float32Array {
  return tf.tidy(() => {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [key, { shape, seed }] of Object.entries(inputs)) {
      tensors[key] = tf.tensor(values(shape.reduce((a, b) => a * b), seed), shape);
    }
    const out = tf.engine().runKernel(kernelName, tensors, attrs as never) as tf.Tensor;
    return out.dataSync() as Float32Array;
  });
}

const TOLERANCE = 1e-4;

/** Runs `compute` on cpu, then on wasm (left as the backend), and compares each output. */
async function matchesCpu(compute: () => Float32Array[], tolerance: number, label: (i: number) => string): Promise<void> {
  await initEngine('cpu');
  const ref = compute();
  await initEngine('wasm');
  const got = compute();
  ref.forEach((r, i) => {
    const err = relativeError(got[i], r);
    assert.ok(err < tolerance, `${label(i)}: relative error ${err}`);
  });
}

/** kernel 1/3/5 × stride 1/2 × same/valid, on odd sizes, batches 1 and 3, several channel counts. */
function grid(kind: 'conv2d' | 'depthwise', out: number[]): Case[] {
  const cases: Case[] = [];
  const sizes = [7, 9, 11];
  const channels = [1, 3, 4];
  let i = 0;
  for (const k of [1, 3, 5]) {
    for (const s of [1, 2]) {
      for (const pad of ['same', 'valid'] as const) {
        const size = sizes[i % sizes.length];
        cases.push({
          kind,
          batch: i % 2 === 0 ? 1 : 3,
          h: size,
          w: sizes[(i + 1) % sizes.length],
          inC: channels[i % channels.length],
          out: out[i % out.length],
          k: [k, k],
          strides: [s, s],
          pad,
        });
        i++;
      }
    }
  }
  return cases;
}

const CASES: Case[] = [
  ...grid('conv2d', [2, 5, 8]),
  ...grid('depthwise', [1, 2]),
  // Rectangular filters and strides, numeric and explicit padding, rounding, stride 3.
  { kind: 'conv2d', batch: 2, h: 9, w: 8, inC: 3, out: 4, k: [3, 2], strides: [2, 1], pad: 'same' },
  { kind: 'conv2d', batch: 2, h: 11, w: 10, inC: 2, out: 3, k: [5, 3], strides: [3, 2], pad: 'valid' },
  { kind: 'conv2d', batch: 1, h: 9, w: 9, inC: 2, out: 3, k: [3, 3], strides: [2, 2], pad: 1, dimRoundingMode: 'ceil' },
  { kind: 'conv2d', batch: 2, h: 7, w: 9, inC: 3, out: 2, k: [3, 3], strides: [2, 2], pad: [[0, 0], [3, 0], [1, 2], [0, 0]] },
  { kind: 'conv2d', batch: 1, h: 8, w: 8, inC: 16, out: 32, k: [3, 3], strides: [2, 2], pad: 'same' },
  // Large enough images (H·W > 256, C > 4) for the two-step transpose in the filter gradient.
  { kind: 'conv2d', batch: 2, h: 17, w: 19, inC: 6, out: 5, k: [3, 3], strides: [2, 2], pad: 'same' },
  { kind: 'conv2d', batch: 1, h: 18, w: 16, inC: 8, out: 4, k: [5, 5], strides: [1, 1], pad: 'valid' },
  { kind: 'depthwise', batch: 1, h: 10, w: 11, inC: 2, out: 1, k: [2, 4], strides: [2, 3], pad: 'same' },
  { kind: 'depthwise', batch: 2, h: 9, w: 9, inC: 4, out: 2, k: [3, 3], strides: [2, 2], pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
];

describe('wasm gradient kernels', () => {
  const reference = new Map<string, { dx: Float32Array; df: Float32Array }>();

  before(async () => {
    await initEngine('cpu');
    CASES.forEach((c, i) => reference.set(name(c), gradients(c, 1000 + 17 * i)));
    await initEngine('wasm');
  });

  it('registers its kernels for wasm, replacing the shipped ones, idempotently', () => {
    registerWasmKernels();
    registerWasmKernels();
    for (const kernelName of WASM_KERNELS) assert.ok(tf.getKernel(kernelName, 'wasm'), kernelName);
    assert.ok(shippedWasmKernel('Conv2DBackpropInput'), 'the shipped kernel is kept for benchmarks');
    assert.notEqual(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc, shippedWasmKernel('Conv2DBackpropInput')?.kernelFunc);
  });

  for (const [i, c] of CASES.entries()) {
    it(`matches the cpu gradients: ${name(c)}`, () => {
      assert.equal(tf.getBackend(), 'wasm');
      const ref = reference.get(name(c));
      assert.ok(ref);
      const got = gradients(c, 1000 + 17 * i);
      const ex = relativeError(got.dx, ref.dx);
      const ef = relativeError(got.df, ref.df);
      assert.ok(ex < TOLERANCE, `input gradient relative error ${ex}`);
      assert.ok(ef < TOLERANCE, `filter gradient relative error ${ef}`);
    });
  }

  it('handles NCHW as the cpu kernels do', async () => {
    const direct: Array<[string, Record<string, { shape: number[]; seed: number }>, Record<string, unknown>]> = [
      [
        'Conv2DBackpropInput',
        { dy: { shape: [2, 4, 5, 5], seed: 1 }, filter: { shape: [3, 3, 2, 4], seed: 2 } },
        { inputShape: [2, 2, 9, 9], strides: [2, 2], pad: 'same', dataFormat: 'NCHW' },
      ],
      [
        'Conv2DBackpropFilter',
        { x: { shape: [2, 2, 9, 9], seed: 3 }, dy: { shape: [2, 4, 5, 5], seed: 4 } },
        { filterShape: [3, 3, 2, 4], strides: [2, 2], pad: 'same', dataFormat: 'NCHW' },
      ],
    ];
    for (const [kernelName, inputs, attrs] of direct) {
      await initEngine('cpu');
      const ref = runKernel(kernelName, inputs, attrs);
      await initEngine('wasm');
      const got = runKernel(kernelName, inputs, attrs);
      const err = relativeError(got, ref);
      assert.ok(err < TOLERANCE, `${kernelName} ${JSON.stringify(attrs)}: relative error ${err}`);
    }
  });

  // tfjs's gradients refuse dilation and the cpu kernels ignore it, so the reference is the cpu
  // gradient of the same convolution with the filter's zeros written out (dilation 1).
  for (const pad of ['same', 'valid'] as const) {
    it(`supports dilated depthwise gradients (pad ${pad}), called directly`, async () => {
      const [n, h, w, c, mult, kh, kw, dh, dw] = [2, 11, 10, 3, 2, 3, 2, 2, 3];
      const fh = (kh - 1) * dh + 1;
      const fw = (kw - 1) * dw + 1;
      const xv = values(n * h * w * c, 11);
      const fv = values(kh * kw * c * mult, 12);
      const wide = new Float32Array(fh * fw * c * mult);
      for (let p = 0; p < kh; p++) {
        for (let q = 0; q < kw; q++) {
          const src = (p * kw + q) * c * mult;
          wide.set(fv.subarray(src, src + c * mult), (p * dh * fw + q * dw) * c * mult);
        }
      }
      await initEngine('cpu');
      const ref = tf.tidy(() => {
        const x = tf.tensor4d(xv, [n, h, w, c]);
        const f = tf.tensor4d(wide, [fh, fw, c, mult]);
        const y = tf.depthwiseConv2d(x, f, 1, pad);
        const r = tf.tensor(values(y.size, 13), y.shape);
        const [dx, dfWide] = tf.grads((xi, fi) => tf.sum(tf.mul(tf.depthwiseConv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, 1, pad), r)))([x, f]);
        const dfw = dfWide.dataSync();
        const df = new Float32Array(kh * kw * c * mult);
        for (let p = 0; p < kh; p++) {
          for (let q = 0; q < kw; q++) {
            const src = (p * dh * fw + q * dw) * c * mult;
            df.set(dfw.subarray(src, src + c * mult), (p * kw + q) * c * mult);
          }
        }
        return { dx: dx.dataSync() as Float32Array, df, dyShape: y.shape };
      });
      await initEngine('wasm');
      const attrs = { strides: [1, 1], pad, dilations: [dh, dw] };
      const dy = { shape: ref.dyShape, seed: 13 };
      const dx = runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: { shape: [kh, kw, c, mult], seed: 12 } }, { ...attrs, inputShape: [n, h, w, c] });
      const df = runKernel('DepthwiseConv2dNativeBackpropFilter', { x: { shape: [n, h, w, c], seed: 11 }, dy }, { ...attrs, filterShape: [kh, kw, c, mult] });
      assert.ok(relativeError(dx, ref.dx) < TOLERANCE, `input gradient relative error ${relativeError(dx, ref.dx)}`);
      assert.ok(relativeError(df, ref.df) < TOLERANCE, `filter gradient relative error ${relativeError(df, ref.df)}`);
    });
  }

  it('rejects a dy whose shape does not match the convolution, with a message saying so', () => {
    assert.throws(
      () => runKernel('Conv2DBackpropFilter', { x: { shape: [2, 9, 9, 3], seed: 1 }, dy: { shape: [2, 4, 4, 5], seed: 2 } }, { filterShape: [3, 3, 3, 5], strides: 2, pad: 'same' }),
      /dy has shape \[2,4,4,5\].*expected \[2,5,5,5\]/,
    );
  });

  it('reduces over leading and middle axes (Sum, Mean) as the cpu backend does', async () => {
    const shape = [3, 5, 7, 4];
    const axesCases: Array<[number | number[], boolean]> = [
      [[0, 1, 2], false],
      [[1, 2], true],
      [0, false],
      [[-3, -2], false],
      [[0, 2], false],
      [3, true],
      [[0, 1, 2, 3], false],
    ];
    const compute = (): Float32Array[] =>
      tf.tidy(() => {
        const x = tf.tensor(values(3 * 5 * 7 * 4, 21), shape);
        const xi = tf.cast(tf.mul(x, 10), 'int32');
        return axesCases.flatMap(([axis, keepDims]) => [
          tf.sum(x, axis, keepDims).dataSync() as Float32Array,
          tf.mean(x, axis, keepDims).dataSync() as Float32Array,
          Float32Array.from(tf.sum(xi, axis, keepDims).dataSync()),
        ]);
      });
    await matchesCpu(compute, 1e-5, (i) => `case ${JSON.stringify(axesCases[Math.floor(i / 3)])} #${i % 3}`);
  });

  it('routes a max-pool gradient to the window maximum when every value is negative', () => {
    // The shipped wasm kernel sent 1 to the -3 (the window's first pixel) and 2 to the -2.
    const dx = tf.tidy(() => {
      const x = tf.tensor4d([-3, -1, -2, -4, -5, -0.5, -7, -8, 1, 2, -1, 3, 0, 0, -1, -1], [1, 4, 4, 1]);
      const r = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
      return tf.grad((xi) => tf.sum(tf.mul(tf.maxPool(xi as tf.Tensor4D, 2, 2, 'valid'), r)))(x).dataSync();
    });
    assert.deepEqual(Array.from(dx), [0, 0, 2, 0, 0, 1, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0]);
  });

  it('matches the cpu max-pool gradients: negative, mixed and tied inputs, padding, strides, rounding', async () => {
    type PoolCase = { shape: [number, number, number, number]; k: [number, number]; s: [number, number]; pad: 'same' | 'valid' | number; round?: 'floor' | 'round' | 'ceil'; shift: number; ties?: boolean };
    const cases: PoolCase[] = [
      { shape: [2, 8, 8, 3], k: [2, 2], s: [2, 2], pad: 'valid', shift: -2 },
      { shape: [2, 9, 7, 4], k: [3, 3], s: [1, 1], pad: 'same', shift: -2 },
      { shape: [1, 11, 10, 5], k: [3, 2], s: [2, 3], pad: 'same', shift: 0 },
      { shape: [3, 7, 7, 2], k: [2, 2], s: [2, 2], pad: 'valid', shift: -0.5, ties: true },
      { shape: [1, 9, 9, 6], k: [3, 3], s: [2, 2], pad: 1, round: 'ceil', shift: -2 },
      { shape: [2, 6, 5, 1], k: [3, 3], s: [1, 2], pad: 'same', shift: 0, ties: true },
    ];
    const compute = (): Float32Array[] =>
      cases.map((c, i) =>
        tf.tidy(() => {
          let x = tf.add(tf.tensor4d(values(c.shape.reduce((a, b) => a * b), 50 + i), c.shape), c.shift) as tf.Tensor4D;
          if (c.ties) x = tf.round(tf.mul(x, 2)) as tf.Tensor4D;
          const pool = (xi: tf.Tensor4D) => tf.maxPool(xi, c.k, c.s, c.pad, c.round);
          const r = tf.tensor(values(pool(x).size, 70 + i), pool(x).shape);
          return tf.grad((xi) => tf.sum(tf.mul(pool(xi as tf.Tensor4D), r)))(x).dataSync() as Float32Array;
        }),
      );
    await matchesCpu(compute, 1e-6, (i) => `case ${JSON.stringify(cases[i])}`);
  });

  it('rejects a max-pool dy whose shape does not match the pool, with a message saying so', () => {
    assert.throws(
      () => runKernel('MaxPoolGrad', { dy: { shape: [1, 3, 3, 2], seed: 1 }, input: { shape: [1, 8, 8, 2], seed: 2 } }, { filterSize: 2, strides: 2, pad: 'valid' }),
      /dy has shape \[1,3,3,2\].*output is \[1,4,4,2\]/,
    );
  });

  it('clones (Identity) by sharing memory, and the clone outlives the original', () => {
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const x = tf.tensor([1, 2, 3]);
    const ids = backend.numDataIds();
    const y = tf.clone(x);
    assert.equal(backend.numDataIds(), ids, 'no new buffer');
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
    y.dispose();
    assert.equal(backend.numDataIds(), ids - 1, 'freed with its last reference');
  });

  it('leaks no tensors and no wasm data over 100 gradient steps', () => {
    assert.equal(tf.getBackend(), 'wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const x = tf.tensor4d(values(2 * 9 * 9 * 4, 1), [2, 9, 9, 4]);
    const f = tf.variable(tf.tensor4d(values(3 * 3 * 4 * 6, 2), [3, 3, 4, 6]));
    const fd = tf.variable(tf.tensor4d(values(3 * 3 * 6 * 2, 3), [3, 3, 6, 2]));
    const step = (): void => {
      tf.tidy(() => {
        const loss = (xi: tf.Tensor4D): tf.Scalar =>
          tf.sum(tf.depthwiseConv2d(tf.relu(tf.conv2d(xi, f, 2, 'same')), fd, 2, 'valid'));
        const { grads } = tf.variableGrads(() => loss(x));
        const dx = tf.grad((xi) => loss(xi as tf.Tensor4D))(x);
        f.assign(tf.sub(f, tf.mul(grads[f.name], 1e-3)));
        fd.assign(tf.sub(fd, tf.mul(grads[fd.name], 1e-3)));
        dx.dataSync();
      });
    };
    step();
    const tensors = tf.memory().numTensors;
    const dataIds = backend.numDataIds();
    for (let i = 0; i < 100; i++) step();
    assert.equal(tf.memory().numTensors, tensors, 'engine tensors');
    assert.equal(backend.numDataIds(), dataIds, 'wasm backend data ids');
    tf.dispose([x, f, fd]);
  });
});
