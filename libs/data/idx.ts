/**
 * IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/), gzipped or
 * not (detected by the gzip magic bytes 1f 8b, whatever the file name).
 *
 * An IDX file is: two zero bytes, a type byte (0x08 = unsigned byte, the only type image and
 * label files use), a dimension count, then each dimension as a big-endian uint32, then the data
 * in row-major order. Images are `[N, H, W]` (or `[N, H, W, C]`), labels `[N]`.
 *
 * A folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`, each optionally with `.gz` (the `-idx3-` may also be `.idx3-`).
 * Examples keep file order (Fashion-MNIST's files are already mixed), so `limit: N` is the first N.
 */
import { join, resolve } from 'node:path';
import { DataError } from './errors.js';
import { createDataset, type Dataset, type ReadOptions, type Split } from './dataset.js';
import { BYTE_TO_UNIT, checkAborted, checkLimit, exists, gunzipIfNeeded, readFileOrFail } from './io.js';

/** Debian's `dataset-fashion-mnist` installs the IDX files here. */
export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** A parsed IDX file: its dimensions and its bytes (a view into the file buffer). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const IDX_UBYTE = 0x08;
const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'short',
  0x0c: 'int',
  0x0d: 'float',
  0x0e: 'double',
};

/**
 * Parses an (already decompressed) IDX file of unsigned bytes with `expectedDims` dimensions
 * (one number, or the allowed counts), checking the header and that the size matches exactly.
 */
export function parseIdx(buf: Uint8Array, file: string, expectedDims: number | readonly number[], reader = 'idx'): IdxArray {
  const allowed = typeof expectedDims === 'number' ? [expectedDims] : expectedDims;
  const want = `an IDX file (00 00 08 <ndim>, then ${allowed.join(' or ')} big-endian uint32 dimensions, then the bytes)`;
  const fail = (what: string): never => {
    throw new DataError('bad-format', `${reader}: ${file} ${what}; expected ${want}`, { file });
  };
  if (buf.length < 4) fail(`has ${buf.length} bytes`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    fail(`starts with ${hex(buf[0])} ${hex(buf[1])} instead of the IDX magic 00 00`);
  }
  if (buf[2] !== IDX_UBYTE) {
    fail(`has data type ${hex(buf[2])} (${IDX_TYPE_NAMES[buf[2]] ?? 'unknown'}); only 0x08 (unsigned byte) is supported`);
  }
  const ndim = buf[3];
  if (!allowed.includes(ndim)) fail(`has ${ndim} dimensions`);
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) fail(`has ${buf.length} bytes, fewer than its ${headerBytes}-byte header`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== headerBytes + count) {
    fail(`has ${buf.length} bytes; its header [${dims.join(', ')}] needs ${headerBytes} + ${count} = ${headerBytes + count}`);
  }
  return { dims, data: buf.subarray(headerBytes) };
}

function hex(b: number | undefined): string {
  return b === undefined ? '??' : `0x${b.toString(16).padStart(2, '0')}`;
}

/** The IDX file of one split and kind in `dir`: the first of the usual names that exists. */
async function findIdxFile(dir: string, split: Split, kind: 'images' | 'labels', reader: string): Promise<string> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const n = kind === 'images' ? 3 : 1;
  const names = [`${prefix}-${kind}-idx${n}-ubyte`, `${prefix}-${kind}.idx${n}-ubyte`];
  const candidates = names.flatMap((name) => [name, `${name}.gz`]);
  for (const name of candidates) {
    const file = join(dir, name);
    if (await exists(file)) return file;
  }
  throw new DataError(
    'not-found',
    `${reader}: no ${split} ${kind} in ${dir}; expected ${candidates[0]} or ${candidates[1]} (IDX, gzipped or not)`,
    { file: join(dir, candidates[0]) },
  );
}

async function readIdxFile(file: string, expectedDims: readonly number[], reader: string): Promise<IdxArray> {
  const raw = await readFileOrFail(file, reader, 'an IDX file, gzipped or not');
  return parseIdx(await gunzipIfNeeded(raw, file, reader), file, expectedDims, reader);
}

export interface IdxDatasetOptions extends ReadOptions {
  /** Dataset name in the result. @default 'idx' */
  name?: string;
  /** Class names; also fixes the class count (labels must be below it). @default '0'…'max label' */
  classNames?: readonly string[];
}

/** Reads an IDX image/label pair from `dir` (see the module doc for the file names). */
export async function readIdxDataset(dir: string, options: IdxDatasetOptions = {}): Promise<Dataset> {
  const { split = 'train', limit, signal, name = 'idx', classNames } = options;
  const reader = name;
  checkLimit(limit, reader);
  const root = resolve(dir);
  const imagesFile = await findIdxFile(root, split, 'images', reader);
  const labelsFile = await findIdxFile(root, split, 'labels', reader);
  checkAborted(signal);
  const labelsIdx = await readIdxFile(labelsFile, [1], reader);
  checkAborted(signal);
  const imagesIdx = await readIdxFile(imagesFile, [3, 4], reader);
  const [count, h, w, c = 1] = imagesIdx.dims;
  if (labelsIdx.dims[0] !== count) {
    throw new DataError(
      'bad-format',
      `${reader}: ${labelsFile} has ${labelsIdx.dims[0]} labels but ${imagesFile} has ${count} images; expected the same count`,
      { file: labelsFile },
    );
  }
  if (h === 0 || w === 0 || c === 0) {
    throw new DataError('bad-format', `${reader}: ${imagesFile} has image dimensions [${h}, ${w}, ${c}]; expected positive sizes`, {
      file: imagesFile,
    });
  }
  let maxLabel = 0;
  for (const y of labelsIdx.data) if (y > maxLabel) maxLabel = y;
  const numClasses = classNames?.length ?? maxLabel + 1;
  if (maxLabel >= numClasses) {
    throw new DataError(
      'bad-format',
      `${reader}: ${labelsFile} has label ${maxLabel}; expected labels in [0, ${numClasses}) for ${numClasses} classes`,
      { file: labelsFile },
    );
  }
  const n = limit === undefined ? count : Math.min(limit, count);
  const per = h * w * c;
  const images = new Float32Array(n * per);
  const src = imagesIdx.data;
  for (let i = 0; i < images.length; i++) images[i] = BYTE_TO_UNIT[src[i]];
  const labels = Int32Array.from(labelsIdx.data.subarray(0, n));
  return createDataset({ name, split, source: root, shape: [h, w, c], numClasses, classNames, images, labels });
}

/** Reads Fashion-MNIST (IDX, 60,000 train / 10,000 test, 28×28×1, 10 classes). */
export async function readFashionMnist(dir: string = DEFAULT_FASHION_MNIST_DIR, options: ReadOptions = {}): Promise<Dataset> {
  return readIdxDataset(dir, { ...options, name: 'fashion-mnist', classNames: FASHION_MNIST_CLASSES });
}
