/**
 * Test-only helpers: write small files in exactly the real on-disk formats (IDX, CIFAR binary,
 * Tiny ImageNet's layout with real JPEGs). Not exported from the folder's index.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';

/** A fresh temp folder; call `cleanup` when done. */
export async function makeTempDir(prefix = 'harden-data-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** An IDX file of unsigned bytes: 00 00 08 ndim, big-endian uint32 dims, data. */
export function idxBytes(dims: readonly number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = 0x08;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

/** Deterministic test pixel of image i at flat offset p. */
export function testByte(i: number, p: number): number {
  return (i * 37 + p * 11) % 256;
}

export interface IdxFixture {
  images: number;
  h: number;
  w: number;
  labels: number[];
}

/** Writes `<prefix>-images-idx3-ubyte[.gz]` and `<prefix>-labels-idx1-ubyte[.gz]` into `dir`. */
export async function writeIdxPair(dir: string, prefix: 'train' | 't10k', f: IdxFixture, gz: boolean): Promise<void> {
  const pixels = new Uint8Array(f.images * f.h * f.w);
  for (let i = 0; i < f.images; i++) for (let p = 0; p < f.h * f.w; p++) pixels[i * f.h * f.w + p] = testByte(i, p);
  const images = idxBytes([f.images, f.h, f.w], pixels);
  const labels = idxBytes([f.labels.length], Uint8Array.from(f.labels));
  const ext = gz ? '.gz' : '';
  await writeFile(join(dir, `${prefix}-images-idx3-ubyte${ext}`), gz ? gzipSync(images) : images);
  await writeFile(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), gz ? gzipSync(labels) : labels);
}

/**
 * CIFAR binary records: `labelBytes(i)` then the R, G, B planes (32×32 each) where plane ch,
 * pixel p of record i holds `testByte(i + seedOffset, ch * 1024 + p)`.
 */
export function cifarRecords(count: number, labelBytes: (i: number) => number[], seedOffset = 0): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const labels = labelBytes(i);
    const rec = Buffer.alloc(labels.length + 3072);
    labels.forEach((b, k) => (rec[k] = b));
    for (let q = 0; q < 3072; q++) rec[labels.length + q] = testByte(i + seedOffset, q);
    parts.push(rec);
  }
  return Buffer.concat(parts);
}

/** Encodes a solid-colour 64×64 RGB JPEG with jpeg-js's encoder. */
export function solidJpeg(r: number, g: number, b: number, side = 64): Buffer {
  const data = Buffer.alloc(side * side * 4);
  for (let p = 0; p < side * side; p++) {
    data[4 * p] = r;
    data[4 * p + 1] = g;
    data[4 * p + 2] = b;
    data[4 * p + 3] = 255;
  }
  return jpeg.encode({ width: side, height: side, data }, 95).data;
}

/**
 * A baseline grayscale JPEG (one component) whose 8×8 blocks are each one flat value:
 * `blockValue(by, bx)` in [0, 255]. jpeg-js's encoder only writes colour JPEGs, so this writes
 * the few segments itself: quantisation all ones, the standard luminance DC Huffman table and an
 * AC table holding only end-of-block (flat blocks have no AC coefficients).
 */
export function grayJpeg(width: number, height: number, blockValue: (by: number, bx: number) => number): Buffer {
  const bytes: number[] = [];
  const u16 = (v: number) => bytes.push(v >> 8, v & 0xff);
  const segment = (marker: number, body: number[]) => {
    bytes.push(0xff, marker);
    u16(body.length + 2);
    bytes.push(...body);
  };
  const dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
  const dcVals = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  bytes.push(0xff, 0xd8);
  segment(0xdb, [0x00, ...new Array(64).fill(1)]);
  segment(0xc0, [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]);
  segment(0xc4, [0x00, ...dcBits, ...dcVals]);
  segment(0xc4, [0x10, 1, ...new Array(15).fill(0), 0x00]);
  segment(0xda, [1, 1, 0x00, 0, 63, 0]);
  // Canonical Huffman codes of the DC table.
  const dcCode: { code: number; len: number }[] = [];
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let j = 0; j < dcBits[len - 1]; j++) dcCode[dcVals[k++]] = { code: code++, len };
    code <<= 1;
  }
  let acc = 0;
  let nbits = 0;
  const put = (value: number, len: number) => {
    for (let b = len - 1; b >= 0; b--) {
      acc = (acc << 1) | ((value >> b) & 1);
      if (++nbits === 8) {
        bytes.push(acc);
        if (acc === 0xff) bytes.push(0x00); // byte stuffing
        acc = 0;
        nbits = 0;
      }
    }
  };
  let prev = 0;
  for (let by = 0; by < height / 8; by++) {
    for (let bx = 0; bx < width / 8; bx++) {
      // A flat block of value v has DCT DC = 8·(v − 128); quantisation 1 keeps it.
      const dc = 8 * (blockValue(by, bx) - 128);
      const diff = dc - prev;
      prev = dc;
      const mag = Math.abs(diff);
      const size = mag === 0 ? 0 : Math.floor(Math.log2(mag)) + 1;
      put(dcCode[size].code, dcCode[size].len);
      if (size > 0) put(diff > 0 ? diff : diff + (1 << size) - 1, size);
      put(0, 1); // end of block
    }
  }
  if (nbits > 0) put((1 << (8 - nbits)) - 1, 8 - nbits); // pad with ones
  bytes.push(0xff, 0xd9);
  return Buffer.from(bytes);
}

/** Writes `text` to `path`, creating parent folders. */
export async function writeText(path: string, text: string | Buffer): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}
