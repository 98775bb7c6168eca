import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf } from '../engine/index.js';
import { createDataset } from '../data/index.js';
import { initTestEngine, linearModel, seededUniform } from '../attacks/testing.fixture.js';
import { assembleReport, evaluateRobustness, evaluateShard, shardRange, validateShard, type EvaluationShard, type RobustnessReport } from './index.js';

/** The report without what legitimately differs between runs: timings, dates, thread counts. */
function comparable(r: RobustnessReport) {
  const { created_at: _c, seconds: _s, environment: _e, ...rest } = r;
  return { ...rest, attacks: rest.attacks.map(({ seconds: _t, ...row }) => row) };
}

describe('evaluation shards', () => {
  const shape: [number, number, number] = [4, 4, 1];
  let model: ReturnType<typeof linearModel>;
  let data: ReturnType<typeof createDataset>;
  let whole: RobustnessReport;
  let shards: EvaluationShard[];
  const settings = { modelUri: 'memory://linear', datasetSpec: 'synthetic', eps: 0.2, sweep: true, sweepFractions: [0.5], examples: 12, seed: 7, id: 'eval-1' };

  before(async () => {
    await initTestEngine();
    model = linearModel(shape, seededUniform(1, 16 * 3, -1, 1), new Float32Array(3));
    const n = 25;
    const images = seededUniform(2, n * 16);
    // Labels: the model's own predictions, with every fourth one changed (some samples start wrong).
    const labels = tf.tidy(() => tf.argMax(model.predict(tf.tensor4d(images, [n, ...shape])) as tf.Tensor2D, 1).dataSync() as Int32Array).map((l, i) => (i % 4 === 3 ? (l + 1) % 3 : l));
    data = createDataset({ name: 'synthetic', split: 'test', source: 'test', shape, numClasses: 3, classNames: ['a', 'b', 'c'], images, labels: Int32Array.from(labels) });
    whole = await evaluateRobustness({ model, data, ...settings });
    shards = [];
    for (let index = 0; index < 3; index++) shards.push(await evaluateShard({ model, data, ...settings, shard: { index, count: 3 } }));
  });

  it('slices n samples into balanced ranges that tile [0, n)', () => {
    for (const [n, count] of [[25, 3], [10, 10], [7, 1], [1000, 7]]) {
      const ranges = Array.from({ length: count }, (_, i) => shardRange(n, count, i));
      assert.equal(ranges[0].start, 0);
      assert.equal(ranges.at(-1)!.end, n);
      for (let i = 1; i < count; i++) assert.equal(ranges[i].start, ranges[i - 1].end);
      const sizes = ranges.map((r) => r.end - r.start);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes.join(',')}`);
    }
    assert.throws(() => shardRange(5, 6, 0), /shard count must be an integer in \[1, 5\]/);
    assert.throws(() => shardRange(5, 2, 2), /shard index must be an integer in \[0, 1\]/);
  });

  it('merges three slices into exactly the report of the whole set', () => {
    assert.deepEqual(shards.map((s) => [s.shard.start, s.shard.end]), [[0, 8], [8, 16], [16, 25]]);
    assert.ok(whole.robust_accuracy < whole.clean_accuracy && whole.clean_accuracy < 1, 'the attacks and the wrong labels show in the figures');
    const merged = assembleReport([shards[2], shards[0], shards[1]]);
    assert.deepEqual(comparable(merged), comparable(whole));
    assert.equal(merged.examples.length, 12, 'examples span the first two slices');
    assert.equal(merged.environment.shards, 3);
    assert.equal(whole.environment.shards, undefined);
    // Row seconds add up the slices' compute time.
    const pgd = merged.attacks.find((a) => a.name === 'pgd-20')!;
    assert.ok(Math.abs(pgd.seconds - shards.reduce((a, s) => a + s.attacks[1].seconds, 0)) < 1e-5);
  });

  it('keeps per-sample results that survive a JSON round trip', () => {
    const reread = shards.map((s, i) => validateShard(JSON.parse(JSON.stringify(s)), `shard-${i}.json`));
    assert.deepEqual(comparable(assembleReport(reread)), comparable(whole));
  });

  it('refuses a missing, repeated or foreign shard, naming it', () => {
    const fails = (list: EvaluationShard[], pattern: RegExp) =>
      assert.throws(() => assembleReport(list), (e: Error & { code?: string }) => e.code === 'bad-shard' && pattern.test(e.message));
    fails([shards[0], shards[2]], /shard 1 of 3: is missing/);
    fails([shards[0], shards[1]], /shard 2 of 3: is missing/);
    fails([shards[0], shards[1], shards[1], shards[2]], /shard 1 of 3: appears twice/);
    const otherModel = { ...shards[1], model: { ...shards[1].model, sha256: 'f'.repeat(64) } };
    fails([shards[0], otherModel, shards[2]], /shard 1 of 3: belongs to a different model/);
    const otherEps = { ...shards[2], eps: 0.1 };
    fails([shards[0], shards[1], otherEps], /shard 2 of 3: belongs to different suite, ε/);
    const shifted = { ...shards[1], shard: { ...shards[1].shard, start: 9 } };
    fails([shards[0], shifted, shards[2]], /shard 1 of 3: starts at sample 9, expected 8/);
    assert.throws(() => assembleReport([]), /no shards/);
  });

  it('validates a shard file before merging it', () => {
    assert.throws(() => validateShard([], 's.json'), /s\.json: not a JSON object/);
    assert.throws(() => validateShard({ ...shards[0], kind: 'report' }, 's.json'), /kind is "report"/);
    assert.throws(() => validateShard({ ...shards[0], labels: [1, 2] }, 's.json'), /labels is not 8 integers/);
    const row = { ...shards[0].attacks[0], success: [1] };
    assert.throws(() => validateShard({ ...shards[0], attacks: [row] }, 's.json'), /attacks\[0\] \(fgsm\) does not have 8 per-sample results/);
  });
});
