import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  classCounts,
  createDataset,
  DataError,
  imageAt,
  selectDataset,
  stratifiedSplitIndices,
  takeDataset,
  toSharedDataset,
  type Dataset,
} from './index.js';

function tiny(n = 6): Dataset {
  const images = Float32Array.from({ length: n * 2 * 2 * 1 }, (_, i) => i / 100);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return createDataset({ name: 't', split: 'train', source: 'mem', shape: [2, 2, 1], numClasses: 3, images, labels });
}

test('createDataset fills class names and validates sizes and labels', () => {
  const ds = tiny();
  assert.equal(ds.size, 6);
  assert.deepEqual(ds.classNames, ['0', '1', '2']);
  const bad = (init: Partial<Parameters<typeof createDataset>[0]>) => () =>
    createDataset({ name: 't', split: 'train', source: 'mem', shape: [2, 2, 1], numClasses: 3, images: new Float32Array(8), labels: new Int32Array(2), ...init });
  const isArg = (e: unknown) => e instanceof DataError && e.code === 'invalid-argument';
  assert.throws(bad({ images: new Float32Array(7) }), isArg);
  assert.throws(bad({ labels: Int32Array.of(0, 3) }), isArg);
  assert.throws(bad({ classNames: ['a'] }), isArg);
  assert.throws(bad({ shape: [2, 0, 2] }), isArg);
});

test('takeDataset returns views; selectDataset copies only the chosen examples', () => {
  const ds = tiny();
  const first = takeDataset(ds, 2);
  assert.equal(first.size, 2);
  assert.equal(first.images.buffer, ds.images.buffer);
  assert.equal(first.images.length, 8);
  assert.equal(takeDataset(ds, 100), ds);
  const picked = selectDataset(ds, [4, 1, 4]);
  assert.notEqual(picked.images.buffer, ds.images.buffer);
  assert.equal(picked.images.length, 12);
  assert.deepEqual([...picked.labels], [1, 1, 1]);
  assert.deepEqual([...imageAt(picked, 0)], [...imageAt(ds, 4)]);
  assert.deepEqual([...imageAt(picked, 1)], [...imageAt(ds, 1)]);
  assert.throws(() => selectDataset(ds, [6]), DataError);
  assert.throws(() => takeDataset(ds, -1), DataError);
  assert.deepEqual([...classCounts(ds)], [2, 2, 2]);
});

test('toSharedDataset puts the arrays in SharedArrayBuffers with the same contents', () => {
  const ds = tiny();
  const shared = toSharedDataset(ds);
  assert.ok(shared.images.buffer instanceof SharedArrayBuffer);
  assert.ok(shared.labels.buffer instanceof SharedArrayBuffer);
  assert.deepEqual([...shared.images], [...ds.images]);
});

test('stratifiedSplitIndices is a deterministic, disjoint, per-class split', () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i * 7) % 10);
  const a = stratifiedSplitIndices(labels, 10, 0.2, 1);
  const b = stratifiedSplitIndices(labels, 10, 0.2, 1);
  assert.deepEqual(a, b);
  assert.equal(a.test.length, 200);
  assert.equal(a.train.length, 800);
  const all = new Set([...a.train, ...a.test]);
  assert.equal(all.size, 1000);
  const perClass = new Array(10).fill(0);
  for (const i of a.test) perClass[labels[i]]++;
  assert.deepEqual(perClass, new Array(10).fill(20));
  assert.notDeepEqual([...stratifiedSplitIndices(labels, 10, 0.2, 2).test], [...a.test]);
});
