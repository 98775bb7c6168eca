import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { initEngine, tf } from '../engine/index.js';
import {
  countBatches,
  createDataset,
  DataError,
  epochOrder,
  forEachBatch,
  iterateBatches,
  iterateTensorBatches,
  type Dataset,
} from './index.js';

before(async () => {
  await initEngine('cpu');
});

/** 23 examples of 4×4×3; every pixel of example i is i / 100, label i % 5. */
function toy(size = 23): Dataset {
  const images = new Float32Array(size * 48);
  for (let i = 0; i < size; i++) images.fill(i / 100, i * 48, (i + 1) * 48);
  return createDataset({
    name: 'toy',
    split: 'train',
    source: 'mem',
    shape: [4, 4, 3],
    numClasses: 5,
    images,
    labels: Int32Array.from({ length: size }, (_, i) => i % 5),
  });
}

test('an epoch visits each example once, in a seeded order per epoch', () => {
  const ds = toy();
  const batches = [...iterateBatches(ds, { batchSize: 5, seed: 3 })];
  assert.equal(batches.length, 5);
  assert.deepEqual(batches.map((b) => b.shape[0]), [5, 5, 5, 5, 3]);
  const seen = batches.flatMap((b) => [...b.indices]);
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 23 }, (_, i) => i));
  assert.notDeepEqual(seen, Array.from({ length: 23 }, (_, i) => i));
  for (const b of batches) {
    b.indices.forEach((i, k) => {
      assert.equal(b.y[k], i % 5);
      assert.equal(b.x[k * 48 + 47], Math.fround(i / 100));
    });
    assert.equal(b.x.buffer.byteLength, b.x.byteLength, 'x owns its buffer (transferable)');
  }
  assert.deepEqual(epochOrder(23, { seed: 3 }), epochOrder(23, { seed: 3, epoch: 0 }));
  assert.notDeepEqual(epochOrder(23, { seed: 3, epoch: 1 }), epochOrder(23, { seed: 3 }));
  assert.notDeepEqual(epochOrder(23, { seed: 4 }), epochOrder(23, { seed: 3 }));
  assert.deepEqual([...epochOrder(4, { shuffle: false })], [0, 1, 2, 3]);
});

test('dropLast, startBatch (resume) and augmentation are deterministic per (seed, epoch, batch)', () => {
  const ds = toy();
  assert.equal(countBatches(23, 5, true), 4);
  assert.deepEqual([...iterateBatches(ds, { batchSize: 5, dropLast: true })].map((b) => b.shape[0]), [5, 5, 5, 5]);
  const opts = { batchSize: 4, seed: 8, epoch: 2, augment: { pad: 2 } };
  const full = [...iterateBatches(ds, opts)];
  const resumed = [...iterateBatches(ds, { ...opts, startBatch: 3 })];
  assert.deepEqual(resumed, full.slice(3));
  assert.deepEqual(full.map((b) => b.batchIndex), [0, 1, 2, 3, 4, 5]);
  // Augmentation zero-pads: some pixels of some images become 0, others keep their value.
  const zeros = full.reduce((n, b) => n + b.x.filter((v) => v === 0).length, 0);
  assert.ok(zeros > 0);
  const plain = [...iterateBatches(ds, { batchSize: 4, seed: 8, epoch: 2 })];
  assert.deepEqual(plain.map((b) => [...b.indices]), full.map((b) => [...b.indices]), 'augmentation does not change the order');
  assert.throws(() => [...iterateBatches(ds, { batchSize: 0 })], DataError);
  assert.throws(() => [...iterateBatches(ds, { batchSize: 4, startBatch: 7 })], DataError);
  assert.throws(() => [...iterateBatches(ds, { batchSize: 4, augment: { pad: 1.5 } })], DataError);
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  assert.throws(() => [...iterateBatches(ds, { batchSize: 4, signal: controller.signal })], /stop/);
});

test('tensor batches have the right shapes and dtypes, and nothing leaks over many batches', async () => {
  const ds = toy();
  const start = tf.memory().numTensors;
  for (let epoch = 0; epoch < 10; epoch++) {
    for (const { x, y, indices } of iterateTensorBatches(ds, { batchSize: 6, epoch, augment: true })) {
      assert.deepEqual(x.shape, [indices.length, 4, 4, 3]);
      assert.equal(x.dtype, 'float32');
      assert.equal(y.dtype, 'int32');
      assert.deepEqual([...(y.dataSync() as Int32Array)], [...indices].map((i) => i % 5));
      x.dispose();
      y.dispose();
    }
    assert.equal(tf.memory().numTensors, start);
  }
  let batches = 0;
  for (let epoch = 0; epoch < 10; epoch++) {
    batches += await forEachBatch(ds, { batchSize: 4, epoch }, async ({ x }) => {
      tf.tidy(() => tf.mean(x).dataSync());
      await Promise.resolve();
    });
    assert.equal(tf.memory().numTensors, start);
  }
  assert.equal(batches, 60);
  await assert.rejects(
    forEachBatch(ds, { batchSize: 4 }, () => {
      throw new Error('consumer failed');
    }),
    /consumer failed/,
  );
  assert.equal(tf.memory().numTensors, start, 'a throwing consumer still gets its batch disposed');
  // Breaking out of the iterator early leaks nothing either.
  for (const { x, y } of iterateTensorBatches(ds, { batchSize: 4 })) {
    x.dispose();
    y.dispose();
    break;
  }
  assert.equal(tf.memory().numTensors, start);
});
