/**
 * Tiny ImageNet (`tiny-imagenet-200/`): 200 classes, 64×64×3 JPEGs.
 *
 * Layout: `wnids.txt` (one WordNet id per line), `words.txt` (optional; `wnid<TAB>names`),
 * `train/<wnid>/images/*.JPEG` (500 per class), `val/images/*.JPEG` with
 * `val/val_annotations.txt` (`file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1`). The `test/` folder has no
 * labels, so split `test` reads `val/`.
 *
 * Class index = position of the wnid in sorted order (what torchvision's ImageFolder uses).
 * Class names: the first synonym in `words.txt`, else the wnid.
 * Order: train is a fixed seeded permutation ({@link TINY_IMAGENET_ORDER_SEED}) of the sorted
 * (wnid, file) list, since its folders are grouped by class; val keeps the annotation file's
 * order (already mixed). `limit: N` takes the first N and decodes only those JPEGs.
 * JPEGs are decoded with jpeg-js; grayscale (and CMYK) ones come out as 3 RGB channels.
 */
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import { DataError } from './errors.js';
import { createDataset, type Dataset, type ReadOptions } from './dataset.js';
import { BYTE_TO_UNIT, checkAborted, checkLimit, findDataDir, readFileOrFail, readOptionalLines } from './io.js';
import { createRng } from './rng.js';

export const TINY_IMAGENET_SHAPE = [64, 64, 3] as const;
/** Seed of the fixed order of the train split. */
export const TINY_IMAGENET_ORDER_SEED = 200;

const READER = 'tiny-imagenet';
const SIDE = 64;
const PIXEL_VALUES = SIDE * SIDE * 3;
/** JPEGs read from disk concurrently. */
const READ_AHEAD = 32;

interface Entry {
  file: string;
  label: number;
}

async function listJpegs(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    throw new DataError('not-found', `${READER}: cannot list ${folder}; expected a folder of .JPEG images`, { cause: err, file: folder });
  }
  return names.filter((n) => /\.jpe?g$/i.test(n)).sort();
}

async function trainEntries(base: string, wnids: readonly string[]): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (let label = 0; label < wnids.length; label++) {
    const folder = join(base, 'train', wnids[label], 'images');
    for (const name of await listJpegs(folder)) entries.push({ file: join(folder, name), label });
  }
  return createRng(TINY_IMAGENET_ORDER_SEED).shuffle(entries);
}

async function valEntries(base: string, index: ReadonlyMap<string, number>): Promise<Entry[]> {
  const annotations = join(base, 'val', 'val_annotations.txt');
  const expected = 'val_annotations.txt lines "file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1"';
  const lines = await readOptionalLines(annotations, READER);
  if (lines === undefined) {
    throw new DataError('not-found', `${READER}: ${annotations} does not exist; expected ${expected}`, { file: annotations });
  }
  return lines.map((line, i) => {
    const [file, wnid] = line.split('\t');
    const label = wnid === undefined ? undefined : index.get(wnid);
    if (!file || label === undefined) {
      throw new DataError(
        'bad-format',
        `${READER}: ${annotations} line ${i + 1} ${wnid === undefined ? 'has no tab-separated wnid' : `names wnid "${wnid}", which is not in wnids.txt`}; expected ${expected}`,
        { file: annotations },
      );
    }
    return { file: join(base, 'val', 'images', file), label };
  });
}

/** Decodes one Tiny ImageNet JPEG into `out` (64·64·3 values in [0, 1], HWC). */
function decodeInto(buf: Uint8Array, file: string, out: Float32Array): void {
  let image: { width: number; height: number; data: Uint8Array };
  try {
    image = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 64 });
  } catch (err) {
    throw new DataError('bad-format', `${READER}: ${file} is not a decodable JPEG (${(err as Error).message}); expected a 64×64 JPEG`, {
      cause: err,
      file,
    });
  }
  if (image.width !== SIDE || image.height !== SIDE) {
    throw new DataError('bad-format', `${READER}: ${file} is ${image.width}×${image.height}; expected 64×64 (Tiny ImageNet)`, { file });
  }
  const data = image.data;
  for (let i = 0; i < PIXEL_VALUES; i++) out[i] = BYTE_TO_UNIT[data[i]];
}

/** Reads Tiny ImageNet from `dir` or `dir/tiny-imagenet-200`. */
export async function readTinyImagenet(dir: string, options: ReadOptions = {}): Promise<Dataset> {
  const { split = 'train', limit, signal } = options;
  checkLimit(limit, READER);
  const root = resolve(dir);
  const base = await findDataDir(root, 'wnids.txt', ['tiny-imagenet-200']);
  if (base === undefined) {
    throw new DataError(
      'not-found',
      `${READER}: ${join(root, 'wnids.txt')} does not exist (nor under tiny-imagenet-200/); expected the Tiny ImageNet folder layout (wnids.txt, train/<wnid>/images/*.JPEG, val/)`,
      { file: join(root, 'wnids.txt') },
    );
  }
  const wnidsFile = join(base, 'wnids.txt');
  const wnids = [...new Set((await readOptionalLines(wnidsFile, READER)) ?? [])].sort();
  if (wnids.length === 0) {
    throw new DataError('bad-format', `${READER}: ${wnidsFile} lists no classes; expected one WordNet id per line`, { file: wnidsFile });
  }
  const index = new Map(wnids.map((w, i) => [w, i]));
  const words = new Map<string, string>();
  for (const line of (await readOptionalLines(join(base, 'words.txt'), READER)) ?? []) {
    const [wnid, names] = line.split('\t');
    if (wnid && names && index.has(wnid)) words.set(wnid, names.split(',')[0].trim());
  }
  const classNames = wnids.map((w) => words.get(w) ?? w);

  const all = split === 'train' ? await trainEntries(base, wnids) : await valEntries(base, index);
  const entries = limit === undefined ? all : all.slice(0, limit);
  const images = new Float32Array(entries.length * PIXEL_VALUES);
  const labels = new Int32Array(entries.length);
  for (let start = 0; start < entries.length; start += READ_AHEAD) {
    checkAborted(signal);
    const chunk = entries.slice(start, start + READ_AHEAD);
    const bufs = await Promise.all(chunk.map((e) => readFileOrFail(e.file, READER, 'a 64×64 JPEG')));
    chunk.forEach((e, k) => {
      const i = start + k;
      decodeInto(bufs[k], e.file, images.subarray(i * PIXEL_VALUES, (i + 1) * PIXEL_VALUES));
      labels[i] = e.label;
    });
  }
  return createDataset({
    name: READER,
    split,
    source: base,
    shape: TINY_IMAGENET_SHAPE,
    numClasses: wnids.length,
    classNames,
    images,
    labels,
  });
}
