/**
 * TapedBatchNormalization (batch-norm-layer.ts) against tfjs-layers' own layer: the same output,
 * gradients (closed form vs tfjs's composition, so within float tolerance) and moving-statistics
 * updates in training mode, the stock code in inference mode, fewer tensors kept by a tape, and it
 * is what a saved model loads as.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, tfl } from '../engine/index.js';
import { TapedBatchNormalization } from './batch-norm-layer.js';
import { buildModel, modelFromBytes, modelToBytes } from './index.js';

const close = (a: tf.Tensor, b: tf.Tensor, tol: number, what: string) => {
  const [x, y] = [a.dataSync(), b.dataSync()];
  assert.equal(x.length, y.length, what);
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= tol * Math.max(1, Math.abs(y[i])), `${what}[${i}]: ${x[i]} vs ${y[i]}`);
};

describe('TapedBatchNormalization', () => {
  before(async () => {
    await initEngine('wasm');
  });

  function pair() {
    const args = { axis: -1, momentum: 0.9, epsilon: 1e-5, gammaInitializer: 'randomNormal', betaInitializer: 'randomNormal' } as const;
    const ours = new TapedBatchNormalization({ ...args });
    const stock = tfl.layers.batchNormalization({ ...args });
    const input = tfl.input({ shape: [5, 4, 6] });
    ours.apply(input);
    stock.apply(input);
    // Non-trivial moving statistics to start from.
    const weights = ours.getWeights();
    weights[2] = tf.randomNormal([6], 0, 1, 'float32', 8);
    weights[3] = tf.randomUniform([6], 0.5, 2, 'float32', 9);
    ours.setWeights(weights);
    stock.setWeights(weights);
    return { ours, stock };
  }

  it('training mode: same output, input/γ/β gradients and moving statistics as the stock layer', () => {
    const { ours, stock } = pair();
    const x = tf.add(tf.mul(tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 7), 3), 1);
    const w = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 11);
    const grads = (layer: tfl.layers.Layer) => {
      const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
      const f = (xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi, { training: true }) as tf.Tensor, w)) as tf.Scalar;
      const dx = tf.grad(f)(x);
      const { grads: g } = tf.variableGrads(() => f(x), vars);
      return { out: layer.apply(x, { training: true }) as tf.Tensor, dx, dGamma: g[vars[0].name], dBeta: g[vars[1].name] };
    };
    const a = grads(ours);
    const b = grads(stock);
    close(a.out, b.out, 1e-5, 'Σ output · w');
    close(a.dx, b.dx, 1e-4, 'dx');
    close(a.dGamma, b.dGamma, 1e-4, 'dγ');
    close(a.dBeta, b.dBeta, 1e-5, 'dβ');
    // Three training-mode calls each: the moving statistics moved the same way.
    const [, , mOurs, vOurs] = ours.getWeights();
    const [, , mStock, vStock] = stock.getWeights();
    close(mOurs, mStock, 1e-5, 'moving mean');
    close(vOurs, vStock, 1e-5, 'moving variance');
    tf.dispose([x, w, a.out, a.dx, a.dGamma, a.dBeta, b.out, b.dx, b.dGamma, b.dBeta]);
  });

  it('inference mode is the stock computation', () => {
    const { ours, stock } = pair();
    const x = tf.randomNormal([2, 5, 4, 6], 0, 1, 'float32', 3);
    close(ours.apply(x) as tf.Tensor, stock.apply(x) as tf.Tensor, 0, 'inference output');
  });

  it('inference mode under a tape: the stock output and input gradient, without tiling 1/σ', () => {
    const { ours, stock } = pair();
    const x = tf.randomNormal([2, 5, 4, 6], 0, 1, 'float32', 4);
    const w = tf.randomNormal([2, 5, 4, 6], 0, 1, 'float32', 5);
    const run = (layer: tfl.layers.Layer) => {
      const { value, grad } = tf.valueAndGrad((xi: tf.Tensor) => tf.sum(tf.mul(layer.apply(xi, { training: false }) as tf.Tensor, w)))(x);
      return { out: value, dx: grad };
    };
    const a = run(ours);
    const b = run(stock);
    close(a.out, b.out, 1e-5, 'Σ output · w');
    close(a.dx, b.dx, 1e-5, 'input gradient');
    tf.dispose([x, w, a.out, a.dx, b.out, b.dx]);
  });

  it('keeps fewer tensors alive under a tape, and leaks none', () => {
    const { ours, stock } = pair();
    const x = tf.randomNormal([4, 5, 4, 6], 0, 1, 'float32', 2);
    const keptBy = (layer: tfl.layers.Layer) => {
      let kept = 0;
      const before = tf.memory().numTensors;
      const g = tf.grad((xi: tf.Tensor) => {
        const y = tf.sum(layer.apply(xi, { training: true }) as tf.Tensor) as tf.Scalar;
        kept = tf.memory().numBytes;
        return y;
      })(x);
      g.dispose();
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      return kept;
    };
    const base = tf.memory().numBytes;
    const oursKept = keptBy(ours) - base;
    const stockKept = keptBy(stock) - base;
    assert.ok(oursKept < stockKept, `${oursKept} vs ${stockKept} bytes live after the forward pass`);
    x.dispose();
  });

  it('is what a saved model loads as, and saves as a plain BatchNormalization', async () => {
    const model = buildModel({ arch: 'preact-resnet18', inputShape: [8, 8, 3], numClasses: 10, seed: 1 });
    const bytes = await modelToBytes(model);
    assert.ok(!bytes.modelJson.includes('Taped'));
    const loaded = await modelFromBytes(bytes);
    const bns = loaded.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    assert.ok(bns.length > 10 && bns.every((l) => l instanceof TapedBatchNormalization));
    model.dispose();
    loaded.dispose();
  });
});
