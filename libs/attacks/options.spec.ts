/**
 * Options are compiled once: bad values are typed `AttackError`s naming the field, raised before any
 * tensor work; unsupported combinations are `unsupported`; an abort stops a run without leaking.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, type Tensor4D } from '../engine/index.js';
import {
  AttackError,
  createAttack,
  fromLayersModel,
  runAttackByName,
  targetedMisclassification,
  type AttackModel,
} from './index.js';
import { initTestEngine, randomInputs, tinyBnModel } from './testing.fixture.js';

function isError(code: string, field: string) {
  return (e: unknown) => {
    assert.ok(e instanceof AttackError, `expected an AttackError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.field, field);
    return true;
  };
}

describe('attack options and errors', () => {
  let model: AttackModel;
  let x: Tensor4D;
  const labels = Int32Array.from({ length: 6 }, (_, i) => i);

  before(async () => {
    await initTestEngine();
    model = fromLayersModel(tinyBnModel([8, 8, 1], 10, 3));
    x = randomInputs(1, 6, [8, 8, 1]);
  });

  it('rejects bad attack options when the attack is created', () => {
    assert.throws(() => createAttack('pgd', { steps: 0 }), isError('invalid-argument', 'steps'));
    assert.throws(() => createAttack('pgd', { steps: 2.5 }), isError('invalid-argument', 'steps'));
    assert.throws(() => createAttack('pgd', { alpha: -1 }), isError('invalid-argument', 'alpha'));
    assert.throws(() => createAttack('pgd', { loss: 'mse' as never }), isError('invalid-argument', 'loss'));
    assert.throws(() => createAttack('pgd', { restarts: 3, randomStart: false }), isError('invalid-argument', 'restarts'));
    assert.throws(() => createAttack('apgd-ce', { rho: 2 }), isError('invalid-argument', 'rho'));
    assert.throws(() => createAttack('square', { queries: -5 }), isError('invalid-argument', 'queries'));
    assert.throws(() => createAttack('fgsm', { steps: 3 } as never), isError('invalid-argument', 'steps'));
    assert.throws(() => createAttack('cw', { loss: 'ce' } as never), isError('invalid-argument', 'loss'));
    assert.throws(() => createAttack('autoattack', { attacks: ['square'] }), isError('invalid-argument', 'attacks'));
    assert.throws(() => createAttack('autoattack', { version: 'custom', attacks: ['pgd' as never] }), isError('invalid-argument', 'attacks'));
    assert.throws(() => createAttack('deepfool'), isError('invalid-argument', 'attack'));
  });

  it('rejects bad run options and inputs before any work', async () => {
    const pgd = createAttack('pgd', { steps: 1 });
    const before = tf.memory().numTensors;
    await assert.rejects(pgd.run(model, x, labels, { eps: -0.1 }), isError('invalid-argument', 'eps'));
    await assert.rejects(pgd.run(model, x, labels, { eps: [] }), isError('invalid-argument', 'eps'));
    await assert.rejects(pgd.run(model, x, labels, { eps: Number.NaN }), isError('invalid-argument', 'eps'));
    await assert.rejects(pgd.run(model, x, labels, { eps: 0.1, norm: 'L1' as never }), isError('invalid-argument', 'norm'));
    await assert.rejects(pgd.run(model, x, labels, { eps: 0.1, seed: 0.5 }), isError('invalid-argument', 'seed'));
    await assert.rejects(pgd.run(model, x, labels, { eps: 0.1, batchSize: 0 }), isError('invalid-argument', 'batchSize'));
    await assert.rejects(pgd.run(model, x, labels.subarray(0, 3), { eps: 0.1 }), isError('invalid-argument', 'y'));
    await assert.rejects(pgd.run(model, x, [0, 1, 2, 3, 4, 10], { eps: 0.1 }), isError('invalid-argument', 'y'));
    const outside = tf.add(x, 0.5) as Tensor4D;
    await assert.rejects(pgd.run(model, outside, labels, { eps: 0.1 }), isError('invalid-argument', 'x'));
    outside.dispose();
    await assert.rejects(runAttackByName('pgd', model, x, labels, { eps: [0.1, 0.2] as never }), isError('invalid-argument', 'eps'));
    assert.equal(tf.memory().numTensors, before);
  });

  it('refuses unsupported norms and criteria', async () => {
    await assert.rejects(createAttack('cag', { guidance: model }).run(model, x, labels, { eps: 1, norm: 'L2' }), isError('unsupported', 'norm'));
    const targeted = targetedMisclassification([1, 2, 3, 4, 5, 6]);
    await assert.rejects(createAttack('apgd-ce').run(model, x, labels, { eps: 0.1, criterion: targeted }), isError('unsupported', 'criterion'));
    await assert.rejects(
      createAttack('pgd', { loss: 'kl', steps: 1 }).run(model, x, labels, { eps: 0.1, criterion: targeted }),
      isError('unsupported', 'loss'),
    );
  });

  it('stops on abort between steps and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const early = new AbortController();
    early.abort(new Error('shutdown'));
    await assert.rejects(createAttack('pgd').run(model, x, labels, { eps: 0.1, signal: early.signal }), (e: unknown) => AttackError.is(e, 'aborted'));
    const mid = new AbortController();
    let steps = 0;
    // Step events arrive in bursts (one read-back per checkpoint or STEPS_PER_READBACK steps), each
    // burst synchronously: the rest of the burst that carried the abort reports steps already run.
    // A step taken after the abort would be reported in a later burst.
    let burstOver = false;
    let late = 0;
    await assert.rejects(
      createAttack('autoattack', { steps: 50 }).run(model, x, labels, {
        eps: 0.05,
        signal: mid.signal,
        onStep: () => {
          steps += 1;
          if (burstOver) late += 1;
          if (steps === 3) {
            mid.abort();
            queueMicrotask(() => (burstOver = true));
          }
        },
      }),
      (e: unknown) => AttackError.is(e, 'aborted'),
    );
    assert.equal(late, 0, `ran ${late} steps after the abort`);
    assert.ok(steps >= 3 && steps <= 12, `${steps} step events (APGD-CE's first checkpoint is after step 11 of 50)`);
    assert.equal(tf.memory().numTensors, before);
  });

  it('runAttackByName reports accuracies, stages and the largest perturbation', async () => {
    const report = await runAttackByName('pgd', model, x, labels, { eps: 0.05, steps: 3, seed: 1 });
    assert.equal(report.attack, 'pgd');
    assert.equal(report.n, 6);
    assert.ok(report.maxPerturbation <= 0.05 + 1e-6 && report.maxPerturbation > 0);
    assert.deepEqual(
      report.stages.map((s) => s.name),
      ['clean', 'pgd'],
    );
    assert.equal(report.stages[1].robustAccuracy, report.robustAccuracy);
    assert.equal(report.predictions.length, 6);
    assert.deepEqual(report.adversarial.shape, x.shape);
    report.adversarial.dispose();
  });
});
