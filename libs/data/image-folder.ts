/**
 * Image folders (torchvision's `ImageFolder` layout): one subfolder per class, PNG or JPEG files in it.
 *
 * Layout: `DIR/<class>/*.{png,jpg,jpeg}`, used for both splits; or, when `DIR/train/` exists,
 * `DIR/train/<class>/…` for split `train` and `DIR/test/<class>/…` (or `DIR/val/<class>/…`) for
 * split `test`. Class index = position of the folder name in sorted order (what ImageFolder uses;
 * both splits must have the same classes); class names are the folder names, and reports record them.
 *
 * Order: a fixed seeded permutation ({@link IMAGE_FOLDER_ORDER_SEED}) of the sorted (class, file)
 * list, since the folders group images by class: `limit: N` then takes a mix of classes, and decodes
 * only those N files.
 *
 * Pixels: 8-bit PNG (any colour type; 16-bit is scaled) and baseline/progressive JPEG, alpha dropped,
 * values / 255 in [0, 1]. One channel when every image read is grey (R = G = B), else three. Every
 * image must have the same size, unless `size` [height, width] is given: then each is resized to it
 * (bilinear, pixel centres aligned as PIL/torchvision's `Resize` without antialiasing).
 */
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataError } from './errors.js';
import { createDataset, type Dataset, type ReadOptions } from './dataset.js';
import { checkAborted, checkLimit, readFileOrFail } from './io.js';
import { createRng } from './rng.js';

/** Seed of the fixed order of the examples. */
export const IMAGE_FOLDER_ORDER_SEED = 1000;

const READER = 'folder';
const IMAGE = /\.(png|jpe?g)$/i;
/** Files read from disk concurrently. */
const READ_AHEAD = 32;

export interface ImageFolderOptions extends ReadOptions {
  /** Resize every image to [height, width]. @default none: all images must have one size */
  size?: readonly [number, number];
}

interface Entry {
  file: string;
  label: number;
}

/** RGB(A) pixels of one decoded image, 8 bits per channel, `channels` per pixel. */
interface Decoded {
  width: number;
  height: number;
  data: Uint8Array;
  channels: 3 | 4;
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function classFolders(root: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    throw new DataError('not-found', `${READER}: cannot list ${root}; expected one subfolder of PNG/JPEG images per class`, { cause: err, file: root });
  }
  const names = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The folder of a split: `DIR/train`, `DIR/test` (or `DIR/val`) when `DIR/train` exists, else `DIR`. */
async function splitRoot(dir: string, split: 'train' | 'test'): Promise<string> {
  if (!(await isDir(join(dir, 'train')))) return dir;
  if (split === 'train') return join(dir, 'train');
  for (const name of ['test', 'val']) if (await isDir(join(dir, name))) return join(dir, name);
  throw new DataError('not-found', `${READER}: ${dir} has a train/ folder but no test/ or val/ for split test`, { file: dir });
}

function decode(buf: Uint8Array, file: string): Decoded {
  try {
    if (buf[0] === 0x89 && buf[1] === 0x50) {
      const png = PNG.sync.read(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), channels: 4 };
    }
    const image = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 512 });
    return { width: image.width, height: image.height, data: image.data, channels: 3 };
  } catch (err) {
    throw new DataError('bad-format', `${READER}: ${file} is not a decodable PNG or JPEG (${(err as Error).message})`, { cause: err, file });
  }
}

/** Writes `d` as `h`×`w` RGB values in [0, 1] into `out` (bilinear when the size differs). */
function toUnitRgb(d: Decoded, h: number, w: number, out: Float32Array): void {
  const at = (y: number, x: number, c: number) => d.data[(y * d.width + x) * d.channels + c];
  if (d.width === w && d.height === h) {
    for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = at(Math.floor(i / w), i % w, c) / 255;
    return;
  }
  const sy = d.height / h;
  const sx = d.width / w;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), d.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, d.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), d.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, d.width - 1);
      const wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const top = at(y0, x0, c) * (1 - wx) + at(y0, x1, c) * wx;
        const bottom = at(y1, x0, c) * (1 - wx) + at(y1, x1, c) * wx;
        out[(y * w + x) * 3 + c] = (top * (1 - wy) + bottom * wy) / 255;
      }
    }
  }
}

/** Reads an image folder (see the module comment). */
export async function readImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const { split = 'train', limit, signal, size } = options;
  checkLimit(limit, READER);
  if (size !== undefined && !(size.length === 2 && size.every((d) => Number.isInteger(d) && d > 0))) {
    throw new DataError('invalid-argument', `${READER}: size must be [height, width] of positive integers; got [${size.join(', ')}]`);
  }
  const base = resolve(dir);
  const root = await splitRoot(base, split);
  const classes = await classFolders(root);
  if (classes.length === 0) throw new DataError('not-found', `${READER}: ${root} has no class subfolders; expected ${root}/<class>/*.png|jpg`, { file: root });
  if (split === 'test' && root !== base) {
    const trainClasses = await classFolders(join(base, 'train'));
    if (trainClasses.join('\n') !== classes.join('\n')) {
      throw new DataError('bad-format', `${READER}: ${root} has classes ${classes.join(', ')} but ${join(base, 'train')} has ${trainClasses.join(', ')}; both splits need the same class folders`, { file: root });
    }
  }
  const all: Entry[] = [];
  for (const [label, name] of classes.entries()) {
    const files = (await readdir(join(root, name))).filter((f) => IMAGE.test(f)).sort();
    for (const f of files) all.push({ file: join(root, name, f), label });
  }
  if (all.length === 0) throw new DataError('not-found', `${READER}: no PNG or JPEG files under ${root}/<class>/`, { file: root });
  const entries = createRng(IMAGE_FOLDER_ORDER_SEED).shuffle(all).slice(0, limit ?? all.length);

  // Decode everything read (the size of the first image decides when no size is given).
  const decoded: Decoded[] = [];
  for (let start = 0; start < entries.length; start += READ_AHEAD) {
    checkAborted(signal);
    const chunk = entries.slice(start, start + READ_AHEAD);
    const bufs = await Promise.all(chunk.map((e) => readFileOrFail(e.file, READER, 'a PNG or JPEG image')));
    chunk.forEach((e, k) => decoded.push(decode(bufs[k], e.file)));
  }
  const [h, w] = size ?? (decoded.length > 0 ? [decoded[0].height, decoded[0].width] : [1, 1]);
  decoded.forEach((d, i) => {
    if (!size && (d.height !== h || d.width !== w)) {
      throw new DataError('bad-format', `${READER}: ${entries[i].file} is ${d.width}×${d.height} but ${entries[0].file} is ${w}×${h}; give a size (folder:DIR?size=HxW) to resize them`, { file: entries[i].file });
    }
  });
  const rgb = new Float32Array(entries.length * h * w * 3);
  decoded.forEach((d, i) => toUnitRgb(d, h, w, rgb.subarray(i * h * w * 3, (i + 1) * h * w * 3)));
  let grey = true;
  for (let i = 0; grey && i < rgb.length; i += 3) grey = rgb[i] === rgb[i + 1] && rgb[i] === rgb[i + 2];
  const channels = grey ? 1 : 3;
  const images = grey ? rgb.filter((_, i) => i % 3 === 0) : rgb;
  return createDataset({
    name: READER,
    split,
    source: root,
    shape: [h, w, channels],
    numClasses: classes.length,
    classNames: classes,
    images,
    labels: Int32Array.from(entries, (e) => e.label),
  });
}
