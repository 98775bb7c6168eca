/**
 * The native engine (oneDNN kernels over wasm) on whole training steps: a D2R step (CAG-10 + loss +
 * SGD over a BatchNorm target and a small-cnn guidance) equals the wasm engine's within float
 * tolerance, the same seed gives the same model twice, and 100 steps leak neither tensors nor
 * native memory (the addon's primitive cache stops growing once every shape has been seen).
 * Skipped with the reason where the addon is not built; in CI (CI=true) a missing addon fails.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, loadNative, tf } from '../libs/engine/index.js';
import { assertNativeLoaded, nativeTestSkip } from '../libs/engine/native/native-availability.js';
import { buildModel, resolveModelConfig } from '../libs/models/index.js';
import { collectParameters, createSgd, createTrainingStep, getMethod, readLosses } from '../libs/training/index.js';
import { relativeError } from '../libs/engine/kernel-check.fixture.js';

const INPUT: [number, number, number] = [16, 16, 3];

/** One D2R training step from fixed seeds; returns every parameter after the update and the loss. */
async function d2rStep(steps = 1): Promise<{ params: Float32Array; loss: number }> {
  const models = {
    target: buildModel(resolveModelConfig({ arch: 'wide-resnet', depth: 10, widenFactor: 1, inputShape: INPUT, numClasses: 10, seed: 1 } as never)),
    guidance: buildModel(resolveModelConfig({ arch: 'small-cnn', dropout: 0, inputShape: INPUT, numClasses: 10, seed: 2 } as never)),
  };
  const { variables, names } = collectParameters(models);
  const optimizer = createSgd(variables, {}, names);
  const step = createTrainingStep({ method: getMethod('d2r'), models, optimizer, weights: { beta: 6, lambda: 6 }, numClasses: 10 });
  const labels = Int32Array.from({ length: 8 }, (_, i) => i % 10);
  const x = tf.randomUniform([8, ...INPUT], 0, 1, 'float32', 11) as tf.Tensor4D;
  const y = tf.tensor1d(labels, 'int32');
  try {
    let loss = 0;
    for (let i = 0; i < steps; i++) [loss] = await readLosses([(await step(x, y, labels, { eps: 0.031, alpha: 0.007, steps: 10, seed: 3, lr: 0.05 })).loss]);
    const params = tf.tidy(() => tf.concat(variables.map((v) => tf.reshape(v, [-1]))).dataSync() as Float32Array);
    return { params, loss };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose?.();
    models.target.dispose();
    models.guidance.dispose();
  }
}

describe('native engine on whole steps', { skip: nativeTestSkip() }, () => {
  let wasm: { params: Float32Array; loss: number };

  before(async () => {
    assertNativeLoaded();
    await initEngine('wasm');
    wasm = await d2rStep(2);
    await initEngine('native');
  });

  it('runs a D2R step (CAG-10, BatchNorm target) as the wasm engine does, within float tolerance', async () => {
    const native = await d2rStep(2);
    assert.equal(native.params.length, wasm.params.length);
    assert.ok(Math.abs(native.loss - wasm.loss) <= 1e-3 * Math.max(1, Math.abs(wasm.loss)), `loss ${native.loss} vs wasm ${wasm.loss}`);
    const err = relativeError(native.params, wasm.params);
    assert.ok(err < 1e-3, `parameters after two steps: relative error ${err}`);
  });

  it('gives the same model from the same seed (same machine, same thread count)', async () => {
    const a = await d2rStep(1);
    const b = await d2rStep(1);
    assert.equal(a.loss, b.loss);
    assert.deepEqual(a.params, b.params);
  });

  it('leaks no tensors, wasm buffers or native primitives over 100 training and input-gradient steps', async () => {
    const load = loadNative();
    assert.ok(load.ok);
    const model = buildModel(resolveModelConfig({ arch: 'wide-resnet', depth: 10, widenFactor: 1, inputShape: [8, 8, 3], numClasses: 10, seed: 3 } as never));
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 10) as tf.Tensor2D;
    const optimizer = tf.train.momentum(0.01, 0.9);
    const loss = (xi: tf.Tensor4D, training: boolean) => tf.losses.softmaxCrossEntropy(y, model.apply(xi, { training }) as tf.Tensor2D) as tf.Scalar;
    const inputGrad = tf.grad((xi: tf.Tensor) => loss(xi as tf.Tensor4D, false));
    const step = () => {
      optimizer.minimize(() => loss(x, true));
      inputGrad(x).dispose();
    };
    step();
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = { tensors: tf.memory().numTensors, dataIds: backend.numDataIds(), primitives: load.addon.cachedPrimitives() };
    for (let i = 0; i < 100; i++) step();
    assert.equal(tf.memory().numTensors, before.tensors, 'tensor count after 100 steps');
    assert.equal(backend.numDataIds(), before.dataIds, 'wasm buffers after 100 steps');
    assert.equal(load.addon.cachedPrimitives(), before.primitives, 'cached oneDNN primitives after 100 steps');
    assert.ok(before.primitives > 0, 'the steps ran oneDNN kernels');
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});
