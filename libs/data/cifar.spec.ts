import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CIFAR100_CLASSES, CIFAR10_CLASSES, DataError, loadDataset, readCifar10, readCifar100, type Dataset } from './index.js';
import { cifarRecords, makeTempDir, testByte } from './test-fixtures.js';

/** Checks HWC pixel (y, x, ch) of example k against CHW plane byte of fixture record `record`. */
function assertPixels(ds: Dataset, k: number, record: number): void {
  for (const [y, x] of [[0, 0], [0, 31], [5, 17], [31, 0], [31, 31]]) {
    for (let ch = 0; ch < 3; ch++) {
      const got = ds.images[k * 3072 + (y * 32 + x) * 3 + ch];
      assert.equal(got, Math.fround(testByte(record, ch * 1024 + y * 32 + x) / 255), `example ${k} (${y},${x},${ch})`);
    }
  }
}

async function writeCifar10(dir: string): Promise<void> {
  // 5 train batches of 3 records (record i of batch b is fixture record 3b + i), test of 4.
  for (let b = 0; b < 5; b++) {
    await writeFile(join(dir, `data_batch_${b + 1}.bin`), cifarRecords(3, (i) => [(3 * b + i) % 10], 3 * b));
  }
  await writeFile(join(dir, 'test_batch.bin'), cifarRecords(4, (i) => [9 - i], 100));
  await writeFile(join(dir, 'batches.meta.txt'), `${CIFAR10_CLASSES.map((n) => n.toUpperCase()).join('\n')}\n\n`);
}

test('cifar10: reads every batch in order, CHW planes → HWC, from the folder or its parent', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const bin = join(dir, 'cifar-10-batches-bin');
    await mkdir(bin);
    await writeCifar10(bin);
    const train = await loadDataset(`cifar10:${dir}`);
    assert.equal(train.size, 15);
    assert.deepEqual(train.shape, [32, 32, 3]);
    assert.equal(train.numClasses, 10);
    assert.equal(train.source, bin);
    assert.equal(train.classNames[0], 'AIRPLANE', 'names from batches.meta.txt');
    assert.deepEqual([...train.labels], Array.from({ length: 15 }, (_, i) => i % 10));
    for (const k of [0, 4, 14]) assertPixels(train, k, k);
    const testSplit = await readCifar10(bin, { split: 'test' });
    assert.equal(testSplit.size, 4);
    assert.deepEqual([...testSplit.labels], [9, 8, 7, 6]);
    assertPixels(testSplit, 3, 103);
    const limited = await readCifar10(bin, { limit: 7 });
    assert.equal(limited.size, 7);
    assert.deepEqual(limited.images, train.images.subarray(0, 7 * 3072));
  } finally {
    await cleanup();
  }
});

test('cifar100: fine labels, 100 classes, built-in names when fine_label_names.txt is absent', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await writeFile(join(dir, 'train.bin'), cifarRecords(6, (i) => [i % 20, 90 + i]));
    await writeFile(join(dir, 'test.bin'), cifarRecords(2, (i) => [3, 42 + i], 50));
    const train = await readCifar100(dir);
    assert.equal(train.size, 6);
    assert.equal(train.numClasses, 100);
    assert.deepEqual([...train.labels], [90, 91, 92, 93, 94, 95]);
    assert.equal(train.classNames[99], 'worm');
    assert.equal(CIFAR100_CLASSES.length, 100);
    assertPixels(train, 5, 5);
    const testSplit = await loadDataset(`cifar100:${dir}`, { split: 'test' });
    assert.deepEqual([...testSplit.labels], [42, 43]);
    assertPixels(testSplit, 1, 51);
    await writeFile(join(dir, 'fine_label_names.txt'), 'a\nb\n');
    await assert.rejects(readCifar100(dir), (e: unknown) => e instanceof DataError && /has 2 class names; expected 100/.test(e.message));
  } finally {
    await cleanup();
  }
});

test('cifar: each bad file gives one clear DataError naming it and the expected format', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    await assert.rejects(readCifar10(dir), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.code, 'not-found');
      assert.match(e.message, /data_batch_1\.bin does not exist \(nor under cifar-10-batches-bin\/\); expected the CIFAR binary version's data_batch_1\.bin/);
      return true;
    });
    await writeCifar10(dir);
    const batch1 = join(dir, 'data_batch_1.bin');
    await writeFile(batch1, Buffer.alloc(30001));
    await assert.rejects(readCifar10(dir), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.code, 'bad-format');
      assert.equal(e.file, batch1);
      assert.equal(e.message, `cifar10: ${batch1} has 30001 bytes; expected a multiple of 3073 (1 label byte + 3072 pixel bytes)`);
      return true;
    });
    await writeFile(batch1, cifarRecords(2, () => [10]));
    await assert.rejects(readCifar10(dir), /record 0 has label byte 0 = 10; expected below 10/);
    await writeFile(batch1, cifarRecords(2, () => [1]));
    await rm(join(dir, 'data_batch_3.bin'));
    await assert.rejects(readCifar10(dir, { limit: 1 }), (e: unknown) => e instanceof DataError && e.code === 'not-found' && /data_batch_3\.bin does not exist/.test(e.message));
    await writeFile(join(dir, 'train.bin'), cifarRecords(1, () => [20, 0]));
    await assert.rejects(readCifar100(dir), /record 0 has label byte 0 = 20; expected below 20 \(1 coarse label byte/);
    await writeFile(join(dir, 'test.bin'), Buffer.alloc(3073));
    await assert.rejects(readCifar100(dir, { split: 'test' }), /has 3073 bytes; expected a multiple of 3074 \(1 coarse label byte \+ 1 fine label byte \+ 3072 pixel bytes\)/);
  } finally {
    await cleanup();
  }
});
