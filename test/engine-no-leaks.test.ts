/**
 * The engine, the project's wasm gradient kernels and a real model together: 100 training steps
 * and 100 input-gradient steps leave the tensor count (and the backend's buffer count) unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initEngine, tf } from '../libs/engine/index.js';
import { buildModel, resolveModelConfig } from '../libs/models/index.js';

describe('no tensor leaks on wasm', () => {
  it('keeps the tensor count constant across 100 training and 100 input-gradient steps of the reference CNN', async () => {
    await initEngine('wasm');
    const model = buildModel(resolveModelConfig({ arch: 'ref-cnn', inputShape: [12, 12, 3], numClasses: 10, seed: 3 }));
    const x = tf.randomUniform([8, 12, 12, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10) as tf.Tensor2D;
    const optimizer = tf.train.momentum(0.01, 0.9);
    const loss = (xi: tf.Tensor4D, training: boolean) =>
      tf.losses.softmaxCrossEntropy(y, model.apply(xi, { training }) as tf.Tensor2D) as tf.Scalar;
    const inputGrad = tf.grad((xi: tf.Tensor) => loss(xi as tf.Tensor4D, false));
    const step = () => {
      optimizer.minimize(() => loss(x, true));
      inputGrad(x).dispose();
    };
    step(); // the optimizer creates its momentum slots on the first step
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const before = { tensors: tf.memory().numTensors, dataIds: backend.numDataIds() };
    let first = 0;
    for (let i = 0; i < 100; i++) {
      step();
      if (i === 0) first = tf.memory().numTensors;
    }
    assert.equal(first, before.tensors);
    assert.equal(tf.memory().numTensors, before.tensors, 'tensor count after 100 steps');
    assert.equal(backend.numDataIds(), before.dataIds, 'wasm buffers after 100 steps');
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});
