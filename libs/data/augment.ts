/**
 * The standard CIFAR training augmentation, in plain JS on NHWC float32 images: random crop with
 * zero padding (pad the image by `pad` pixels of 0 on every side, crop back to h×w at a uniformly
 * random position) then horizontal flip with probability 1/2 — torchvision's
 * `RandomCrop(size, padding=4)` + `RandomHorizontalFlip()`. Seeded through an {@link Rng}.
 */
import { DataError } from './errors.js';
import { imageSize, type ImageShape } from './dataset.js';
import type { Rng } from './rng.js';

export interface AugmentOptions {
  /** Zero padding on each side before the random crop, in pixels; 0 disables the crop. @default 4 */
  pad?: number;
  /** Mirror left–right with probability 1/2. @default true */
  flip?: boolean;
}

/** One image's transform: a shift in pixels (each in [-pad, pad]) and whether to mirror. */
export interface CropFlip {
  /** Output row y reads input row y + dy (zeros where that falls outside). */
  dy: number;
  /** Output column x reads input column x + dx, after mirroring (zeros outside). */
  dx: number;
  flip: boolean;
}

/** Validated augmentation options (internal to the folder). */
export interface CompiledAugment {
  pad: number;
  flip: boolean;
}

/** Validates and fills in defaults; a bad pad is an `invalid-argument` DataError. */
export function compileAugmentOptions(options: AugmentOptions): CompiledAugment {
  const { pad = 4, flip = true } = options;
  if (!Number.isInteger(pad) || pad < 0) {
    throw new DataError('invalid-argument', `augment pad must be a non-negative integer; got ${pad}`);
  }
  return { pad, flip };
}

/**
 * Draws one image's transform: dy, then dx (each uniform in [-pad, pad], i.e. a crop position
 * in the padded image), then the flip coin. With pad 0 no shift is drawn; with flip off no coin.
 */
export function drawCropFlip(rng: Rng, options: AugmentOptions = {}): CropFlip {
  const { pad, flip } = compileAugmentOptions(options);
  const dy = pad > 0 ? rng.nextInt(2 * pad + 1) - pad : 0;
  const dx = pad > 0 ? rng.nextInt(2 * pad + 1) - pad : 0;
  return { dy, dx, flip: flip && rng.nextUint32() >= 0x80000000 };
}

/**
 * Writes the shifted (zero-filled) and optionally mirrored `src` into `dst`:
 * `dst[y][x] = src[y + dy][(flip ? w - 1 - x : x) + dx]`, 0 outside the image.
 * Both are one HWC image of `shape`; they must not overlap.
 */
export function cropFlipInto(src: Float32Array, dst: Float32Array, shape: ImageShape, t: CropFlip): void {
  const [h, w, c] = shape;
  const per = h * w * c;
  if (src.length !== per || dst.length !== per) {
    throw new DataError('invalid-argument', `cropFlipInto needs ${per} values for [${shape.join(', ')}]; got ${src.length} → ${dst.length}`);
  }
  const { dy, dx, flip } = t;
  const row = w * c;
  // Plain loops throughout: per-row TypedArray.fill/set calls cost more than the copies here.
  for (let y = 0; y < h; y++) {
    const sy = y + dy;
    const out = y * row;
    if (sy < 0 || sy >= h) {
      for (let k = out; k < out + row; k++) dst[k] = 0;
      continue;
    }
    const inRow = sy * row;
    if (!flip) {
      // Valid x: 0 <= x + dx < w; the rest is zero padding.
      const x0 = Math.min(w, Math.max(0, -dx)) * c;
      const x1 = Math.max(0, Math.min(w, w - dx)) * c;
      const shift = dx * c;
      let k = 0;
      for (; k < x0; k++) dst[out + k] = 0;
      for (; k < x1; k++) dst[out + k] = src[inRow + k + shift];
      for (; k < row; k++) dst[out + k] = 0;
    } else {
      for (let x = 0; x < w; x++) {
        const sx = w - 1 - x + dx;
        const o = out + x * c;
        if (sx < 0 || sx >= w) {
          for (let k = 0; k < c; k++) dst[o + k] = 0;
        } else {
          const s = inRow + sx * c;
          for (let k = 0; k < c; k++) dst[o + k] = src[s + k];
        }
      }
    }
  }
}

/**
 * Augments every image of an NHWC batch: for each image in order, draws its transform from `rng`
 * ({@link drawCropFlip}) and writes it to `out`. `out` must not overlap `images`.
 * @returns `out` (a new array when not given)
 */
export function augmentBatch(
  images: Float32Array,
  shape: ImageShape,
  rng: Rng,
  options: AugmentOptions = {},
  out: Float32Array = new Float32Array(images.length),
): Float32Array {
  const per = imageSize(shape);
  if (images.length % per !== 0 || out.length !== images.length) {
    throw new DataError(
      'invalid-argument',
      `augmentBatch needs a whole number of [${shape.join(', ')}] images and an output of the same length; got ${images.length} → ${out.length}`,
    );
  }
  if (out.buffer === images.buffer && out.byteOffset < images.byteOffset + images.byteLength && images.byteOffset < out.byteOffset + out.byteLength) {
    throw new DataError('invalid-argument', 'augmentBatch cannot write over its input; pass a separate output array');
  }
  const compiled = compileAugmentOptions(options);
  for (let i = 0; i < images.length / per; i++) {
    const t = drawCropFlip(rng, compiled);
    cropFlipInto(images.subarray(i * per, (i + 1) * per), out.subarray(i * per, (i + 1) * per), shape, t);
  }
  return out;
}
