/**
 * BatchNorm in training vs inference mode (README.md, "BatchNorm"). Runs on the cpu backend: it
 * takes gradients, and wasm's conv gradients are not registered yet.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, tfl } from '../engine/index.js';
import { buildModel, type ModelConfig } from './index.js';

const WRN: ModelConfig = { arch: 'wide-resnet', depth: 10, widenFactor: 1, inputShape: [8, 8, 3], numClasses: 10, seed: 3 };
const stats = (model: tfl.LayersModel, layer: string) => {
  const [, , mean, variance] = model.getLayer(layer).getWeights();
  return { mean: Array.from(mean.dataSync()), variance: Array.from(variance.dataSync()) };
};
const close = (a: number[], b: number[], tol = 1e-6) => a.every((v, i) => Math.abs(v - b[i]) <= tol * Math.max(1, Math.abs(b[i])));

describe('BatchNorm modes', () => {
  before(async () => {
    await initEngine('cpu');
  });

  it('model.apply(x, { training: true }) updates moving stats: m ← 0.9·m + 0.1·batch (biased variance)', () => {
    const model = buildModel(WRN);
    const x = tf.randomUniform([6, 8, 8, 3], 0, 1, 'float32', 1);
    // Input of the first BN (block1_layer_0_bn1) is conv1's output.
    const probe = tfl.model({ inputs: model.inputs, outputs: model.getLayer('conv1').output as tfl.SymbolicTensor });
    const { mean, variance } = tf.tidy(() => tf.moments(probe.predict(x) as tf.Tensor, [0, 1, 2]));
    const before = stats(model, 'block1_layer_0_bn1');
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const after = stats(model, 'block1_layer_0_bn1');
    const batchMean = Array.from(mean.dataSync());
    const batchVar = Array.from(variance.dataSync());
    assert.ok(close(after.mean, before.mean.map((m, i) => 0.9 * m + 0.1 * batchMean[i])), 'moving mean');
    assert.ok(close(after.variance, before.variance.map((v, i) => 0.9 * v + 0.1 * batchVar[i])), 'moving variance (÷n)');
    tf.dispose([x, mean, variance]);
    model.dispose();
  });

  it('inference mode (predict, apply without training) uses and keeps the moving stats', () => {
    const model = buildModel(WRN);
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 2);
    const before = stats(model, 'bn1');
    const a = model.predict(x) as tf.Tensor;
    const b = model.apply(x, { training: false }) as tf.Tensor;
    const c = model.apply(x) as tf.Tensor;
    assert.deepEqual(stats(model, 'bn1'), before);
    assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
    assert.deepEqual(Array.from(c.dataSync()), Array.from(a.dataSync()));
    tf.dispose([x, a, b, c]);
    model.dispose();
  });

  const small = { inputShape: [8, 8, 3] as const, numClasses: 10, seed: 3 };
  for (const config of [WRN, { arch: 'resnet18', ...small }, { arch: 'preact-resnet18', ...small }] as ModelConfig[]) {
    it(`${config.arch}: training and inference outputs differ`, () => {
      const model = buildModel(config);
      const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 3);
      const inference = model.predict(x) as tf.Tensor;
      const training = model.apply(x, { training: true }) as tf.Tensor;
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(training, inference))).dataSync()[0]);
      assert.ok(diff > 1e-3, `max |train − eval| = ${diff}`);
      tf.dispose([x, inference, training]);
      model.dispose();
    });
  }

  it('a gradient step in training mode updates the moving stats once, and never trains them', () => {
    const model = buildModel(WRN);
    const twin = buildModel(WRN);
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 4);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10);
    const { value, grads } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    tf.dispose(twin.apply(x, { training: true }) as tf.Tensor);
    assert.deepEqual(stats(model, 'block2_layer_0_bn2'), stats(twin, 'block2_layer_0_bn2'));
    const names = Object.keys(grads);
    assert.ok(names.some((n) => /bn2\/gamma/.test(n)));
    assert.ok(!names.some((n) => /moving_/.test(n)), 'moving stats are not trainable');
    tf.dispose([value, x, y, ...Object.values(grads)]);
    model.dispose();
    twin.dispose();
  });

  it('small-cnn: dropout is active only in training mode', () => {
    const model = buildModel({ arch: 'small-cnn', inputShape: [16, 16, 1], numClasses: 10, seed: 1, zeroInitHead: false });
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 5);
    const [e1, e2] = [model.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor];
    const [t1, t2] = [model.apply(x, { training: true }) as tf.Tensor, model.apply(x, { training: true }) as tf.Tensor];
    assert.deepEqual(Array.from(e2.dataSync()), Array.from(e1.dataSync()));
    assert.notDeepEqual(Array.from(t1.dataSync()), Array.from(e1.dataSync()));
    assert.notDeepEqual(Array.from(t2.dataSync()), Array.from(t1.dataSync()), 'a fresh dropout mask per call');
    tf.dispose([x, e1, e2, t1, t2]);
    model.dispose();
  });
});
