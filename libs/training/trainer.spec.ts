import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, type tfl } from '../engine/index.js';
import { takeDataset } from '../data/index.js';
import { createMemoryStore } from '../storage/index.js';
import { openCheckpoint, readPointer, train, TrainingError, type TrainingEvent, type TrainOptions } from './index.js';
import { prototypeDataset, tinyModel } from './testing.fixture.js';

const data = prototypeDataset(64, { seed: 3 });
const trainSet = takeDataset(data, 48);
// The per-epoch check's data: the same prototypes, as a held-out slice of a training split would be.
const heldOut = prototypeDataset(64, { seed: 3 });

function baseOptions(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    method: 'd2r',
    target: tinyModel({ seed: 1 }),
    guidance: tinyModel({ seed: 2 }),
    train: trainSet,
    heldOut,
    epochs: 2,
    batchSize: 16,
    lr: 0.05,
    eps: 0.1,
    steps: 2,
    evalSize: 16,
    evalSteps: 2,
    seed: 5,
    progressEvery: 1,
    ...overrides,
  };
}

const weightsOf = (m: tfl.LayersModel) => m.getWeights().map((w) => Float32Array.from(w.dataSync()));
function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  assert.equal(a.length, b.length);
  let d = 0;
  a.forEach((w, i) => w.forEach((v, j) => (d = Math.max(d, Math.abs(v - b[i][j])))));
  return d;
}
const base = baseOptions;
const dispose = (o: TrainOptions) => {
  o.target.dispose();
  o.guidance?.dispose();
};

