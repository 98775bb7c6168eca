import { test } from 'node:test';
import assert from 'node:assert/strict';
import { augmentBatch, createRng, cropFlipInto, DataError, drawCropFlip, type ImageShape } from './index.js';

// A 3×4 image with 2 channels: value at (y, x, c) = 10·y + x + 0.5·c + 1 (never 0, so padding shows).
const SHAPE: ImageShape = [3, 4, 2];
const SRC = Float32Array.from({ length: 24 }, (_, i) => {
  const c = i % 2;
  const x = Math.floor(i / 2) % 4;
  const y = Math.floor(i / 8);
  return 10 * y + x + 0.5 * c + 1;
});

/** The image as rows of [c0, c1] pairs. */
function rows(img: Float32Array): number[][][] {
  return [0, 1, 2].map((y) => [0, 1, 2, 3].map((x) => [img[(y * 4 + x) * 2], img[(y * 4 + x) * 2 + 1]]));
}

function apply(dy: number, dx: number, flip: boolean): number[][][] {
  const dst = new Float32Array(24).fill(-1);
  cropFlipInto(SRC, dst, SHAPE, { dy, dx, flip });
  return rows(dst);
}

test('cropFlipInto: identity, shifts with zero fill, mirror, and both', () => {
  assert.deepEqual(apply(0, 0, false), rows(SRC));
  // dy = 1, dx = -1: output (y, x) reads input (y + 1, x − 1).
  assert.deepEqual(apply(1, -1, false), [
    [[0, 0], [11, 11.5], [12, 12.5], [13, 13.5]],
    [[0, 0], [21, 21.5], [22, 22.5], [23, 23.5]],
    [[0, 0], [0, 0], [0, 0], [0, 0]],
  ]);
  // Mirror only: columns reversed, channels kept in order.
  assert.deepEqual(apply(0, 0, true), [
    [[4, 4.5], [3, 3.5], [2, 2.5], [1, 1.5]],
    [[14, 14.5], [13, 13.5], [12, 12.5], [11, 11.5]],
    [[24, 24.5], [23, 23.5], [22, 22.5], [21, 21.5]],
  ]);
  // Mirror then shift: output (y, x) reads input (y − 1, 3 − x + 2).
  assert.deepEqual(apply(-1, 2, true), [
    [[0, 0], [0, 0], [0, 0], [0, 0]],
    [[0, 0], [0, 0], [4, 4.5], [3, 3.5]],
    [[0, 0], [0, 0], [14, 14.5], [13, 13.5]],
  ]);
  // A shift past the whole width leaves zeros.
  assert.deepEqual(apply(0, 4, false).flat(2), new Array(24).fill(0));
});

test('drawCropFlip covers [-pad, pad] and both flips; augmentBatch is seeded and deterministic', () => {
  const rng = createRng(1);
  const dys = new Set<number>();
  const flips = new Set<boolean>();
  for (let i = 0; i < 2000; i++) {
    const t = drawCropFlip(rng);
    assert.ok(Math.abs(t.dy) <= 4 && Math.abs(t.dx) <= 4);
    dys.add(t.dy);
    flips.add(t.flip);
  }
  assert.equal(dys.size, 9);
  assert.equal(flips.size, 2);
  assert.deepEqual(drawCropFlip(createRng(2), { pad: 0, flip: false }), { dy: 0, dx: 0, flip: false });

  const batch = new Float32Array(5 * 24);
  for (let i = 0; i < 5; i++) batch.set(SRC.map((v) => v + 100 * i), i * 24);
  const a = augmentBatch(batch, SHAPE, createRng(9), { pad: 1 });
  const b = augmentBatch(batch, SHAPE, createRng(9), { pad: 1 });
  assert.deepEqual(a, b);
  // Each output image equals cropFlipInto with the transform drawn in order.
  const replay = createRng(9);
  for (let i = 0; i < 5; i++) {
    const dst = new Float32Array(24);
    cropFlipInto(batch.subarray(i * 24, (i + 1) * 24), dst, SHAPE, drawCropFlip(replay, { pad: 1 }));
    assert.deepEqual(dst, a.subarray(i * 24, (i + 1) * 24));
  }
  assert.throws(() => augmentBatch(batch, SHAPE, createRng(0), {}, batch), DataError);
  assert.throws(() => augmentBatch(batch, SHAPE, createRng(0), { pad: -1 }), DataError);
});
