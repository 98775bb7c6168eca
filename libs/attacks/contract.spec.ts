/**
 * The registry contract (house habit 11): every registered attack, on a small deterministic model
 * with a BatchNorm layer and fixed seeds, in every norm it supports, keeps the shape, stays in the
 * ε-ball (+1e-6) and in [0, 1], reports success honestly, never lowers the bar below clean accuracy,
 * leaks no tensors and leaves BatchNorm's running statistics untouched.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, tfl, type Tensor4D } from '../engine/index.js';
import {
  ATTACK_NAMES,
  createAttack,
  describeAttack,
  fromLayersModel,
  logitsValues,
  perturbationNorms,
  type AttackModel,
  type AttackName,
  type Norm,
} from './index.js';
import { batchNormStats, initTestEngine, randomInputs, tinyBnModel } from './testing.fixture.js';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 12;
const EPS: Record<Norm, number[]> = { Linf: [0.03, 0.1], L2: [0.5] };

function argMaxRows(values: Float32Array, C: number): Int32Array {
  const out = new Int32Array(values.length / C);
  for (let i = 0; i < out.length; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (values[i * C + c] > values[i * C + best]) best = c;
    out[i] = best;
  }
  return out;
}

describe('attack registry contract', () => {
  let layers: tfl.LayersModel;
  let model: AttackModel;
  let guidance: AttackModel;
  let x: Tensor4D;
  let labels: Int32Array;

  /** Small budgets so the whole registry runs in seconds. */
  const options = (): Record<AttackName, object> => ({
    fgsm: {},
    pgd: { steps: 5, restarts: 2 },
    cw: { steps: 5 },
    cag: { guidance, steps: 5 },
    'apgd-ce': { steps: 10, restarts: 2 },
    'apgd-t': { steps: 10, targets: 3 },
    'fab-t': { steps: 10, targets: 3 },
    square: { queries: 60 },
    autoattack: { steps: 10, queries: 60, targets: 3 },
  });

  before(async () => {
    await initTestEngine();
    layers = tinyBnModel(SHAPE, 10, 7);
    model = fromLayersModel(layers);
    guidance = fromLayersModel(tinyBnModel(SHAPE, 10, 21));
    x = randomInputs(3, N, SHAPE);
    // Labels: the model's own predictions (correct), except 3 samples given another class.
    labels = argMaxRows(await logitsValues(model, x), 10);
    for (const i of [1, 5, 9]) labels[i] = (labels[i] + 1) % 10;
  });

  for (const name of ATTACK_NAMES) {
    for (const norm of describeAttack(name).norms) {
      it(`${name} (${norm}) meets the contract`, async () => {
        const attack = createAttack(name, options()[name]);
        const bnBefore = batchNormStats(layers);
        const tensorsBefore = tf.memory().numTensors;
        const result = await attack.run(model, x, labels, { eps: EPS[norm], norm, seed: 11 });
        const eps = EPS[norm];
        assert.equal(tf.memory().numTensors, tensorsBefore + 2 * eps.length, 'only raw + clipped per ε are left');
        assert.equal(result.attack, name);
        assert.equal(result.results.length, eps.length);
        const xv = x.dataSync() as Float32Array;
        for (const [k, r] of result.results.entries()) {
          assert.equal(r.eps, eps[k]);
          assert.deepEqual(r.raw.shape, x.shape);
          assert.deepEqual(r.clipped.shape, x.shape);
          const cv = r.clipped.dataSync() as Float32Array;
          for (const v of cv) assert.ok(v >= 0 && v <= 1, `value ${v} outside [0, 1]`);
          const norms = perturbationNorms(cv, xv, N, norm);
          for (const d of norms) assert.ok(d <= r.eps + 1e-6, `‖δ‖ = ${d} > ε = ${r.eps}`);
          // Success is what the model says at the clipped point (or the clean point was already wrong).
          const preds = argMaxRows(await logitsValues(model, r.clipped), 10);
          for (let i = 0; i < N; i++) {
            assert.equal(r.success[i], preds[i] !== labels[i] ? 1 : 0, `sample ${i}: success flag disagrees with the model`);
            assert.ok(r.success[i] >= result.clean[i], `sample ${i}: misclassified when clean but not after the attack`);
          }
          assert.ok(r.robustAccuracy <= result.cleanAccuracy + 1e-12);
          r.raw.dispose();
          r.clipped.dispose();
        }
        assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
        assert.equal(result.cleanAccuracy, 9 / 12);
        const bnAfter = batchNormStats(layers);
        assert.equal(bnAfter.length, 2);
        for (const [i, a] of bnAfter.entries()) assert.deepEqual(a, bnBefore[i], 'BatchNorm running statistics changed');
      });
    }
  }

  it('is deterministic for a seed and varies with it', async () => {
    const attack = createAttack('pgd', { steps: 3 });
    const run = async (seed: number) => {
      const r = await attack.run(model, x, labels, { eps: 0.1, seed });
      const values = Float32Array.from(r.results[0].raw.dataSync() as Float32Array);
      r.results[0].raw.dispose();
      r.results[0].clipped.dispose();
      return values;
    };
    assert.deepEqual(await run(5), await run(5));
    assert.notDeepEqual(await run(5), await run(6));
  });

  it('gives the same per-sample results whatever the batch size', async () => {
    for (const name of ['apgd-ce', 'square', 'autoattack'] as const) {
      const attack = createAttack(name, options()[name]);
      const run = async (batchSize: number) => {
        const r = await attack.run(model, x, labels, { eps: 0.1, seed: 2, batchSize });
        const values = Float32Array.from(r.results[0].clipped.dataSync() as Float32Array);
        r.results[0].raw.dispose();
        r.results[0].clipped.dispose();
        return { values, success: r.results[0].success, stages: r.results[0].stages };
      };
      const whole = await run(256);
      const chunked = await run(5);
      assert.deepEqual(chunked.success, whole.success, name);
      assert.deepEqual(chunked.stages, whole.stages, name);
      for (let i = 0; i < whole.values.length; i++) assert.ok(Math.abs(whole.values[i] - chunked.values[i]) < 1e-5, `${name} value ${i}`);
    }
  });

  it('reports AutoAttack robust accuracy after each stage, non-increasing', async () => {
    const r = await createAttack('autoattack', options().autoattack).run(model, x, labels, { eps: 0.1, seed: 1 });
    const stages = r.results[0].stages!;
    assert.deepEqual(
      stages.map((s) => s.name),
      ['clean', 'apgd-ce', 'apgd-t', 'fab-t', 'square'],
    );
    assert.equal(stages[0].robustAccuracy, r.cleanAccuracy);
    for (let i = 1; i < stages.length; i++) assert.ok(stages[i].robustAccuracy <= stages[i - 1].robustAccuracy);
    assert.equal(stages.at(-1)!.robustAccuracy, r.results[0].robustAccuracy);
    r.results[0].raw.dispose();
    r.results[0].clipped.dispose();
  });
});
