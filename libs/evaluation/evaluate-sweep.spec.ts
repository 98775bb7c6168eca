import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createWorkerPool, tf } from '../engine/index.js';
import { createDataset } from '../data/index.js';
import { initTestEngine, linearModel, seededUniform } from '../attacks/testing.fixture.js';
import { evaluateRobustness, type EvaluationEvent } from './index.js';

describe('evaluateRobustness: the ε sweep', () => {
  const shape: [number, number, number] = [4, 4, 1];
  let model: ReturnType<typeof linearModel>;
  let data: ReturnType<typeof createDataset>;

  before(async () => {
    await initTestEngine();
    model = linearModel(shape, seededUniform(1, 16 * 3, -1, 1), new Float32Array(3));
    const n = 24;
    const images = seededUniform(2, n * 16);
    // Labels are the model's own predictions, so every sample starts correct.
    const labels = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(images, [n, ...shape])) as tf.Tensor2D, 1).dataSync() as Int32Array);
    data = createDataset({ name: 'synthetic', split: 'test', source: 'test', shape, numClasses: 3, images, labels: Int32Array.from(labels) });
  });

  it('measures FGSM and PGD-20 at ε × {0.25, 0.5, 0.75} and ends each curve at the row itself', async () => {
    const events: EvaluationEvent[] = [];
    const report = await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, sweep: true, examples: 0, onProgress: (e) => events.push(e) });
    assert.deepEqual(report.eps_sweep?.map((s) => [s.name, s.attack, s.norm]), [['fgsm', 'fgsm', 'Linf'], ['pgd-20', 'pgd', 'Linf']]);
    for (const row of report.eps_sweep!) {
      assert.deepEqual(row.points.map((p) => p.eps), [0.05, 0.1, 0.15, 0.2]);
      assert.equal(row.points.at(-1)!.robust_accuracy, report.attacks.find((a) => a.name === row.name)!.robust_accuracy);
      for (const p of row.points) assert.ok(p.robust_accuracy <= report.clean_accuracy);
    }
    // On a linear model a larger L∞ ball never helps the model against PGD.
    const pgd = report.eps_sweep![1].points.map((p) => p.robust_accuracy);
    for (let i = 1; i < pgd.length; i++) assert.ok(pgd[i] <= pgd[i - 1], `PGD robust accuracy ${pgd.join(', ')}`);
    assert.ok(pgd[0] > pgd.at(-1)!, 'the sweep spans a visible change');
    // Progress counts the 3 rows and the 6 sweep runs.
    const starts = events.filter((e) => e.type === 'attack-start');
    assert.deepEqual(starts.map((e) => e.type === 'attack-start' && [e.name, e.index, e.total]), [
      ['fgsm', 0, 9], ['pgd-20', 1, 9], ['cw-20', 2, 9],
      ['fgsm ε=0.05', 3, 9], ['fgsm ε=0.1', 4, 9], ['fgsm ε=0.15', 5, 9],
      ['pgd-20 ε=0.05', 6, 9], ['pgd-20 ε=0.1', 7, 9], ['pgd-20 ε=0.15', 8, 9],
    ]);
  });

  it('reports the stage and step inside long rows, throttled', async () => {
    const every: EvaluationEvent[] = [];
    await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, examples: 0, stepEveryMs: 0, onProgress: (e) => every.push(e) });
    const pgd = every.filter((e) => e.type === 'attack-step' && e.name === 'pgd-20');
    assert.ok(pgd.length >= 20, `a step event per PGD step (${pgd.length})`);
    assert.ok(pgd.every((e) => e.type === 'attack-step' && e.stage === 'pgd' && e.index === 1 && e.total === 3));
    const throttled: EvaluationEvent[] = [];
    await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, examples: 0, stepEveryMs: 60_000, onProgress: (e) => throttled.push(e) });
    // Throttled: rows of one stage say nothing within a minute.
    assert.deepEqual(throttled.filter((e) => e.type === 'attack-step'), []);
  });

  it('reports the steps of a worker pool\'s lead shard, and the report does not change', async () => {
    const pool = createWorkerPool({ size: 2, backend: 'wasm' });
    try {
      const events: EvaluationEvent[] = [];
      const pooled = await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, examples: 0, pool, stepEveryMs: 0, onProgress: (e) => events.push(e) });
      const pgd = events.filter((e) => e.type === 'attack-step' && e.name === 'pgd-20');
      assert.ok(pgd.length >= 20, `a step event per PGD step of the lead shard (${pgd.length})`);
      assert.ok(pgd.every((e) => e.type === 'attack-step' && e.stage === 'pgd' && e.index === 1 && e.total === 3));
      const single = await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, examples: 0 });
      assert.deepEqual(pooled.attacks.map((a) => [a.name, a.robust_accuracy]), single.attacks.map((a) => [a.name, a.robust_accuracy]));
    } finally {
      await pool.close();
    }
  });

  it('is off for the quick suite by default, and takes its own fractions', async () => {
    const quick = await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, examples: 0 });
    assert.equal(quick.eps_sweep, undefined);
    const custom = await evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, examples: 0, sweep: true, sweepFractions: [0.5, 0.1, 0.5] });
    assert.deepEqual(custom.eps_sweep![0].points.map((p) => p.eps), [0.02, 0.1, 0.2]);
  });

  it('rejects fractions outside (0, 1) before any work', async () => {
    for (const bad of [[0], [1], [-0.5], [Number.NaN]]) {
      await assert.rejects(
        evaluateRobustness({ model, modelUri: 'memory://linear', data, datasetSpec: 'synthetic', eps: 0.2, sweep: true, sweepFractions: bad }),
        (e: Error & { code?: string; field?: string }) => e.code === 'invalid-argument' && e.field === 'sweepFractions',
      );
    }
  });
});
