/**
 * CAG as the architecture doc states it: the objective Σ_batch KL(p_g(x) ‖ p_t(x')) with the
 * element-wise kl and its 1e-5 smoothing, sign steps from x + 0.001·N(0, I), and the target pushed
 * away from the guidance model's clean prediction (the objective rises over the steps).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf, type Tensor4D } from '../engine/index.js';
import { CAG_DEFAULTS, createCag, fromLayersModel, generateCag, logitsValues, type AttackModel, type StepEvent } from './index.js';
import { batchNormStats, initTestEngine, randomInputs, tinyBnModel } from './testing.fixture.js';
import type { tfl } from '../engine/index.js';

const SHAPE: [number, number, number] = [8, 8, 1];
const C = 10;

function softmaxRow(z: Float32Array, i: number): Float64Array {
  const row = Float64Array.from(z.subarray(i * C, (i + 1) * C));
  const m = Math.max(...row);
  let s = 0;
  for (let c = 0; c < C; c++) s += (row[c] = Math.exp(row[c] - m));
  return row.map((v) => v / s);
}

/** Σ_i Σ_c p_g · (log(p_g + 1e-5) − log_softmax(z_t)), computed in float64 from logits. */
function cagObjective(gLogits: Float32Array, tLogits: Float32Array, n: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const pg = softmaxRow(gLogits, i);
    const pt = softmaxRow(tLogits, i);
    for (let c = 0; c < C; c++) total += pg[c] * (Math.log(pg[c] + 1e-5) - Math.log(pt[c]));
  }
  return total;
}

describe('CAG', () => {
  let targetLayers: tfl.LayersModel;
  let guidanceLayers: tfl.LayersModel;
  let target: AttackModel;
  let guidance: AttackModel;
  let x: Tensor4D;
  let labels: Int32Array;
  const n = 24;

  before(async () => {
    await initTestEngine();
    targetLayers = tinyBnModel(SHAPE, C, 31);
    guidanceLayers = tinyBnModel(SHAPE, C, 47);
    target = fromLayersModel(targetLayers);
    guidance = fromLayersModel(guidanceLayers);
    x = randomInputs(8, n, SHAPE);
    labels = Int32Array.from({ length: n }, (_, i) => i % C);
  });

  it('uses the published settings by default', () => {
    assert.deepEqual(CAG_DEFAULTS, { eps: 0.031, alpha: 0.007, steps: 10 });
  });

  it('raises the KL objective over the steps on a fixed seed, and reports it exactly', async () => {
    const events: StepEvent[] = [];
    const bnTarget = batchNormStats(targetLayers);
    const bnGuidance = batchNormStats(guidanceLayers);
    const r = await createCag({ guidance }).run(target, x, labels, { eps: 0.031, seed: 3, onStep: (e) => events.push(e) });
    const objectives = events.map((e) => e.objective);
    assert.equal(objectives.length, CAG_DEFAULTS.steps + 1, 'start + one value per step');
    const rises = objectives.slice(1).filter((v, i) => v > objectives[i]).length;
    const meanIncrement = (objectives.at(-1)! - objectives[0]) / CAG_DEFAULTS.steps;
    assert.ok(objectives.at(-1)! > objectives[0], `final ${objectives.at(-1)} ≤ initial ${objectives[0]}`);
    assert.ok(meanIncrement > 0);
    assert.ok(rises >= 8, `the objective rose in only ${rises} of ${CAG_DEFAULTS.steps} steps: ${objectives.join(', ')}`);

    // The reported objective at the returned point is Σ KL(p_g(x) ‖ p_t(x')) with the 1e-5 smoothing.
    const raw = r.results[0].raw;
    const expected = cagObjective(await logitsValues(guidance, x), await logitsValues(target, raw), n);
    assert.ok(Math.abs(objectives.at(-1)! - expected) < 1e-3 * Math.max(1, Math.abs(expected)), `${objectives.at(-1)} vs ${expected}`);

    // Each coordinate moved by at most ε and stays in [0, 1]; BatchNorm statistics untouched.
    const rv = raw.dataSync() as Float32Array;
    const xv = x.dataSync() as Float32Array;
    for (let i = 0; i < rv.length; i++) {
      assert.ok(Math.abs(rv[i] - xv[i]) <= 0.031 + 1e-6 && rv[i] >= 0 && rv[i] <= 1);
    }
    assert.deepEqual(batchNormStats(targetLayers), bnTarget);
    assert.deepEqual(batchNormStats(guidanceLayers), bnGuidance);
    raw.dispose();
    r.results[0].clipped.dispose();
  });

  it('anchors on the guidance model: a different guidance model gives a different objective and result', async () => {
    const objective = async (g: AttackModel) => {
      const events: StepEvent[] = [];
      const r = await createCag({ guidance: g }).run(target, x, labels, { eps: 0.031, seed: 3, onStep: (e) => events.push(e) });
      const v = Float32Array.from(r.results[0].raw.dataSync() as Float32Array);
      r.results[0].raw.dispose();
      r.results[0].clipped.dispose();
      return { start: events[0].objective, v };
    };
    const a = await objective(guidance);
    const b = await objective(target); // TRADES-style: the target's own clean prediction
    assert.notEqual(a.start, b.start);
    assert.notDeepEqual(a.v, b.v);
    // With the target as its own guide the starting KL is ~0 (x' is x + 0.001·noise).
    assert.ok(b.start < a.start);
  });

  it('generateCag (for training loops) returns the same x′ as the attack, and leaks nothing', async () => {
    const r = await createCag({ guidance }).run(target, x, labels, { eps: 0.031, seed: 5 });
    const before = tf.memory().numTensors;
    const fast = generateCag(target, guidance, x, { seed: 5 });
    assert.equal(tf.memory().numTensors, before + 1);
    const a = r.results[0].raw.dataSync() as Float32Array;
    const b = fast.dataSync() as Float32Array;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `value ${i}: ${a[i]} vs ${b[i]}`);
    fast.dispose();
    r.results[0].raw.dispose();
    r.results[0].clipped.dispose();
  });

  it('rejects a missing guidance model and L2', async () => {
    assert.throws(() => createCag({} as never), (e: Error & { code?: string; field?: string }) => e.code === 'invalid-argument' && e.field === 'guidance');
    await assert.rejects(
      createCag({ guidance }).run(target, x, labels, { eps: 0.5, norm: 'L2' }),
      (e: Error & { code?: string; field?: string }) => e.code === 'unsupported' && e.field === 'norm',
    );
  });
});
