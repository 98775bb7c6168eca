import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { initEngine, tf, tfl } from '../engine/index.js';
import { createMemoryStore, openStore, StorageError, type ArtifactStore } from '../storage/index.js';
import {
  buildModel,
  getModelInfo,
  loadModel,
  loadModelFromUri,
  ModelError,
  modelFromBytes,
  modelToBytes,
  saveModel,
  storeIOHandler,
} from './index.js';

type Model = tfl.LayersModel;

/** Every weight (trainable or not) as named raw bytes, in model order. */
function snapshot(model: Model): { name: string; bytes: Buffer }[] {
  return model.weights.map((w) => {
    const data = w.read().dataSync() as Float32Array;
    return { name: w.originalName, bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  });
}

function assertBitIdentical(a: Model, b: Model): void {
  const sa = snapshot(a);
  const sb = snapshot(b);
  assert.deepEqual(sa.map((w) => w.name), sb.map((w) => w.name));
  for (const [i, w] of sa.entries()) assert.ok(w.bytes.equals(sb[i].bytes), `weight ${w.name} differs`);
}

const rejectsWith = (code: string, pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ModelError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, pattern);
  return true;
};

describe('saveModel / loadModel', () => {
  let dir: string;
  let store: ArtifactStore;

  before(async () => {
    await initEngine('wasm');
    dir = await mkdtemp(join(tmpdir(), 'harden-models-'));
    store = openStore(dir);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips PreActResNet-18 bit for bit, BatchNorm moving statistics included', async () => {
    const model = buildModel({ arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10, seed: 11 });
    const bn = model.getLayer('layer2_0_bn1');
    const movingBefore = Array.from(bn.getWeights()[2].dataSync());
    // Training-mode passes move the BN statistics away from their (0, 1) init.
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => model.apply(tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', i), { training: true }) as tf.Tensor);
    }
    assert.notDeepEqual(Array.from(bn.getWeights()[2].dataSync()), movingBefore, 'training mode updated moving_mean');

    const saved = await saveModel(model, store, 'runs/r1/model');
    assert.equal(saved.uri, `${store.uri}/runs/r1/model`);
    assert.equal(saved.keys.at(-1), 'runs/r1/model/model.json', 'model.json is written last');
    assert.equal(saved.weightBytes, 4 * model.countParams());
    assert.equal(saved.keys.length, 1 + Math.ceil(saved.weightBytes / (4 * 1024 * 1024)));
    assert.deepEqual(await store.list('runs/r1/model/'), [...saved.keys].sort());

    const loaded = await loadModel(store, 'runs/r1/model');
    assertBitIdentical(model, loaded);
    assert.deepEqual(getModelInfo(loaded), getModelInfo(model));
    assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name));
    const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 7);
    const [ya, yb] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
    assert.deepEqual(Array.from(yb.dataSync()), Array.from(ya.dataSync()));
    // The loaded model keeps BN behaviour: momentum and epsilon survive the topology round trip.
    const config = loaded.getLayer('layer2_0_bn1').getConfig();
    assert.equal(config.momentum, 0.9);
    assert.equal(config.epsilon, 1e-5);
    tf.dispose([x, ya, yb]);
    model.dispose();
    loaded.dispose();
  });

  it('shards weights, and a later save removes weight files it no longer uses', async () => {
    const model = buildModel({ arch: 'wide-resnet', depth: 10, widenFactor: 1, inputShape: [8, 8, 3], numClasses: 10, seed: 2 });
    const many = await saveModel(model, store, 'sharded', { shardBytes: 4096 });
    assert.ok(many.keys.length > 10);
    assertBitIdentical(model, await loadModel(store, 'sharded'));
    const one = await saveModel(model, store, 'sharded');
    assert.deepEqual(one.keys, ['sharded/group1-shard1of1.bin', 'sharded/model.json']);
    assert.deepEqual(await store.list('sharded/'), one.keys);
    assertBitIdentical(model, await loadModel(store, 'sharded'));
    await assert.rejects(saveModel(model, store, 'x', { shardBytes: 0 }), { code: 'invalid-options' });
    model.dispose();
  });

  it('loads from a folder URI (file://, path, or …/model.json)', async () => {
    const model = buildModel({ arch: 'ref-cnn', inputShape: [16, 16, 3], numClasses: 5, seed: 4 });
    const saved = await saveModel(model, store, 'uri-test/model');
    for (const uri of [saved.uri, `${saved.uri}/model.json`, join(dir, 'uri-test/model'), pathToFileURL(join(dir, 'uri-test/model/')).href]) {
      const loaded = await loadModelFromUri(uri);
      assertBitIdentical(model, loaded);
      loaded.dispose();
    }
    await assert.rejects(loadModelFromUri('ftp://host/model'), (err: unknown) => StorageError.is(err, 'unsupported-scheme'));
    model.dispose();
  });

  it('is a tfjs IOHandler: model.save and tfl.loadLayersModel work through the store', async () => {
    const mem = createMemoryStore();
    const model = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 8, zeroInitHead: false });
    await model.save(storeIOHandler(mem, 'm'));
    assert.deepEqual(await mem.list(), ['m/group1-shard1of1.bin', 'm/model.json']);
    const loaded = await tfl.loadLayersModel(storeIOHandler(mem, 'm'));
    assertBitIdentical(model, loaded);
    assert.equal(getModelInfo(loaded)?.arch, 'small-cnn');
    model.dispose();
    loaded.dispose();
  });

  it('serialises to bytes for worker threads, surviving a structured clone', async () => {
    const model = buildModel({ arch: 'wide-resnet', depth: 10, widenFactor: 1, inputShape: [8, 8, 3], numClasses: 3, seed: 6 });
    tf.tidy(() => model.apply(tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 1), { training: true }) as tf.Tensor);
    const bytes = structuredClone(await modelToBytes(model));
    const loaded = await modelFromBytes(bytes);
    assertBitIdentical(model, loaded);
    assert.deepEqual(getModelInfo(loaded), getModelInfo(model));
    await assert.rejects(modelFromBytes({ ...bytes, weightData: bytes.weightData.slice(4) }), { code: 'corrupt' });
    model.dispose();
    loaded.dispose();
  });

  it('reports missing and corrupt model files as ModelErrors naming the key', async () => {
    const model = buildModel({ arch: 'ref-cnn', inputShape: [8, 8, 1], numClasses: 2, seed: 1 });
    const mem = createMemoryStore('errors');
    await assert.rejects(loadModel(mem, 'nothing/here'), rejectsWith('not-found', /memory:\/\/errors\/nothing\/here\/model\.json/));
    await assert.rejects(loadModel(mem, '../up'), rejectsWith('invalid-options', /\.\.\/up/));
    await assert.rejects(saveModel(model, mem, 'a//b'), rejectsWith('invalid-options', /a\/\/b/));

    await saveModel(model, mem, 'missing-shard');
    await mem.delete('missing-shard/group1-shard1of1.bin');
    await assert.rejects(loadModel(mem, 'missing-shard'), rejectsWith('not-found', /missing-shard\/group1-shard1of1\.bin/));

    await saveModel(model, mem, 'truncated');
    const shard = await mem.get('truncated/group1-shard1of1.bin');
    await mem.put('truncated/group1-shard1of1.bin', shard.subarray(0, shard.byteLength - 8));
    await assert.rejects(loadModel(mem, 'truncated'), rejectsWith('corrupt', /truncated\/model\.json.*bytes/));

    await mem.put('bad-json/model.json', new TextEncoder().encode('{"modelTopology": '));
    await assert.rejects(loadModel(mem, 'bad-json'), rejectsWith('corrupt', /bad-json\/model\.json is not valid JSON/));

    await mem.put('no-topology/model.json', new TextEncoder().encode('{"weightsManifest": []}'));
    await assert.rejects(loadModel(mem, 'no-topology'), rejectsWith('corrupt', /no-topology\/model\.json has no modelTopology/));

    await mem.put('escape/model.json', new TextEncoder().encode(JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['../x.bin'], weights: [] }] })));
    await assert.rejects(loadModel(mem, 'escape'), rejectsWith('corrupt', /"\.\.\/x\.bin"/));

    await saveModel(model, mem, 'bad-topology');
    const json = JSON.parse(new TextDecoder().decode(await mem.get('bad-topology/model.json')));
    json.modelTopology.config.layers[1].class_name = 'NoSuchLayer';
    await mem.put('bad-topology/model.json', new TextEncoder().encode(JSON.stringify(json)));
    await assert.rejects(loadModel(mem, 'bad-topology'), rejectsWith('corrupt', /bad-topology\/model\.json: tfjs cannot build the model/));
    model.dispose();
  });
});
