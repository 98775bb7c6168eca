import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DataError, DEFAULT_FASHION_MNIST_DIR, loadDataset, parseIdx, readIdxDataset } from './index.js';
import { idxBytes, makeTempDir, testByte, writeIdxPair } from './test-fixtures.js';

const TRAIN = { images: 12, h: 4, w: 5, labels: [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2] };
const TEST = { images: 5, h: 4, w: 5, labels: [2, 2, 1, 0, 1] };

function isData(code: DataError['code'], pattern: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof DataError, `not a DataError: ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
}

test('idx: reads gzipped train and plain test files with exact pixels and labels', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeIdxPair(dir, 'train', TRAIN, true);
    await writeIdxPair(dir, 't10k', TEST, false);
    const train = await loadDataset(`idx:${dir}`);
    assert.equal(train.name, 'idx');
    assert.equal(train.size, 12);
    assert.deepEqual(train.shape, [4, 5, 1]);
    assert.equal(train.numClasses, 3);
    assert.deepEqual([...train.labels], TRAIN.labels);
    for (let i = 0; i < 12; i++) {
      for (let p = 0; p < 20; p++) assert.equal(train.images[i * 20 + p], Math.fround(testByte(i, p) / 255));
    }
    const t = await readIdxDataset(dir, { split: 'test', limit: 3 });
    assert.equal(t.size, 3);
    assert.equal(t.split, 'test');
    assert.deepEqual([...t.labels], [2, 2, 1]);
    assert.equal(t.numClasses, 3, 'class count from the whole label file, not the limited prefix');
    const fm = await loadDataset(`fashion-mnist:${dir}`, { split: 'test' });
    assert.equal(fm.name, 'fashion-mnist');
    assert.equal(fm.numClasses, 10);
    assert.equal(fm.classNames[9], 'Ankle boot');
  } finally {
    await cleanup();
  }
});

test('idx: each bad file gives one clear DataError naming it and the expected format', async () => {
  const { dir, cleanup } = await makeTempDir();
  const images = join(dir, 'train-images-idx3-ubyte');
  const labels = join(dir, 'train-labels-idx1-ubyte');
  try {
    await assert.rejects(readIdxDataset(dir), isData('not-found', /no train images in .*; expected train-images-idx3-ubyte or train-images-idx3-ubyte\.gz/));
    await writeIdxPair(dir, 'train', TRAIN, false);

    const good = idxBytes([12, 4, 5], new Uint8Array(240));
    const bad = Buffer.from(good);
    bad[0] = 0x1f;
    bad[1] = 0x00;
    await writeFile(images, bad);
    await assert.rejects(readIdxDataset(dir), isData('bad-format', /train-images-idx3-ubyte starts with 0x1f 0x00 instead of the IDX magic 00 00/));

    const float = Buffer.from(good);
    float[2] = 0x0d;
    await writeFile(images, float);
    await assert.rejects(readIdxDataset(dir), isData('bad-format', /data type 0x0d \(float\); only 0x08/));

    await writeFile(images, good.subarray(0, good.length - 1));
    await assert.rejects(readIdxDataset(dir), isData('bad-format', /has 255 bytes; its header \[12, 4, 5\] needs 16 \+ 240 = 256/));

    await writeFile(images, idxBytes([12, 20], new Uint8Array(240)));
    await assert.rejects(readIdxDataset(dir), isData('bad-format', /has 2 dimensions; expected an IDX file/));

    await writeFile(images, idxBytes([11, 4, 5], new Uint8Array(220)));
    await assert.rejects(readIdxDataset(dir), isData('bad-format', /has 12 labels but .* has 11 images/));

    await writeFile(images, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not gzip at all')]));
    await assert.rejects(readIdxDataset(dir), isData('bad-format', /gzip magic 1f 8b but does not decompress/));

    await writeFile(images, gzipSync(good));
    await writeFile(labels, idxBytes([12], new Uint8Array(12).fill(11)));
    await assert.rejects(loadDataset(`fashion-mnist:${dir}`), isData('bad-format', /has label 11; expected labels in \[0, 10\)/));

    await rm(labels);
    await assert.rejects(readIdxDataset(dir), (e: unknown) => e instanceof DataError && e.code === 'not-found' && e.file === labels);
  } finally {
    await cleanup();
  }
});

test('parseIdx reads the header and returns a view of the data', () => {
  const buf = idxBytes([2, 3], Uint8Array.of(1, 2, 3, 4, 5, 6));
  const parsed = parseIdx(buf, 'mem', 2);
  assert.deepEqual(parsed.dims, [2, 3]);
  assert.deepEqual([...parsed.data], [1, 2, 3, 4, 5, 6]);
});

test('fashion-mnist: the Debian dataset files, when installed', { skip: !existsSync(DEFAULT_FASHION_MNIST_DIR) && 'dataset-fashion-mnist not installed' }, async () => {
  const ds = await loadDataset('fashion-mnist', { split: 'test', limit: 500 });
  assert.equal(ds.size, 500);
  assert.deepEqual(ds.shape, [28, 28, 1]);
  assert.equal(ds.numClasses, 10);
  assert.equal(new Set(ds.labels).size, 10);
  assert.ok(ds.images.every((v) => v >= 0 && v <= 1));
});
