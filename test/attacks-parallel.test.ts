/**
 * Data-parallel attacks (libs/attacks + the engine's worker pool + libs/models' byte format): a batch
 * split over two worker threads gives the same per-sample result as one thread, in sample order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorkerPool, tf, type Tensor4D, type WorkerPool } from '../libs/engine/index.js';
import { modelToBytes, type ModelBytes } from '../libs/models/index.js';
import { AttackError, fromLayersModel, runAttackByName, runAttackParallel, type AttackModel, type StepEvent } from '../libs/attacks/index.js';
import { initTestEngine, randomInputs, tinyBnModel } from '../libs/attacks/testing.fixture.js';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 22;

describe('runAttackParallel', () => {
  let pool: WorkerPool;
  let target: AttackModel;
  let guidance: AttackModel;
  let bytes: { target: ModelBytes; guidance: ModelBytes };
  let x: Tensor4D;
  const labels = Int32Array.from({ length: N }, (_, i) => (i * 7) % 10);

  before(async () => {
    await initTestEngine();
    pool = createWorkerPool({ size: 2, backend: 'wasm' });
    const t = tinyBnModel(SHAPE, 10, 5);
    const g = tinyBnModel(SHAPE, 10, 9);
    target = fromLayersModel(t);
    guidance = fromLayersModel(g);
    bytes = { target: await modelToBytes(t), guidance: await modelToBytes(g) };
    x = randomInputs(12, N, SHAPE);
    await pool.ready();
  });
  after(() => pool.close());

  for (const [name, options] of [
    ['apgd-ce', { steps: 8 }],
    ['autoattack', { steps: 5, queries: 40, targets: 3 }],
  ] as const) {
    it(`${name}: two workers, shards of 5, match one thread`, async () => {
      const serial = await runAttackByName(name, target, x, labels, { eps: 0.08, seed: 4, ...options });
      const parallel = await runAttackParallel(pool, { target: bytes.target }, x, labels, name, { eps: 0.08, seed: 4, shardSize: 5, ...options });
      assert.equal(parallel.n, N);
      assert.deepEqual(parallel.success, serial.success);
      assert.deepEqual(parallel.predictions, serial.predictions);
      assert.deepEqual(parallel.stages, serial.stages);
      assert.equal(parallel.cleanAccuracy, serial.cleanAccuracy);
      assert.equal(parallel.robustAccuracy, serial.robustAccuracy);
      const a = parallel.adversarial.dataSync() as Float32Array;
      const b = serial.adversarial.dataSync() as Float32Array;
      for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `value ${i}`);
      assert.ok(Math.abs(parallel.maxPerturbation - serial.maxPerturbation) < 1e-6);
      parallel.adversarial.dispose();
      serial.adversarial.dispose();
    });
  }

  it('cag: ships the guidance model to the workers', async () => {
    const serial = await runAttackByName('cag', target, x, labels, { seed: 2, guidance });
    const parallel = await runAttackParallel(pool, bytes, x, labels, 'cag', { seed: 2, shardSize: 8 });
    assert.equal(parallel.eps, 0.031);
    const a = parallel.adversarial.dataSync() as Float32Array;
    const b = serial.adversarial.dataSync() as Float32Array;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `value ${i}`);
    parallel.adversarial.dispose();
    serial.adversarial.dispose();
  });

  it('attacks a slice with its global indexOffset as it is attacked inside the whole batch', async () => {
    const whole = await runAttackByName('pgd', target, x, labels, { eps: 0.08, seed: 3, steps: 5, randomStart: true });
    const slice = tf.slice(x, [9, 0, 0, 0], [7, ...SHAPE]);
    const part = await runAttackParallel(pool, { target: bytes.target }, slice, labels.slice(9, 16), 'pgd', { eps: 0.08, seed: 3, steps: 5, randomStart: true, indexOffset: 9, shardSize: 4 });
    assert.deepEqual(part.success, whole.success.slice(9, 16));
    const a = part.adversarial.dataSync() as Float32Array;
    const b = (whole.adversarial.dataSync() as Float32Array).subarray(9 * 64, 16 * 64);
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-5, `value ${i}`);
    // Without the offset the random starts differ.
    const unkeyed = await runAttackParallel(pool, { target: bytes.target }, slice, labels.slice(9, 16), 'pgd', { eps: 0.08, seed: 3, steps: 5, randomStart: true, shardSize: 4 });
    assert.notDeepEqual(unkeyed.adversarial.dataSync(), part.adversarial.dataSync());
    for (const t of [slice, part.adversarial, unkeyed.adversarial, whole.adversarial]) t.dispose();
  });

  it('relays the lead shard\'s steps to onStep, and the result does not change', async () => {
    const options = { eps: 0.08, seed: 4, steps: 5, queries: 40, targets: 3 };
    const quiet = await runAttackParallel(pool, { target: bytes.target }, x, labels, 'autoattack', { ...options, shardSize: 8 });
    const steps: StepEvent[] = [];
    const loud = await runAttackParallel(pool, { target: bytes.target }, x, labels, 'autoattack', { ...options, shardSize: 8, onStep: (e: StepEvent) => steps.push(e) });
    assert.deepEqual(loud.success, quiet.success);
    assert.deepEqual(loud.stages, quiet.stages);
    quiet.adversarial.dispose();
    loud.adversarial.dispose();
    // Three shards (8, 8, 6) on two workers: steps from the stages AutoAttack runs, in stage order
    // within a shard, each a StepEvent with its numbers.
    assert.ok(steps.length > 0, 'steps arrive');
    for (const e of steps) {
      assert.ok(['apgd-ce', 'apgd-t', 'fab-t', 'square'].includes(e.attack), e.attack);
      assert.ok(Number.isInteger(e.step) && e.step >= 0);
      assert.ok(Number.isFinite(e.objective));
      assert.ok(e.samples > 0 && e.samples <= 8, `samples ${e.samples} within one shard`);
    }
    assert.ok(steps.some((e) => e.attack === 'apgd-ce'));
    // Only the lead shard speaks, so the shard index never goes back.
    assert.ok(steps.every((e) => e.shard?.count === 3 && e.shard.index >= 0 && e.shard.index < 3));
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i].shard!.index >= steps[i - 1].shard!.index, `shard order at event ${i}`);
    await assert.rejects(runAttackParallel(pool, { target: bytes.target }, x, labels, 'fgsm', { onStep: 3 }), (e: unknown) => AttackError.is(e, 'invalid-argument'));
  });

  it('validates options on the calling thread and honours abort', async () => {
    await assert.rejects(runAttackParallel(pool, bytes, x, labels, 'pgd', { steps: -1 }), (e: unknown) => AttackError.is(e, 'invalid-argument'));
    await assert.rejects(runAttackParallel(pool, { target: bytes.target }, x, labels, 'cag', {}), (e: unknown) => AttackError.is(e, 'invalid-argument'));
    const controller = new AbortController();
    const run = runAttackParallel(pool, { target: bytes.target }, x, labels, 'apgd-ce', { eps: 0.05, steps: 500, shardSize: 11, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await assert.rejects(run, (e: unknown) => AttackError.is(e, 'aborted') || (e as { remoteCode?: string }).remoteCode === 'aborted');
  });

  it('leaves no tensors on the calling thread besides the result', async () => {
    const before = tf.memory().numTensors;
    const r = await runAttackParallel(pool, { target: bytes.target }, x, labels, 'fgsm', { eps: 0.05 });
    assert.equal(tf.memory().numTensors, before + 1);
    r.adversarial.dispose();
  });
});
