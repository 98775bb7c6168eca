import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf } from '../engine/index.js';
import { createSgd, TrainingError } from './index.js';

const values = (v: tf.Tensor) => Array.from(v.dataSync());
const near = (actual: number[], expected: number[], what: string) =>
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < 1e-6, `${what}[${i}]: ${a} vs ${expected[i]}`));

describe('createSgd', () => {
  before(async () => {
    await initEngine('wasm');
  });

  it("matches PyTorch's SGD update (d_p = g + wd·w; buf = μ·buf + d_p; w −= lr·buf) on a hand example", () => {
    const w = tf.variable(tf.tensor1d([1, -2]));
    const frozen = tf.variable(tf.tensor1d([3]));
    const sgd = createSgd([w, frozen], { momentum: 0.9, weightDecay: 0.01 });
    // step 1: d_p = [0.5 + 0.01, 0.1 − 0.02] = [0.51, 0.08] = buf; w = [1 − 0.051, −2 − 0.008]
    tf.tidy(() => sgd.step([tf.tensor1d([0.5, 0.1]), undefined], 0.1));
    near(values(w), [0.949, -2.008], 'w after step 1');
    // step 2: d_p = [−0.2 + 0.00949, 0.3 − 0.02008]; buf = 0.9·[0.51, 0.08] + d_p = [0.26849, 0.35192]
    tf.tidy(() => sgd.step([tf.tensor1d([-0.2, 0.3]), undefined], 0.1));
    near(values(w), [0.922151, -2.043192], 'w after step 2');
    // a parameter without a gradient is skipped entirely (no weight decay either), as PyTorch skips grad None
    near(values(frozen), [3], 'parameter without gradient');
    assert.equal(sgd.steps, 2);
    sgd.dispose();
    tf.dispose([w, frozen]);
  });

  it('exports and imports its momentum buffers exactly, so a copy continues identically', async () => {
    const init = [0.3, -0.7, 1.1, 0.05];
    const a = tf.variable(tf.tensor2d(init, [2, 2]));
    const b = tf.variable(tf.tensor2d(init, [2, 2]));
    const grads = [
      [0.1, 0.2, -0.3, 0.4],
      [-0.5, 0.25, 0.125, 0.3],
      [0.7, -0.1, 0.2, -0.6],
    ].map((g) => tf.tensor2d(g, [2, 2]));
    const first = createSgd([a], {}, ['layer/kernel']);
    first.step([grads[0]], 0.05);
    const second = createSgd([b], {}, ['layer/kernel']);
    b.assign(a);
    const state = await first.exportState();
    assert.deepEqual(state.buffers.map((x) => [x.name, x.shape]), [['layer/kernel', [2, 2]]]);
    second.importState(state);
    for (const g of grads.slice(1)) {
      first.step([g], 0.05);
      second.step([g], 0.05);
    }
    assert.deepEqual(values(b), values(a));
    assert.equal(second.steps, 3);
    const other = createSgd([tf.variable(tf.zeros([3]))], {}, ['layer/kernel']);
    assert.throws(() => other.importState(state), (e: unknown) => TrainingError.is(e, 'corrupt') && /\[2, 2\]/.test((e as Error).message));
    [first, second, other].forEach((o) => o.dispose());
    tf.dispose([a, b, ...grads]);
  });

  it('creates and disposes its buffers without leaking tensors', () => {
    const v = tf.variable(tf.zeros([3]));
    const before = tf.memory().numTensors;
    createSgd([v]).dispose();
    assert.equal(tf.memory().numTensors, before);
    v.dispose();
  });

  it('rejects bad settings naming the field', () => {
    const v = tf.variable(tf.zeros([1]));
    assert.throws(() => createSgd([v], { momentum: 1 }), (e: unknown) => TrainingError.is(e, 'invalid-argument') && (e as TrainingError).field === 'momentum');
    assert.throws(() => createSgd([v], { weightDecay: -1 }), (e: unknown) => (e as TrainingError).field === 'weightDecay');
    const sgd = createSgd([v]);
    assert.throws(() => sgd.step([tf.zeros([1])], 0), (e: unknown) => (e as TrainingError).field === 'lr');
    sgd.dispose();
    v.dispose();
  });
});
