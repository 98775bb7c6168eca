/**
 * `generatePgd` (training loops: PGD-AT, MART) must be the attack PGD-AT used before it: the `raw`
 * iterate of `createPgd(...).run` with the same seed, bit for bit, for both starts — and it reads
 * nothing back.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { countGpuWork, tf } from '../engine/index.js';
import { createPgd, fromLayersModel, generatePgd } from './index.js';
import { initTestEngine, randomInputs, tinyBnModel } from './testing.fixture.js';

describe('generatePgd', () => {
  before(async () => {
    await initTestEngine();
  });

  for (const start of ['uniform', 'normal'] as const) {
    it(`equals createPgd's raw iterate (${start} start), without read-backs`, async () => {
      const layers = tinyBnModel([8, 8, 1], 4, 5);
      const model = fromLayersModel(layers);
      const x = randomInputs(7, 5, [8, 8, 1]);
      const labels = Int32Array.from([0, 1, 2, 3, 1]);
      const settings = { eps: 0.1, alpha: 0.03, steps: 4, seed: 9 };
      const ref = await createPgd({ steps: settings.steps, alpha: settings.alpha, randomStart: start === 'uniform' ? true : 'normal', loss: 'ce' }).run(model, x, labels, {
        eps: settings.eps,
        seed: settings.seed,
        batchSize: 5,
      });
      const before = tf.memory().numTensors;
      const { result: lean, readbacks } = await countGpuWork(() => generatePgd(model, x, labels, { ...settings, start }));
      assert.equal(readbacks, 0);
      assert.equal(tf.memory().numTensors, before + 1, 'only the result is left');
      const [a, b, clean] = [await lean.data(), await ref.results[0].raw.data(), await x.data()];
      assert.ok(a.some((v, i) => v !== clean[i]), 'the iterate moved');
      assert.deepEqual(Array.from(a), Array.from(b));
      tf.dispose([lean, x, ref.results[0].raw, ref.results[0].clipped]);
      layers.dispose();
    });
  }
});
