import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError, loadDataset, parseDatasetSpec, formatDatasetSpec, readImageFolder } from './index.js';

/** An RGBA PNG of `w`×`h` whose pixel (y, x) is `fill(y, x)` = [r, g, b]. */
function png(w: number, h: number, fill: (y: number, x: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) p.data.set([...fill(y, x), 255], (y * w + x) * 4);
  return PNG.sync.write(p);
}

function folder(files: Record<string, Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'harden-folder-'));
  for (const [path, bytes] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), bytes);
  }
  return dir;
}

describe('folder: (ImageFolder layout)', () => {
  it('labels by sorted class folder, keeps PNG pixels exactly, records the class names', async () => {
    const dir = folder({
      'dog/a.png': png(3, 2, () => [200, 10, 0]),
      'cat/b.png': png(3, 2, (y, x) => [x * 50, y * 100, 7]),
      'ant/c.png': png(3, 2, () => [0, 0, 255]),
      'ant/d.png': png(3, 2, () => [1, 2, 3]),
      'ant/notes.txt': Buffer.from('ignored'),
    });
    const d = await loadDataset(`folder:${dir}`);
    assert.deepEqual(d.classNames, ['ant', 'cat', 'dog']);
    assert.deepEqual(d.shape, [2, 3, 3]);
    assert.equal(d.size, 4);
    const byLabel = (label: number) => [...d.labels.keys()].filter((i) => d.labels[i] === label);
    assert.equal(byLabel(0).length, 2);
    const cat = byLabel(1)[0];
    const px = (i: number, y: number, x: number) => Array.from(d.images.subarray(((i * 2 + y) * 3 + x) * 3, ((i * 2 + y) * 3 + x) * 3 + 3)).map((v) => Math.round(v * 255));
    assert.deepEqual(px(cat, 1, 2), [100, 100, 7]);
    assert.deepEqual(px(byLabel(2)[0], 0, 0), [200, 10, 0]);
  });

  it('reads grey images as one channel, JPEGs too, and train/ + test/ as the two splits', async () => {
    const grey = (v: number) => png(4, 4, () => [v, v, v]);
    const jpg = (v: number) => Buffer.from(jpeg.encode({ width: 4, height: 4, data: Buffer.alloc(64, v) }, 100).data);
    const dir = folder({ 'train/0/a.png': grey(10), 'train/1/b.jpg': jpg(128), 'test/0/c.png': grey(30), 'test/1/d.jpeg': jpg(250) });
    const train = await loadDataset(`folder:${dir}`, { split: 'train' });
    const test = await loadDataset(`folder:${dir}`, { split: 'test' });
    assert.deepEqual(train.shape, [4, 4, 1]);
    assert.deepEqual([train.size, test.size], [2, 2]);
    assert.deepEqual(test.classNames, ['0', '1']);
    const i = test.labels[0] === 0 ? 0 : 1;
    assert.equal(Math.round(test.images[i * 16] * 255), 30);
  });

  it('refuses images of different sizes unless ?size=HxW resizes them (bilinear)', async () => {
    const dir = folder({ 'a/x.png': png(4, 4, () => [60, 60, 60]), 'b/y.png': png(2, 2, (y, x) => [x * 100, x * 100, x * 100]) });
    await assert.rejects(loadDataset(`folder:${dir}`), (e: unknown) => e instanceof DataError && e.code === 'bad-format' && /size=HxW/.test(e.message));
    const d = await loadDataset(`folder:${dir}?size=4x4`);
    assert.deepEqual(d.shape, [4, 4, 1]);
    const b = d.labels[0] === 1 ? 0 : 1;
    // 2 → 4 columns: source x = (x + 0.5)/2 − 0.5 → 0, 0.25, 0.75, 1 → 0, 25, 75, 100.
    assert.deepEqual(Array.from(d.images.subarray(b * 16, b * 16 + 4), (v) => Math.round(v * 255)), [0, 25, 75, 100]);
  });

  it('takes a mix of classes under a limit, and parses and formats its spec', async () => {
    const files: Record<string, Buffer> = {};
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 10; i++) files[`${c}/${i}.png`] = png(2, 2, () => [i, i, i]);
    const d = await readImageFolder(folder(files), { limit: 9 });
    assert.equal(d.size, 9);
    assert.equal(new Set(d.labels).size, 3);
    const spec = parseDatasetSpec('folder:/data/pets?size=64x48');
    assert.deepEqual(spec, { kind: 'folder', dir: '/data/pets', size: [64, 48] });
    assert.equal(formatDatasetSpec(spec), 'folder:/data/pets?size=64x48');
    assert.throws(() => parseDatasetSpec('folder:/data/pets?size=big'), (e: unknown) => e instanceof DataError && e.code === 'invalid-spec');
  });
});
