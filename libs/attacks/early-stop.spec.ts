/**
 * PGD/CW `earlyStop`: a sample that some iterate fooled counts as broken even when later iterates
 * leave the fooling region. The model's "wrong" logit is high only in a band of input values the
 * iterates cross, and its gradient always points further up, so the last iterate is classified
 * correctly again.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, type Tensor2D, type Tensor4D } from '../engine/index.js';
import { createAttack, fromLogitsFunction } from './index.js';

// One pixel; class 0 is the label. z_1 = +5 when the pixel is in (0.57, 0.63), else −5, with a
// gradient of +1 everywhere (so sign ascent keeps increasing the pixel).
const band = tf.customGrad(((x: tf.Tensor) => {
  const inBand = tf.logicalAnd(tf.greater(x, 0.57), tf.less(x, 0.63));
  return { value: tf.where(inBand, tf.fill(x.shape, 5), tf.fill(x.shape, -5)), gradFunc: (dy: tf.Tensor) => dy };
}) as Parameters<typeof tf.customGrad>[0]);
const model = fromLogitsFunction((x: Tensor4D) => {
  const v = tf.reshape(x, [x.shape[0], 1]);
  return tf.concat([tf.zerosLike(v), band(v) as tf.Tensor], 1) as Tensor2D;
}, 2);

describe('PGD and CW with earlyStop (evaluation)', () => {
  before(async () => {
    await initEngine('wasm');
  });

  for (const name of ['pgd', 'cw'] as const) {
    it(`${name}: an iterate inside the fooling band counts, and the sample stays there`, async () => {
      // From 0.5 with α = 0.1 and no random start: 0.6 (fooled), 0.7, 0.8 (ε = 0.3), 0.8 …
      const x = tf.tensor4d([0.5, 0.5], [2, 1, 1, 1]);
      const labels = tf.tensor1d([0, 0], 'int32');
      const settings = { steps: 5, alpha: 0.1, randomStart: false };
      const plain = await createAttack(name, settings).run(model, x, labels, { eps: 0.3 });
      const stopped = await createAttack(name, { ...settings, earlyStop: true }).run(model, x, labels, { eps: 0.3 });
      const [p, s] = [plain.results[0], stopped.results[0]];
      assert.deepEqual(Array.from(p.success), [0, 0], 'without earlyStop the last iterate (0.8) is correctly classified');
      assert.deepEqual(Array.from(s.success), [1, 1], 'with earlyStop the fooling iterate is kept');
      const kept = await s.clipped.data();
      assert.ok(Math.abs(kept[0] - 0.6) < 1e-6, `frozen at the first fooling iterate, got ${kept[0]}`);
      tf.dispose([x, labels, p.raw, p.clipped, s.raw, s.clipped]);
    });
  }

  it('the evaluation suite runs PGD-20 and CW-20 with earlyStop; training attacks do not', async () => {
    const { suiteAttacks } = await import('../evaluation/suites.js');
    for (const row of suiteAttacks('quick').filter((r) => r.attack === 'pgd' || r.attack === 'cw')) {
      assert.equal(row.options.earlyStop, true, row.label);
    }
    assert.throws(() => createAttack('pgd', { earlyStop: 'yes' as unknown as boolean }), /earlyStop/);
  });
});
