import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError, imageAt, loadDataset, readTinyImagenet, type Dataset } from './index.js';
import { grayJpeg, makeTempDir, solidJpeg, writeText } from './test-fixtures.js';

// wnids.txt lists them unsorted; class index is the sorted position.
const WNIDS = ['n03000000', 'n01000000', 'n02000000'];
const COLORS: Record<string, [number, number, number]> = {
  n01000000: [250, 10, 10],
  n02000000: [10, 250, 10],
  n03000000: [10, 10, 250],
};

async function writeTiny(root: string): Promise<void> {
  await writeText(join(root, 'wnids.txt'), `${WNIDS.join('\n')}\n`);
  await writeText(join(root, 'words.txt'), 'n01000000\tred thing, scarlet\nn02000000\tgreen thing\nn09999999\tunused\n');
  for (const wnid of WNIDS) {
    const [r, g, b] = COLORS[wnid];
    for (let i = 0; i < 2; i++) await writeText(join(root, 'train', wnid, 'images', `${wnid}_${i}.JPEG`), solidJpeg(r, g, b));
    await writeText(join(root, 'train', wnid, `${wnid}_boxes.txt`), `${wnid}_0.JPEG\t0\t0\t63\t63\n`);
  }
  // A grayscale (one-component) JPEG among the train images: left half 40, right half 200.
  await writeText(join(root, 'train', 'n02000000', 'images', 'n02000000_gray.JPEG'), grayJpeg(64, 64, (_, bx) => (bx < 4 ? 40 : 200)));
  await writeText(join(root, 'val', 'images', 'val_0.JPEG'), solidJpeg(...COLORS.n03000000));
  await writeText(join(root, 'val', 'images', 'val_1.JPEG'), solidJpeg(...COLORS.n01000000));
  await writeText(join(root, 'val', 'images', 'val_2.JPEG'), solidJpeg(...COLORS.n02000000));
  await writeText(
    join(root, 'val', 'val_annotations.txt'),
    'val_0.JPEG\tn03000000\t0\t0\t63\t63\nval_1.JPEG\tn01000000\t1\t2\t60\t61\nval_2.JPEG\tn02000000\t5\t5\t50\t50\n',
  );
}

function meanColor(ds: Dataset, i: number): number[] {
  const img = imageAt(ds, i);
  const sums = [0, 0, 0];
  for (let p = 0; p < 64 * 64; p++) for (let c = 0; c < 3; c++) sums[c] += img[3 * p + c];
  return sums.map((s) => (s / (64 * 64)) * 255);
}

function assertColor(ds: Dataset, i: number, rgb: readonly number[]): void {
  meanColor(ds, i).forEach((v, c) => assert.ok(Math.abs(v - rgb[c]) < 4, `example ${i} channel ${c}: ${v} vs ${rgb[c]}`));
}

test('tiny-imagenet: reads train (mixed order) and val with sorted wnids and words.txt names', async () => {
  const { dir, cleanup } = await makeTempDir();
  try {
    const root = join(dir, 'tiny-imagenet-200');
    await writeTiny(root);
    const train = await loadDataset(`tiny-imagenet:${dir}`);
    assert.equal(train.size, 7);
    assert.deepEqual(train.shape, [64, 64, 3]);
    assert.equal(train.numClasses, 3);
    assert.deepEqual(train.classNames, ['red thing', 'green thing', 'n03000000']);
    assert.deepEqual([...train.labels].sort(), [0, 0, 1, 1, 1, 2, 2]);
    const sorted = [...WNIDS].sort();
    for (let i = 0; i < train.size; i++) {
      assert.ok(train.images.subarray(i * 12288, (i + 1) * 12288).every((v) => v >= 0 && v <= 1));
    }
    let sawGray = false;
    for (let i = 0; i < train.size; i++) {
      const label = train.labels[i];
      const img = imageAt(train, i);
      const isGray = img[0] === img[1] && img[1] === img[2] && Math.abs(img[0] * 255 - 40) < 1;
      if (isGray) {
        sawGray = true;
        assert.equal(label, 1);
        const right = (10 * 64 + 50) * 3; // row 10, column 50: the 200 half
        assert.deepEqual([img[right], img[right + 1], img[right + 2]].map((v) => Math.round(v * 255)), [200, 200, 200]);
      } else {
        assertColor(train, i, COLORS[sorted[label]]);
      }
    }
    assert.ok(sawGray, 'the grayscale JPEG decodes to 3 equal channels');
    const again = await readTinyImagenet(root);
    assert.deepEqual(again.labels, train.labels, 'the train order is fixed');
    const limited = await readTinyImagenet(root, { limit: 3 });
    assert.deepEqual(limited.labels, train.labels.subarray(0, 3));

    const val = await readTinyImagenet(root, { split: 'test' });
    assert.equal(val.split, 'test');
    assert.deepEqual([...val.labels], [2, 0, 1]);
    assertColor(val, 0, COLORS.n03000000);
    assertColor(val, 1, COLORS.n01000000);
  } finally {
    await cleanup();
  }
});

test('tiny-imagenet: each bad file gives one clear DataError naming it', async () => {
  const { dir, cleanup } = await makeTempDir();
  const isData = (code: DataError['code'], pattern: RegExp) => (e: unknown) =>
    e instanceof DataError && e.code === code && pattern.test(e.message);
  try {
    await assert.rejects(readTinyImagenet(dir), isData('not-found', /wnids\.txt does not exist .*expected the Tiny ImageNet folder layout/));
    await writeTiny(dir);
    const ann = join(dir, 'val', 'val_annotations.txt');
    await writeFile(ann, 'val_0.JPEG\tn03000000\t0\t0\t63\t63\nval_1.JPEG\tn07777777\t0\t0\t1\t1\n');
    await assert.rejects(readTinyImagenet(dir, { split: 'test' }), isData('bad-format', /val_annotations\.txt line 2 names wnid "n07777777", which is not in wnids\.txt/));
    await rm(ann);
    await assert.rejects(readTinyImagenet(dir, { split: 'test' }), isData('not-found', /val_annotations\.txt does not exist/));

    const bad = join(dir, 'train', 'n01000000', 'images', 'n01000000_0.JPEG');
    await writeFile(bad, solidJpeg(1, 2, 3, 32));
    await assert.rejects(readTinyImagenet(dir), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.file, bad);
      assert.match(e.message, /is 32×32; expected 64×64/);
      return true;
    });
    await writeFile(bad, Buffer.from('not a jpeg'));
    await assert.rejects(readTinyImagenet(dir), isData('bad-format', /n01000000_0\.JPEG is not a decodable JPEG/));
    await rm(join(dir, 'train', 'n02000000'), { recursive: true });
    await assert.rejects(readTinyImagenet(dir), isData('not-found', /cannot list .*n02000000.*images; expected a folder of \.JPEG images/));
  } finally {
    await cleanup();
  }
});
