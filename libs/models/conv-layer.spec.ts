/**
 * TapedConv2D (conv-layer.ts): same values and gradients as tfjs-layers' own Conv2D, no filter
 * gradients when only the input gradient is asked for, and it is what loading a model.json builds.
 * Runs on wasm, where the project's gradient kernels live and attacks run.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, tfl } from '../engine/index.js';
import { TapedConv2D } from './conv-layer.js';
import { buildModel, modelFromBytes, modelToBytes } from './index.js';

const maxRelError = (a: tf.Tensor, b: tf.Tensor): number => {
  const [x, y] = [a.dataSync(), b.dataSync()];
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  return worst;
};

/** Kernel names run by `fn` (tf.profile). */
async function kernelsRun(fn: () => tf.Tensor): Promise<Set<string>> {
  const info = await tf.profile(() => {
    const out = fn();
    out.dataSync();
    return out;
  });
  return new Set(info.kernels.map((k) => k.name));
}

describe('TapedConv2D', () => {
  before(async () => {
    await initEngine('wasm');
  });

  const cases = [
    { label: 'bias, same, stride 2, linear', args: { filters: 6, kernelSize: 3, strides: 2, padding: 'same', useBias: true } },
    { label: 'no bias, valid, stride 1, relu', args: { filters: 5, kernelSize: 3, strides: 1, padding: 'valid', useBias: false, activation: 'relu' } },
    { label: 'bias, same, 5×5, stride 1', args: { filters: 4, kernelSize: 5, strides: 1, padding: 'same', useBias: true } },
    { label: '1×1, stride 2, valid', args: { filters: 3, kernelSize: 1, strides: 2, padding: 'valid', useBias: false } },
  ] as const;

  for (const { label, args } of cases) {
    it(`matches the stock Conv2D in value, input gradient and weight gradients (${label})`, () => {
      const input = tfl.input({ shape: [9, 7, 3] });
      const ours = new TapedConv2D({ ...args, kernelInitializer: 'glorotNormal', biasInitializer: 'randomNormal' });
      const stock = tfl.layers.conv2d({ ...args });
      ours.apply(input);
      stock.apply(input);
      stock.setWeights(ours.getWeights());
      const x = tf.randomNormal([2, 9, 7, 3], 0, 1, 'float32', 5);
      const loss = (layer: tfl.layers.Layer) => (xi: tf.Tensor) => tf.sum(tf.square(layer.apply(xi) as tf.Tensor));
      tf.tidy(() => {
        assert.ok(maxRelError(ours.apply(x) as tf.Tensor, stock.apply(x) as tf.Tensor) < 1e-5, 'forward');
        assert.ok(maxRelError(tf.grad(loss(ours))(x), tf.grad(loss(stock))(x)) < 1e-4, 'input gradient');
        const gOurs = tf.variableGrads(() => loss(ours)(x) as tf.Scalar, ours.trainableWeights.map((w) => w.read() as tf.Variable));
        const gStock = tf.variableGrads(() => loss(stock)(x) as tf.Scalar, stock.trainableWeights.map((w) => w.read() as tf.Variable));
        const ordered = (g: typeof gOurs, layer: tfl.layers.Layer) => layer.trainableWeights.map((w) => g.grads[(w.read() as tf.Variable).name]);
        const [a, b] = [ordered(gOurs, ours), ordered(gStock, stock)];
        assert.equal(a.length, args.useBias ? 2 : 1);
        a.forEach((g, i) => assert.ok(maxRelError(g, b[i]) < 1e-4, `weight gradient ${i}`));
      });
      x.dispose();
      ours.dispose();
      stock.dispose();
    });
  }

  for (const padding of ['valid', 'same'] as const) {
    it(`differentiates a dilated convolution (dilation 2, ${padding}): the values and gradients of the same kernel with zeros inserted`, () => {
      const layer = new TapedConv2D({ filters: 4, kernelSize: 3, dilationRate: 2, padding, useBias: true, kernelInitializer: 'glorotNormal', biasInitializer: 'randomNormal' });
      layer.apply(tfl.input({ shape: [11, 10, 3] }));
      const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D];
      tf.tidy(() => {
        // The dilated 3×3 kernel as an undilated 5×5 one: taps at even offsets, zeros between.
        const k = kernel.dataSync();
        const d = new Float32Array(5 * 5 * 3 * 4);
        for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) d.set(k.subarray((a * 3 + b) * 12, (a * 3 + b + 1) * 12), (2 * a * 5 + 2 * b) * 12);
        const dense = tf.tensor4d(d, [5, 5, 3, 4]);
        const x = tf.randomNormal([2, 11, 10, 3], 0, 1, 'float32', 8);
        const reference = (xi: tf.Tensor) => tf.add(tf.conv2d(xi as tf.Tensor4D, dense, 1, padding), bias);
        const r = tf.randomNormal(reference(x).shape, 0, 1, 'float32', 9);
        const loss = (f: (xi: tf.Tensor) => tf.Tensor) => (xi: tf.Tensor) => tf.sum(tf.mul(f(xi), r));
        const { value, grad } = tf.valueAndGrad(loss((xi) => layer.apply(xi) as tf.Tensor))(x);
        assert.ok(maxRelError(value, loss(reference)(x)) < 1e-5, 'value under a tape');
        assert.ok(maxRelError(layer.apply(x) as tf.Tensor, reference(x)) < 1e-5, 'value outside a tape');
        assert.ok(maxRelError(grad, tf.grad(loss(reference))(x)) < 1e-4, 'input gradient');
        const g = tf.variableGrads(() => loss((xi) => layer.apply(xi) as tf.Tensor)(x) as tf.Scalar, [layer.trainableWeights[0].read() as tf.Variable]);
        const gDense = tf.grad((k: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, padding), r)))(dense);
        const expected = tf.stridedSlice(gDense, [0, 0, 0, 0], [5, 5, 3, 4], [2, 2, 1, 1]);
        assert.ok(maxRelError(Object.values(g.grads)[0], expected) < 1e-4, 'kernel gradient');
      });
      layer.dispose();
    });
  }

  it('an input gradient through a model runs no Conv2DBackpropFilter; a weight gradient still does', async () => {
    const model = buildModel({ arch: 'ref-cnn', inputShape: [12, 12, 3], numClasses: 10, seed: 1 });
    const x = tf.randomUniform([2, 12, 12, 3], 0, 1, 'float32', 2);
    const loss = (xi: tf.Tensor) => tf.sum(model.apply(xi, { training: false }) as tf.Tensor) as tf.Scalar;
    const inputGrad = await kernelsRun(() => tf.grad(loss)(x));
    assert.ok(inputGrad.has('Conv2DBackpropInput'), [...inputGrad].join(', '));
    assert.ok(!inputGrad.has('Conv2DBackpropFilter'), `input gradient ran ${[...inputGrad].join(', ')}`);
    const weightGrad = await kernelsRun(() => {
      const { value, grads } = tf.variableGrads(() => loss(x));
      tf.dispose(grads);
      return value;
    });
    assert.ok(weightGrad.has('Conv2DBackpropFilter'));
    // Inference outside a tape keeps the fused kernel.
    const inference = await kernelsRun(() => model.predict(x) as tf.Tensor);
    assert.ok(inference.has('FusedConv2D') && !inference.has('Conv2D'), [...inference].join(', '));
    x.dispose();
    model.dispose();
  });

  it('is what a saved model loads as, and saves as a plain Conv2D', async () => {
    const model = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 4 });
    const bytes = await modelToBytes(model);
    assert.ok(!bytes.modelJson.includes('Taped'), 'class name in model.json');
    assert.match(bytes.modelJson, /"class_name":"Conv2D"/);
    const loaded = await modelFromBytes(bytes);
    const convs = loaded.layers.filter((l) => l.getClassName() === 'Conv2D');
    assert.equal(convs.length, 4);
    assert.ok(convs.every((l) => l instanceof TapedConv2D));
    model.dispose();
    loaded.dispose();
  });
});
