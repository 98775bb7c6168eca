/**
 * CIFAR-10 and CIFAR-100, binary version (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * CIFAR-10 (`cifar-10-batches-bin/`): `data_batch_1.bin` … `data_batch_5.bin` (train, 50,000) and
 * `test_batch.bin` (10,000); each record is 1 label byte + 3072 pixel bytes: the 32×32 red plane,
 * then green, then blue, each row-major. Class names from `batches.meta.txt` when present.
 *
 * CIFAR-100 (`cifar-100-binary/`): `train.bin` (50,000) and `test.bin` (10,000); each record is a
 * coarse label byte (20 superclasses), a fine label byte (100 classes), then the same 3072 bytes.
 * We use the fine labels. Class names from `fine_label_names.txt` when present.
 *
 * `dir` may be the folder holding the .bin files or its parent. Records keep file order (already
 * mixed), so `limit: N` is the first N, and only the bytes of those N records are read.
 */
import { join, resolve } from 'node:path';
import { DataError } from './errors.js';
import { createDataset, type Dataset, type ReadOptions } from './dataset.js';
import { BYTE_TO_UNIT, checkAborted, checkLimit, findDataDir, readOptionalLines, readRange, statOrFail } from './io.js';

export const CIFAR_SHAPE = [32, 32, 3] as const;
const PIXEL_BYTES = 32 * 32 * 3;
const PLANE = 32 * 32;

export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export const CIFAR100_CLASSES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
] as const;

interface CifarFormat {
  reader: 'cifar10' | 'cifar100';
  /** Label bytes before the pixels of each record. */
  labelBytes: number;
  /** Which label byte is the class. */
  labelOffset: number;
  numClasses: number;
  /** Upper bound of each label byte, for validation (CIFAR-100's coarse byte has 20). */
  labelLimits: number[];
  recordDoc: string;
  trainFiles: string[];
  testFiles: string[];
  archiveFolder: string;
  namesFile: string;
  defaultNames: readonly string[];
}

const CIFAR10: CifarFormat = {
  reader: 'cifar10',
  labelBytes: 1,
  labelOffset: 0,
  numClasses: 10,
  labelLimits: [10],
  recordDoc: '1 label byte + 3072 pixel bytes',
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFiles: ['test_batch.bin'],
  archiveFolder: 'cifar-10-batches-bin',
  namesFile: 'batches.meta.txt',
  defaultNames: CIFAR10_CLASSES,
};

const CIFAR100: CifarFormat = {
  reader: 'cifar100',
  labelBytes: 2,
  labelOffset: 1,
  numClasses: 100,
  labelLimits: [20, 100],
  recordDoc: '1 coarse label byte + 1 fine label byte + 3072 pixel bytes',
  trainFiles: ['train.bin'],
  testFiles: ['test.bin'],
  archiveFolder: 'cifar-100-binary',
  namesFile: 'fine_label_names.txt',
  defaultNames: CIFAR100_CLASSES,
};

async function readCifar(format: CifarFormat, dir: string, options: ReadOptions): Promise<Dataset> {
  const { split = 'train', limit, signal } = options;
  const { reader, labelBytes, labelOffset, labelLimits, numClasses } = format;
  checkLimit(limit, reader);
  const root = resolve(dir);
  const files = split === 'train' ? format.trainFiles : format.testFiles;
  const base = await findDataDir(root, files[0], [format.archiveFolder]);
  if (base === undefined) {
    throw new DataError(
      'not-found',
      `${reader}: ${join(root, files[0])} does not exist (nor under ${format.archiveFolder}/); expected the CIFAR binary version's ${files.join(', ')}`,
      { file: join(root, files[0]) },
    );
  }
  const record = labelBytes + PIXEL_BYTES;
  // Check every file first, so a missing or truncated batch fails before any decoding.
  const sizes: number[] = [];
  for (const name of files) {
    const file = join(base, name);
    const { size } = await statOrFail(file, reader, `a CIFAR binary batch of ${record}-byte records (${format.recordDoc})`);
    if (size === 0 || size % record !== 0) {
      throw new DataError(
        'bad-format',
        `${reader}: ${file} has ${size} bytes; expected a ${size === 0 ? 'non-zero ' : ''}multiple of ${record} (${format.recordDoc})`,
        { file },
      );
    }
    sizes.push(size / record);
  }
  const total = sizes.reduce((a, b) => a + b, 0);
  const n = limit === undefined ? total : Math.min(limit, total);
  const images = new Float32Array(n * PIXEL_BYTES);
  const labels = new Int32Array(n);
  let done = 0;
  for (let f = 0; f < files.length && done < n; f++) {
    checkAborted(signal);
    const file = join(base, files[f]);
    const take = Math.min(sizes[f], n - done);
    const buf = await readRange(file, 0, take * record, reader);
    for (let r = 0; r < take; r++) {
      const at = r * record;
      for (let b = 0; b < labelBytes; b++) {
        if (buf[at + b] >= labelLimits[b]) {
          throw new DataError(
            'bad-format',
            `${reader}: ${file} record ${r} has label byte ${b} = ${buf[at + b]}; expected below ${labelLimits[b]} (${format.recordDoc})`,
            { file },
          );
        }
      }
      labels[done] = buf[at + labelOffset];
      // CHW planes → HWC.
      const px = at + labelBytes;
      const out = done * PIXEL_BYTES;
      for (let p = 0; p < PLANE; p++) {
        images[out + 3 * p] = BYTE_TO_UNIT[buf[px + p]];
        images[out + 3 * p + 1] = BYTE_TO_UNIT[buf[px + PLANE + p]];
        images[out + 3 * p + 2] = BYTE_TO_UNIT[buf[px + 2 * PLANE + p]];
      }
      done++;
    }
  }
  const namesPath = join(base, format.namesFile);
  const names = (await readOptionalLines(namesPath, reader)) ?? format.defaultNames;
  if (names.length !== numClasses) {
    throw new DataError('bad-format', `${reader}: ${namesPath} has ${names.length} class names; expected ${numClasses}, one per line`, {
      file: namesPath,
    });
  }
  return createDataset({ name: reader, split, source: base, shape: CIFAR_SHAPE, numClasses, classNames: names, images, labels });
}

/** Reads CIFAR-10 (binary version) from `dir` or `dir/cifar-10-batches-bin`. */
export function readCifar10(dir: string, options: ReadOptions = {}): Promise<Dataset> {
  return readCifar(CIFAR10, dir, options);
}

/** Reads CIFAR-100 (binary version, fine labels) from `dir` or `dir/cifar-100-binary`. */
export function readCifar100(dir: string, options: ReadOptions = {}): Promise<Dataset> {
  return readCifar(CIFAR100, dir, options);
}
