import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { DataError, DEFAULT_FASHION_MNIST_DIR, formatDatasetSpec, loadDataset, parseDatasetSpec } from './index.js';

test('parseDatasetSpec reads every kind, resolves DIR and round-trips', () => {
  assert.deepEqual(parseDatasetSpec('mnist'), { kind: 'mnist' });
  assert.deepEqual(parseDatasetSpec(' MNIST '), { kind: 'mnist' });
  assert.deepEqual(parseDatasetSpec('fashion-mnist'), { kind: 'fashion-mnist', dir: DEFAULT_FASHION_MNIST_DIR });
  assert.deepEqual(parseDatasetSpec('fashion-mnist:/data/fm'), { kind: 'fashion-mnist', dir: '/data/fm' });
  assert.deepEqual(parseDatasetSpec('idx:rel/dir'), { kind: 'idx', dir: resolve('rel/dir') });
  assert.deepEqual(parseDatasetSpec('cifar10:/d/c10'), { kind: 'cifar10', dir: '/d/c10' });
  assert.deepEqual(parseDatasetSpec('cifar100:/d/c:100'), { kind: 'cifar100', dir: '/d/c:100' });
  assert.deepEqual(parseDatasetSpec('tiny-imagenet:/d/t'), { kind: 'tiny-imagenet', dir: '/d/t' });
  assert.equal(formatDatasetSpec(parseDatasetSpec('cifar10:/d/c10')), 'cifar10:/d/c10');
  assert.equal(formatDatasetSpec(parseDatasetSpec('mnist')), 'mnist');
});

test('bad specs are invalid-spec DataErrors that say what is expected', async () => {
  const cases: [string, RegExp][] = [
    ['imagenet:/x', /unknown dataset "imagenet:\/x"; expected mnist, fashion-mnist\[:DIR\], idx:DIR/],
    ['', /unknown dataset/],
    ['cifar10', /needs a folder: cifar10:DIR/],
    ['tiny-imagenet:', /empty DIR/],
    ['mnist:/x', /takes no DIR; for MNIST IDX files use idx:\/x/],
  ];
  for (const [spec, pattern] of cases) {
    assert.throws(() => parseDatasetSpec(spec), (e: unknown) => e instanceof DataError && e.code === 'invalid-spec' && pattern.test(e.message), spec);
  }
  await assert.rejects(loadDataset({ kind: 'cifar10' }), (e: unknown) => e instanceof DataError && e.code === 'invalid-spec');
  await assert.rejects(loadDataset('mnist', { limit: -1 }), (e: unknown) => e instanceof DataError && e.code === 'invalid-argument');
});
