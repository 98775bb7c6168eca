import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createDataset, imageAt } from '../data/index.js';
import { initEngine } from '../engine/index.js';
import { resolveTrainConfig, splitHeldOut, TrainingError } from './index.js';
import { prototypeDataset, tinyModel } from './testing.fixture.js';

describe('the per-epoch check holds out a slice of the training split', () => {
  before(async () => {
    await initEngine('wasm');
  });

  it('disjoint from the images trained on, the same slice every run, limit counts the images trained on', () => {
    const data = prototypeDataset(120, { seed: 3 });
    // Tag each image by its index so the two sides can be compared.
    data.images.forEach((_, j) => {
      if (j % 64 === 0) data.images[j] = j / 64 / 1000;
    });
    const tag = (d: typeof data, i: number) => Math.round(imageAt(d, i)[0] * 1000);
    const a = splitHeldOut(data, 30, 80);
    assert.equal(a.heldOut!.size, 30);
    assert.equal(a.train.size, 80);
    const held = new Set(Array.from({ length: 30 }, (_, i) => tag(a.heldOut!, i)));
    const trained = Array.from({ length: 80 }, (_, i) => tag(a.train, i));
    assert.equal(held.size, 30, 'no repeats');
    assert.ok(trained.every((t) => !held.has(t)), 'no held-out image is trained on');
    assert.deepEqual(trained, [...trained].sort((p, q) => p - q), 'training images keep their order');
    const b = splitHeldOut(data, 30, 80);
    assert.deepEqual(Array.from(b.heldOut!.labels), Array.from(a.heldOut!.labels));
    assert.deepEqual(Array.from(b.heldOut!.images), Array.from(a.heldOut!.images));
    const all = splitHeldOut(data, 30);
    assert.equal(all.train.size, 90, 'without a limit, everything not held out is trained on');
    assert.equal(splitHeldOut(data, 0, 50).heldOut, undefined);
    assert.equal(splitHeldOut(data, 0, 50).train.size, 50);
  });

  it('refuses the test split and a slice that leaves nothing to train on', () => {
    const data = prototypeDataset(20, { seed: 1 });
    const test = createDataset({ ...data, split: 'test', source: 'test' });
    assert.throws(() => splitHeldOut(test, 5), (e: unknown) => TrainingError.is(e, 'invalid-argument') && e.field === 'heldOut');
    assert.throws(() => splitHeldOut(data, 20), (e: unknown) => TrainingError.is(e, 'invalid-argument') && e.field === 'evalSize' && /none of the 20/.test(e.message));
  });

  it('the trainer refuses a test-split held-out set: no test image chooses the best checkpoint', () => {
    const train = prototypeDataset(16, { seed: 1 });
    const test = createDataset({ ...prototypeDataset(8, { seed: 2 }), split: 'test', source: 'test' });
    const target = tinyModel({ seed: 1 });
    assert.throws(
      () => resolveTrainConfig({ method: 'standard', target, train, heldOut: test, epochs: 1, batchSize: 8, eps: 0.1 }),
      (e: unknown) => TrainingError.is(e, 'invalid-argument') && e.field === 'heldOut' && /test split/.test(e.message),
    );
    target.dispose();
  });
});
