/**
 * The sanity checks fire on the models they are meant to catch (CHECKS.md): probabilities instead
 * of logits, zero gradients (gradient masking), randomness, and a black-box attack beating the
 * white-box ones.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, type Tensor2D, type Tensor4D } from '../engine/index.js';
import { CHECK_IDS, createAttack, fromLayersModel, fromLogitsFunction, type AttackModel, type CheckWarning } from './index.js';
import { initTestEngine, linearModel, randomInputs, seededUniform } from './testing.fixture.js';
import { readFileSync } from 'node:fs';

const SHAPE: [number, number, number] = [4, 4, 1];

describe('sanity checks', () => {
  let linear: AttackModel;
  let x: Tensor4D;
  let labels: Int32Array;

  before(async () => {
    await initTestEngine();
    linear = fromLayersModel(linearModel(SHAPE, seededUniform(1, 16 * 10, -1, 1), seededUniform(2, 10, -0.1, 0.1)));
    x = randomInputs(4, 16, SHAPE);
    const z = tf.tidy(() => tf.argMax(linear.logits(x), 1));
    labels = Int32Array.from(z.dataSync());
    z.dispose();
  });

  const ids = (w: readonly CheckWarning[]) => w.map((v) => v.id).sort();
  const dispose = (r: { results: readonly { raw: Tensor4D; clipped: Tensor4D }[] }) => r.results.forEach((e) => (e.raw.dispose(), e.clipped.dispose()));

  it('a clean linear model raises nothing', async () => {
    const r = await createAttack('autoattack', { steps: 5, queries: 20 }).run(linear, x, labels, { eps: 0.05 });
    assert.deepEqual(ids(r.warnings), []);
    dispose(r);
  });

  it('softmax-output: the model returns probabilities', async () => {
    const probs = fromLogitsFunction((v) => tf.softmax(linear.logits(v)) as Tensor2D, 10);
    const r = await createAttack('pgd', { steps: 2 }).run(probs, x, labels, { eps: 0.05 });
    assert.ok(ids(r.warnings).includes('softmax-output'));
    dispose(r);
  });

  it('zero-gradient and black-box-stronger: quantised inputs mask gradients, Square still succeeds', async () => {
    // round() has a zero gradient: gradient attacks are blind, score-based search is not.
    const quantised = fromLogitsFunction((v) => linear.logits(tf.div(tf.round(tf.mul(v, 4)), 4) as Tensor4D), 10);
    const r = await createAttack('autoattack', { version: 'custom', attacks: ['apgd-ce', 'square'], steps: 5, queries: 300 }).run(
      quantised,
      x,
      labels,
      { eps: 0.3 },
    );
    const found = ids(r.warnings);
    assert.ok(found.includes('zero-gradient'), found.join());
    assert.ok(found.includes('black-box-stronger'), found.join());
    const zero = r.warnings.find((w) => w.id === 'zero-gradient')!;
    assert.equal(zero.attack, 'apgd-ce');
    assert.ok(zero.count! > 0);
    dispose(r);
  });

  it('randomized-model: two clean passes differ', async () => {
    let calls = 0;
    const noisy = fromLogitsFunction((v) => tf.add(linear.logits(v), tf.randomNormal([v.shape[0], 10], 0, 0.1, 'float32', ++calls)) as Tensor2D, 10);
    const r = await createAttack('autoattack', { version: 'custom', attacks: ['apgd-ce'], steps: 2 }).run(noisy, x, labels, { eps: 0.05 });
    assert.ok(ids(r.warnings).includes('randomized-model'));
    dispose(r);
  });

  it('too-many-target-classes: more targets than classes', async () => {
    const r = await createAttack('apgd-t', { steps: 2, targets: 12 }).run(linear, x, labels, { eps: 0.05 });
    assert.ok(ids(r.warnings).includes('too-many-target-classes'));
    dispose(r);
  });

  it('every check id is documented in CHECKS.md', () => {
    const doc = readFileSync(new URL('../../../libs/attacks/CHECKS.md', import.meta.url), 'utf8');
    for (const id of CHECK_IDS) assert.ok(doc.includes(`\`${id}\``), `${id} missing from CHECKS.md`);
  });
});
