/**
 * Attacks against a small CNN trained normally on a subset of the `mnist` package (libs/data +
 * libs/attacks): PGD at ε = 0.3 breaks it, APGD-CE is at least as strong as PGD on the same budget,
 * and AutoAttack's per-sample worst case is no weaker than any of its stages run alone.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, type Tensor4D } from '../libs/engine/index.js';
import { readMnist } from '../libs/data/index.js';
import { createAttack, fromLayersModel, logitsValues, runAttackByName, type AttackModel } from '../libs/attacks/index.js';
import { initTestEngine, trainMnistNet } from '../libs/attacks/testing.fixture.js';

const N_ATTACK = 100;

describe('attacks on a normally trained MNIST CNN', () => {
  let model: AttackModel;
  let x: Tensor4D;
  let labels: Int32Array;

  before(async () => {
    await initTestEngine();
    const train = await readMnist({ split: 'train', limit: 3000 });
    const test = await readMnist({ split: 'test', limit: 200 });
    model = fromLayersModel(await trainMnistNet(train.images, train.labels, { seed: 1, epochs: 5 }));
    const all = tf.tensor4d(test.images, [test.size, 28, 28, 1]);
    const z = await logitsValues(model, all);
    let correct = 0;
    for (let i = 0; i < test.size; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (z[i * 10 + c] > z[i * 10 + best]) best = c;
      if (best === test.labels[i]) correct += 1;
    }
    const accuracy = correct / test.size;
    assert.ok(accuracy > 0.9, `clean test accuracy ${accuracy} ≤ 0.9: the fixture model did not train`);
    x = tf.slice(all, [0, 0, 0, 0], [N_ATTACK, -1, -1, -1]);
    all.dispose();
    labels = test.labels.slice(0, N_ATTACK);
  });

  it('PGD-20 at ε = 0.3 drives robust accuracy below 5%', async () => {
    const report = await runAttackByName('pgd', model, x, labels, { eps: 0.3, steps: 20, seed: 0 });
    assert.ok(report.cleanAccuracy > 0.85);
    assert.ok(report.robustAccuracy < 0.05, `robust accuracy ${report.robustAccuracy}`);
    assert.ok(report.maxPerturbation <= 0.3 + 1e-6);
    report.adversarial.dispose();
  });

  it('APGD-CE is at least as strong as PGD with the same budget (20 iterations)', async () => {
    const eps = [0.05, 0.1];
    const pgd = await createAttack('pgd', { steps: 20 }).run(model, x, labels, { eps, seed: 0 });
    const apgd = await createAttack('apgd-ce', { steps: 20 }).run(model, x, labels, { eps, seed: 0 });
    for (let k = 0; k < eps.length; k++) {
      const p = pgd.results[k].robustAccuracy;
      const a = apgd.results[k].robustAccuracy;
      assert.ok(a <= p, `ε = ${eps[k]}: APGD-CE ${a} > PGD ${p}`);
    }
    for (const r of [...pgd.results, ...apgd.results]) {
      r.raw.dispose();
      r.clipped.dispose();
    }
  });

  it("AutoAttack's worst case is at most each of its parts, per sample", async () => {
    const eps = 0.1;
    const budget = { steps: 20, queries: 300 };
    const aa = await createAttack('autoattack', budget).run(model, x, labels, { eps, seed: 0 });
    const stages = aa.results[0].stages!;
    assert.deepEqual(
      stages.map((s) => s.name),
      ['clean', 'apgd-ce', 'apgd-t', 'fab-t', 'square'],
    );
    for (let i = 1; i < stages.length; i++) assert.ok(stages[i].robustAccuracy <= stages[i - 1].robustAccuracy);
    const parts = {
      'apgd-ce': { steps: budget.steps },
      'apgd-t': { steps: budget.steps },
      'fab-t': { steps: budget.steps },
      square: { queries: budget.queries },
    };
    const worst = aa.results[0];
    for (const [name, options] of Object.entries(parts)) {
      const part = await createAttack(name, options).run(model, x, labels, { eps, seed: 0 });
      const r = part.results[0];
      assert.ok(worst.robustAccuracy <= r.robustAccuracy, `AutoAttack ${worst.robustAccuracy} > ${name} ${r.robustAccuracy}`);
      // Random streams are keyed by sample, so a sample a stage breaks alone is broken inside AutoAttack too.
      for (let i = 0; i < N_ATTACK; i++) assert.ok(worst.success[i] >= r.success[i], `sample ${i} broken by ${name} alone but not by AutoAttack`);
      r.raw.dispose();
      r.clipped.dispose();
    }
    worst.raw.dispose();
    worst.clipped.dispose();
  });
});