describe('train', () => {
  before(async () => {
    await initEngine('wasm');
  });

  it('2 epochs straight and 1 epoch + resume + 1 epoch give the same weights, optimizer and history', async () => {
    // With dropout: its masks come from the run's seed, so the resumed run draws the same ones.
    const withDropout = (seed: number) => tinyModel({ seed, dropout: 0.3 });
    const base = (overrides: Partial<TrainOptions> = {}) => baseOptions({ target: withDropout(1), guidance: withDropout(2), ...overrides });
    const straight = base({ checkpoints: createMemoryStore() });
    const full = await train(straight);
    assert.equal(full.completedEpochs, 2);

    const store = createMemoryStore();
    const controller = new AbortController();
    const events: TrainingEvent[] = [];
    const first = base({
      checkpoints: store,
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'checkpoint' && e.epoch === 1) controller.abort(new Error('stop after epoch 1'));
      },
    });
    await assert.rejects(train(first), (e: unknown) => TrainingError.is(e, 'aborted'));
    assert.ok(events.some((e) => e.type === 'batch') && events.some((e) => e.type === 'epoch'));
    assert.equal((await readPointer(store, 'latest'))?.epoch, 1);

    // Fresh models with other initial weights: everything must come from the checkpoint.
    const second = base({ checkpoints: store, resume: true, target: withDropout(11), guidance: withDropout(12) });
    const again = base({ checkpoints: store });
    await assert.rejects(train(again), (e: unknown) => TrainingError.is(e, 'invalid-argument') && (e as TrainingError).field === 'checkpoints');
    dispose(again);
    const resumed = await train(second);
    assert.equal(resumed.resumedFrom, 1);
    assert.equal(resumed.completedEpochs, 2);
    assert.equal(resumed.history.length, 2);

    const tol = 1e-5;
    assert.ok(maxDiff(weightsOf(second.target), weightsOf(straight.target)) <= tol, 'target weights (BN moving stats included)');
    assert.ok(maxDiff(weightsOf(second.guidance!), weightsOf(straight.guidance!)) <= tol, 'guidance weights');
    resumed.history.forEach((r, i) => {
      assert.ok(Math.abs(r.loss - full.history[i].loss) <= 1e-4, `epoch ${r.epoch} loss ${r.loss} vs ${full.history[i].loss}`);
      assert.equal(r.lr, full.history[i].lr);
      assert.equal(r.cleanAccuracy, full.history[i].cleanAccuracy);
    });
    const a = await openCheckpoint(straight.checkpoints!, 'epoch-0002');
    const b = await openCheckpoint(store, 'epoch-0002');
    const [ma, mb] = [a.optimizerState(), b.optimizerState()];
    assert.equal(mb.steps, ma.steps);
    assert.ok(maxDiff(mb.buffers.map((x) => x.values), ma.buffers.map((x) => x.values)) <= tol, 'momentum buffers');
    assert.deepEqual(b.state.rng, a.state.rng);
    [straight, first, second].forEach(dispose);
  });

  it('writes the checkpoint layout, keeps only the latest and the best, and checks sha256s', async () => {
    const store = createMemoryStore();
    const o = base({ checkpoints: store, epochs: 3, method: 'trades', guidance: undefined });
    const result = await train(o);
    const keys = await store.list();
    const latest = await readPointer(store, 'latest');
    const best = await readPointer(store, 'best');
    assert.equal(latest?.key, 'epoch-0003');
    const folders = new Set(keys.filter((k) => k.startsWith('epoch-')).map((k) => k.split('/')[0]));
    assert.deepEqual([...folders].sort(), [...new Set(['epoch-0003', best?.key ?? 'epoch-0003'])].sort());
    for (const f of ['target/model.json', 'optimizer.bin', 'optimizer.json', 'state.json', 'manifest.json']) {
      assert.ok(keys.includes(`epoch-0003/${f}`), `epoch-0003/${f}`);
    }
    assert.ok(!keys.some((k) => k.includes('/guidance/')), 'no guidance model for trades');
    const ckpt = await openCheckpoint(store, 'epoch-0003');
    assert.equal(ckpt.state.epoch, 3);
    assert.equal(ckpt.state.history.length, 3);
    assert.equal((ckpt.state.config as { method: string }).method, 'trades');
    assert.equal(result.checkpoints?.latest, `${store.uri}/epoch-0003`);
    const bytes = await store.get('epoch-0003/optimizer.bin');
    bytes[0] ^= 1;
    await store.put('epoch-0003/optimizer.bin', bytes);
    await assert.rejects(openCheckpoint(store, 'epoch-0003'), (e: unknown) => TrainingError.is(e, 'corrupt') && /sha256/.test((e as Error).message));
    bytes[0] ^= 1;
    await store.put('epoch-0003/optimizer.bin', bytes);
    // Model files are checked when read, too.
    const weightsKey = keys.find((k) => k.startsWith('epoch-0003/target/') && !k.endsWith('model.json'))!;
    const weights = await store.get(weightsKey);
    weights[weights.length - 1] ^= 1;
    await store.put(weightsKey, weights);
    const opened = await openCheckpoint(store, 'epoch-0003');
    await assert.rejects(opened.loadModel('target'), (e: unknown) => TrainingError.is(e, 'corrupt') && /sha256/.test((e as Error).message));
    dispose(o);
  });

  it('reports a collapsed run in the events and the summary instead of returning it silently', async () => {
    const target = tinyModel({ seed: 4, batchNorm: false });
    // Every logit but class 2 pinned far down: all predictions are class 2 and a tiny lr cannot fix it.
    // The outputs are constant (zero kernel) but every ReLU is alive, so it is not 'dead-relu'.
    const dense = target.layers.at(-1)!;
    const pinned = [tf.zerosLike(dense.getWeights()[0]), tf.tensor1d([-50, -50, 50, -50])];
    dense.setWeights(pinned);
    tf.dispose(pinned);
    const events: TrainingEvent[] = [];
    const o = base({ method: 'standard', guidance: undefined, target, epochs: 2, lr: 1e-6, onEvent: (e) => events.push(e) });
    const result = await train(o);
    assert.equal(result.collapsed, true);
    assert.equal(result.collapse?.reason, 'single-class');
    // Alive, so it may recover: training runs every epoch.
    assert.equal(result.completedEpochs, 2);
    assert.equal(result.stopped, undefined);
    assert.match(result.warnings.join('\n'), /epoch 1: training collapsed \(single-class\)/);
    assert.ok(events.some((e) => e.type === 'collapse' && e.collapse.reason === 'single-class'));
    assert.equal(result.best, null, 'a collapsed epoch is never the best');
    dispose(o);
  });

  it('a target whose ReLUs are dead is flagged dead-relu, naming the dead layer, and training stops', async () => {
    const target = tinyModel({ seed: 4, batchNorm: false });
    // The second conv's bias far below any input's contribution: its ReLU never fires, so the
    // logits are the dense layer's bias for every image, and no gradient reaches the convs.
    const conv = target.layers.filter((l) => l.getClassName() === 'Conv2D')[1];
    const [kernel, bias] = conv.getWeights();
    const dead = tf.fill(bias.shape, -1000);
    conv.setWeights([kernel, dead]);
    dead.dispose();
    const relu = target.layers.filter((l) => l.getClassName() === 'ReLU')[1];
    const events: TrainingEvent[] = [];
    const o = base({ method: 'standard', guidance: undefined, target, epochs: 3, lr: 0.05, onEvent: (e) => events.push(e) });
    const result = await train(o);
    // It stops there: two more epochs could not change a constant function.
    assert.deepEqual(result.stopped, { epoch: 1, reason: 'dead-relu' });
    assert.equal(result.completedEpochs, 1);
    assert.equal(result.epochs, 3);
    assert.equal(result.history.length, 1);
    assert.match(result.warnings.at(-1)!, /^stopped after epoch 1 of 3: the target's ReLUs are dead/);
    assert.equal(result.collapse?.reason, 'dead-relu');
    assert.match(result.collapse!.message, /the outputs are the same for all 16 held-out samples/);
    assert.match(result.collapse!.message, new RegExp(`no unit of layer ${relu.name} fires on any input \\(dead ReLUs\\)`));
    assert.match(result.collapse!.message, /restart with a lower learning rate/);
    assert.ok(!result.collapse!.message.includes(target.layers.filter((l) => l.getClassName() === 'ReLU')[0].name), 'the live ReLU is not named');
    assert.ok(events.some((e) => e.type === 'collapse' && e.collapse.reason === 'dead-relu'));
    assert.equal(result.best, null);
    dispose(o);
  });

  it('rejects bad configurations before any work, naming the field', async () => {
    const cases: Array<[string, Partial<TrainOptions>, RegExp]> = [
      ['eps', { eps: 0 }, /^eps: /],
      ['eps', { eps: -0.1 }, /^eps: /],
      ['method', { method: 'fgsm-at' }, /^method: unknown method "fgsm-at"/],
      ['guidance', { guidance: tinyModel({ seed: 3, numClasses: 5 }) }, /^guidance: .*5 classes.*4/],
      ['guidance', { guidance: undefined }, /^guidance: method d2r co-trains a guidance model/],
      ['batchSize', { batchSize: 49 }, /^batchSize: 49 is larger than the training data \(48 examples\)/],
      ['epochs', { epochs: 0 }, /^epochs: /],
      ['lr', { lr: 0 }, /^lr: /],
      ['lr', { lr: -1 }, /^lr: /],
      ['train', { train: prototypeDataset(8, { numClasses: 3 }) }, /^train: has 3 classes/],
      ['beta', { beta: 6 }, /^beta: method d2r has no beta/],
    ];
    for (const [field, overrides, message] of cases) {
      const events: TrainingEvent[] = [];
      const o = base({ ...overrides, onEvent: (e) => events.push(e) });
      const before = weightsOf(o.target);
      await assert.rejects(
        train(o),
        (e: unknown) => TrainingError.is(e, 'invalid-argument') && (e as TrainingError).field === field && message.test((e as Error).message),
        `${field} ${JSON.stringify(Object.keys(overrides))}`,
      );
      assert.equal(events.length, 0, 'no work started');
      assert.equal(maxDiff(weightsOf(o.target), before), 0);
      dispose(o);
    }
  });
});
