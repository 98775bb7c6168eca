import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classCounts, DataError, loadDataset, mnistDigitsDir, readMnist } from './index.js';
import { parseDigitJson } from './mnist.js';
import { makeTempDir } from './test-fixtures.js';

/** Images per digit in the mnist 1.1.0 package. */
const PACKAGE_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

test('the byte scanner reads the package files exactly as JSON.parse does', async () => {
  const file = join(mnistDigitsDir(), '7.json');
  const buf = await readFile(file);
  const fast = parseDigitJson(buf, file);
  const reference = Float32Array.from(JSON.parse(buf.toString('utf8')).data as number[]);
  assert.equal(fast.length, reference.length);
  assert.deepEqual(fast, reference);
});

test('mnist: 8,000 train / 2,000 test, 28×28×1, 10 classes, pixels in [0, 1]', async () => {
  const train = await readMnist({ split: 'train' });
  const testSplit = await readMnist({ split: 'test' });
  assert.equal(train.size, 8000);
  assert.equal(testSplit.size, 2000);
  for (const ds of [train, testSplit]) {
    assert.deepEqual(ds.shape, [28, 28, 1]);
    assert.equal(ds.numClasses, 10);
    assert.equal(ds.name, 'mnist');
    assert.equal(ds.images.length, ds.size * 784);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.ok(max > 0.99 && max <= 1, `max ${max}`);
  }
  // Stratified: each class splits 80/20, and together the splits hold the whole package.
  const tr = classCounts(train);
  const te = classCounts(testSplit);
  PACKAGE_COUNTS.forEach((count, d) => {
    assert.equal(tr[d] + te[d], count);
    assert.equal(te[d], Math.round(count * 0.2));
  });
});

test('mnist: the split and its order are deterministic, and limit takes a mixed prefix', async () => {
  const a = await readMnist({ split: 'test' });
  const b = await loadDataset('mnist', { split: 'test', limit: 100 });
  assert.equal(b.size, 100);
  assert.deepEqual(b.labels, a.labels.subarray(0, 100));
  assert.deepEqual(b.images, a.images.subarray(0, 100 * 784));
  assert.ok(new Set(b.labels).size === 10, 'the first 100 are mixed, not one class');
  // Train and test are disjoint: no test image appears in train.
  const train = await readMnist();
  const key = (img: Float32Array) => Buffer.from(img.buffer, img.byteOffset, img.byteLength).toString('base64');
  const trainKeys = new Set<string>();
  for (let i = 0; i < train.size; i++) trainKeys.add(key(train.images.subarray(i * 784, (i + 1) * 784)));
  let shared = 0;
  for (let i = 0; i < 100; i++) if (trainKeys.has(key(a.images.subarray(i * 784, (i + 1) * 784)))) shared++;
  assert.ok(shared <= 1, `${shared} of 100 test images also in train`); // MNIST has a few exact duplicates at most
});

test('mnist: a malformed or missing digit file is one clear DataError naming it', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await assert.rejects(readMnist({ digitsDir: dir }), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.code, 'not-found');
      assert.match(e.message, /0\.json does not exist/);
      return true;
    });
    await writeFile(join(dir, '0.json'), '{"data": [0, 0.5, 1]}');
    await assert.rejects(readMnist({ digitsDir: dir }), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.code, 'bad-format');
      assert.equal(e.file, join(dir, '0.json'));
      assert.match(e.message, /has 3 values; expected a positive multiple of 784/);
      return true;
    });
    await writeFile(join(dir, '0.json'), '{"data": [0, "x"]}');
    await assert.rejects(readMnist({ digitsDir: dir }), /unexpected character/);
    await writeFile(join(dir, '0.json'), '{"data": [0, 1.5]}');
    await assert.rejects(readMnist({ digitsDir: dir }), /value 1\.5 above 1/);
  } finally {
    await cleanup();
  }
});
