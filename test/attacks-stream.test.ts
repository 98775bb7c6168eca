/**
 * Attacked batches as streams (libs/attacks `createAttackStreamer` on a real worker pool): a stream
 * opened beside a busy one gets the next free worker instead of waiting behind the other's queued
 * batches; interleaving does not change what either stream computes; a stream that ends early
 * drops its queued batches and leaves the other running.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorkerPool, tf, type WorkerPool } from '../libs/engine/index.js';
import { modelToBytes } from '../libs/models/index.js';
import { createAttackStreamer, type AttackStreamer, type StreamData, type StreamedBatch, type StreamModels, type StreamRequest } from '../libs/attacks/index.js';
import { initTestEngine, seededUniform, tinyBnModel } from '../libs/attacks/testing.fixture.js';

const SHAPE: [number, number, number] = [8, 8, 1];
const N = 96;
const BATCH = 8;

describe('createAttackStreamer', () => {
  let pool: WorkerPool;
  let streamer: AttackStreamer;
  let models: StreamModels;
  const data: StreamData = {
    images: seededUniform(3, N * 64),
    labels: Int32Array.from({ length: N }, (_, i) => (i * 3) % 10),
    shape: SHAPE,
    size: N,
  };
  const request = (numBatches: number, offset = 0): StreamRequest => ({
    attack: 'pgd',
    options: { steps: 40 },
    eps: 0.1,
    norm: 'Linf',
    seed: 7,
    offset,
    batchSize: BATCH,
    numBatches,
  });

  before(async () => {
    await initTestEngine();
    // One worker: which batch gets it next is then the whole question.
    pool = createWorkerPool({ size: 1, backend: 'wasm' });
    streamer = createAttackStreamer(pool);
    const model = tinyBnModel(SHAPE, 10, 5);
    models = await streamer.load(await modelToBytes(model));
    model.dispose();
    assert.equal(tf.getBackend(), 'wasm');
  });
  after(() => pool.close());

  async function collect(stream: AsyncGenerator<StreamedBatch>, arrivals: string[], name: string, stopAfter = Infinity) {
    const out: StreamedBatch[] = [];
    for await (const batch of stream) {
      arrivals.push(`${name}${batch.index}`);
      out.push(batch);
      if (out.length >= stopAfter) break;
    }
    return out;
  }

  it('a second stream gets the next free worker, ahead of the first stream\'s queued batches', async () => {
    const arrivals: string[] = [];
    const alone = await collect(streamer.stream(models, data, request(6)), [], 'solo');
    const a = streamer.stream(models, data, request(6));
    const aDone = (async () => {
      const out: StreamedBatch[] = [];
      let bDone: Promise<StreamedBatch[]> | undefined;
      for await (const batch of a) {
        arrivals.push(`a${batch.index}`);
        out.push(batch);
        // b opens once a has answered its first batch, with a's next batches queued.
        if (batch.index === 0) bDone = collect(streamer.stream(models, data, request(3, 48)), arrivals, 'b');
      }
      return { out, b: await bDone! };
    })();
    const { out, b } = await aDone;
    // a had prepared two batches ahead (a1 running, a2 waiting) when b opened; b0 came straight after a1.
    assert.ok(arrivals.indexOf('b0') < arrivals.indexOf('a2'), `arrival order ${arrivals.join(' ')}`);
    assert.deepEqual(arrivals.filter((s) => s.startsWith('a')), ['a0', 'a1', 'a2', 'a3', 'a4', 'a5']);
    assert.deepEqual(arrivals.filter((s) => s.startsWith('b')), ['b0', 'b1', 'b2']);
    // Interleaved or alone, a stream computes the same batches.
    assert.equal(out.length, alone.length);
    for (let i = 0; i < out.length; i++) {
      assert.equal(out[i].first, alone[i].first);
      assert.deepEqual(out[i].predictions, alone[i].predictions);
      assert.deepEqual(out[i].adversarial, alone[i].adversarial);
    }
    assert.deepEqual(b.map((x) => x.first), [48, 56, 64]);
    assert.equal(streamer.inFlight, 0);
  });

  it('a stream that stops early drops its queued batches; the other runs to the end', async () => {
    const arrivals: string[] = [];
    const [a, b] = await Promise.all([
      collect(streamer.stream(models, data, request(12)), arrivals, 'a', 1),
      collect(streamer.stream(models, data, request(4, 32)), arrivals, 'b'),
    ]);
    assert.equal(a.length, 1);
    assert.deepEqual(b.map((x) => x.first), [32, 40, 48, 56]);
    // a1, prepared but not started when a stopped, never took the worker from b.
    assert.deepEqual(arrivals, ['a0', 'b0', 'b1', 'b2', 'b3']);
    assert.equal(streamer.inFlight, 0);
  });
});
