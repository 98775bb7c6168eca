/**
 * The DLR losses select classes by rank on the device (`classRankMasks`), without reading the
 * logits back: the masks must be the ones a stable descending sort of the values gives (ties: lower
 * class first), and the loss and its gradient the ones built from those masks as constants.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, type Tensor1D, type Tensor2D } from '../engine/index.js';
import { classRankMasks, dlr, dlrTargeted, topClasses } from './losses.js';
import { initTestEngine, seededUniform } from './testing.fixture.js';

const C = 6;
/** Rows with distinct values, exact ties, and infinities. */
const LOGITS = Float32Array.from([
  ...seededUniform(3, C, -2, 2),
  1, 1, 0.5, 1, -3, 0.5,
  0, 0, 0, 0, 0, 0,
  -Infinity, 2, Infinity, 2, -1, Infinity,
  ...seededUniform(4, C, -2, 2),
]);
const N = LOGITS.length / C;
/** The same rows with the infinities replaced (the gradient through ±∞ is NaN either way). */
const FINITE = LOGITS.map((v) => (Number.isFinite(v) ? v : 0));
const LABELS = Int32Array.from([0, 3, 5, 2, 4]);
const TARGETS = Int32Array.from([1, 0, 2, 3, 4]);

/** `[n, C]` masks from per-row class → weight lists, built on the CPU from the values. */
function maskRows(fill: (i: number, row: Float32Array) => void): Tensor2D {
  const values = new Float32Array(N * C);
  for (let i = 0; i < N; i++) fill(i, values.subarray(i * C, (i + 1) * C));
  return tf.tensor2d(values, [N, C]);
}

/** Targeted DLR with masks from the CPU sort (the reference the device masks must match). */
function referenceDlrTargeted(z: Tensor2D, values: Float32Array): Tensor1D {
  const top = topClasses(values, C, 4);
  const num = maskRows((i, row) => {
    row[LABELS[i]] += 1;
    row[TARGETS[i]] -= 1;
  });
  const den = maskRows((i, row) => {
    row[top[i][0]] += 1;
    row[top[i][2]] -= 0.5;
    row[top[i][3]] -= 0.5;
  });
  return tf.neg(tf.div(tf.sum(tf.mul(z, num), 1), tf.add(tf.sum(tf.mul(z, den), 1), 1e-12))) as Tensor1D;
}

function referenceDlr(z: Tensor2D, values: Float32Array): Tensor1D {
  const top = topClasses(values, C, 3);
  const num = maskRows((i, row) => {
    row[LABELS[i]] += 1;
    row[top[i][0] === LABELS[i] ? top[i][1] : top[i][0]] -= 1;
  });
  const den = maskRows((i, row) => {
    row[top[i][0]] += 1;
    row[top[i][2]] -= 1;
  });
  return tf.neg(tf.div(tf.sum(tf.mul(z, num), 1), tf.add(tf.sum(tf.mul(z, den), 1), 1e-12))) as Tensor1D;
}

describe('DLR losses on the device', () => {
  before(initTestEngine);

  it('classRankMasks marks the class a stable descending sort puts at each rank', async () => {
    const z = tf.tensor2d(LOGITS, [N, C]);
    const top = topClasses(LOGITS, C, C);
    const masks = classRankMasks(z, [0, 1, 2, 3, 5]);
    for (const [k, rank] of [0, 1, 2, 3, 5].entries()) {
      const m = await masks[k].data();
      for (let i = 0; i < N; i++) {
        const row = Array.from(m.subarray(i * C, (i + 1) * C));
        assert.deepEqual(row, row.map((_, c) => (c === top[i][rank] ? 1 : 0)), `row ${i}, rank ${rank}`);
      }
    }
    tf.dispose([z, ...masks]);
  });

  for (const [name, loss, reference] of [
    ['dlr', dlr(LABELS, C), referenceDlr],
    ['dlrTargeted', dlrTargeted(LABELS, TARGETS, C), referenceDlrTargeted],
  ] as const) {
    it(`${name}: the same values and gradient as with masks sorted on the CPU, bit for bit`, async () => {
      const before = tf.memory().numTensors;
      const z = tf.tensor2d(FINITE, [N, C]);
      const [value, grad] = tf.tidy(() => [loss(z), tf.grad((zi) => tf.sum(loss(zi as Tensor2D)))(z)]);
      const [refValue, refGrad] = tf.tidy(() => [reference(z, FINITE), tf.grad((zi) => tf.sum(reference(zi as Tensor2D, FINITE)))(z)]);
      assert.deepEqual(Array.from(await value.data()), Array.from(await refValue.data()));
      assert.deepEqual(Array.from(await grad.data()), Array.from(await refGrad.data()));
      assert.ok((await grad.data()).some((v) => v !== 0), 'a non-trivial gradient');
      tf.dispose([z, value, grad, refValue, refGrad]);
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    });
  }
});
