/**
 * SeededDropout (dropout-layer.ts): inside `withDropoutSeed` the masks are a function of the seed
 * (the same again in a rerun, fresh for every draw), outside it the layer is tfjs's own, and it is
 * what loading a model.json builds.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, tfl } from '../engine/index.js';
import { dropout, SeededDropout, withDropoutSeed } from './dropout-layer.js';
import { modelFromBytes, modelToBytes } from './index.js';

describe('SeededDropout', () => {
  before(async () => {
    await initEngine('wasm');
  });

  const layer = dropout({ rate: 0.5 });
  let x: tf.Tensor;
  const train = () => {
    x ??= tf.ones([4, 1000]);
    return Float32Array.from((layer.apply(x, { training: true }) as tf.Tensor).dataSync());
  };

  it('draws masks from the seed: the same in a rerun, a fresh one for every draw', async () => {
    const [a1, a2] = await withDropoutSeed(7, () => [train(), train()]);
    const [b1, b2] = await withDropoutSeed(7, () => [train(), train()]);
    assert.deepEqual(b1, a1);
    assert.deepEqual(b2, a2);
    assert.notDeepEqual(a2, a1, 'the second draw of a step has its own mask');
    const [c1] = await withDropoutSeed(8, () => [train()]);
    assert.notDeepEqual(c1, a1, 'another seed, another mask');
    // Inverted dropout: zeros at about the rate, survivors scaled by 1 / (1 − rate).
    const zeros = a1.filter((v) => v === 0).length / a1.length;
    assert.ok(zeros > 0.45 && zeros < 0.55, `${zeros} of the values dropped`);
    assert.ok(a1.every((v) => v === 0 || Math.abs(v - 2) < 1e-6));
  });

  it('is the stock layer outside a seed scope and in inference', async () => {
    assert.notDeepEqual(train(), train(), 'unseeded: a new random mask each call');
    const inference = await withDropoutSeed(1, () => (layer.apply(tf.ones([2, 10]), { training: false }) as tf.Tensor).dataSync());
    assert.ok(inference.every((v) => v === 1));
    // Nested scopes restore the outer one.
    await withDropoutSeed(3, async () => {
      const first = train();
      await withDropoutSeed(4, () => train());
      const [again] = await withDropoutSeed(3, () => [train()]);
      assert.deepEqual(again, first);
    });
  });

  it('saves as a plain Dropout and loads back as this layer', async () => {
    const input = tfl.input({ shape: [6] });
    const out = tfl.layers.dense({ units: 2 }).apply(dropout({ rate: 0.25 }).apply(input)) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: out });
    const bytes = await modelToBytes(model);
    assert.match(bytes.modelJson, /"class_name":"Dropout"/);
    const loaded = await modelFromBytes(bytes);
    assert.ok(loaded.layers.some((l) => l instanceof SeededDropout));
    model.dispose();
    loaded.dispose();
  });
});
