import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ATTR, withSpan } from '../telemetry/index.js';
import { parentOf, startTestTelemetry } from '../telemetry/testing.fixture.js';
import { createTrainingTelemetry } from './telemetry.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

const record = (epoch: number) => ({ epoch, lr: 0.1, eps: 0.031, loss: 1.5 / epoch, trainSeconds: 10, evalSeconds: 2, imagesPerSecond: 200, evalSize: 64, cleanAccuracy: 0.8, robustAccuracy: 0.4, dominantClass: 3, dominantFraction: 0.2 });

describe('createTrainingTelemetry', () => {
  it('turns trainer events into epoch spans under the job span, with metrics', async () => {
    let clock = 1_000_000;
    await withSpan('harden.job', { [ATTR.JOB_ID]: 'j1' }, async () => {
      const t = createTrainingTelemetry({ [ATTR.JOB_ID]: 'j1', [ATTR.METHOD]: 'd2r', [ATTR.BACKEND]: 'wasm' }, { now: () => clock });
      for (const epoch of [1, 2]) {
        t.onEvent({ type: 'batch', epoch, epochs: 2, batch: 1, batches: 2, loss: 1, lr: 0.1, eps: 0.031, imagesPerSecond: 190, elapsedSeconds: 1, etaSeconds: 10 });
        clock += 12_000;
        t.onEvent({ type: 'epoch', record: record(epoch), etaSeconds: 0 });
        t.onEvent({ type: 'checkpoint', epoch, uri: `memory://x/epoch-${epoch}`, best: epoch === 2 });
      }
      t.onEvent({ type: 'batch', epoch: 3, epochs: 3, batch: 1, batches: 2, loss: 1, lr: 0.1, eps: 0.031, imagesPerSecond: 190, elapsedSeconds: 1, etaSeconds: 10 });
      t.end(Object.assign(new Error('cancelled'), { name: 'AbortError' }));
    });
    const job = telemetry.span('harden.job');
    const epochs = telemetry.spans().filter((s) => s.name === 'harden.epoch');
    assert.deepEqual(epochs.map((s) => s.attributes[ATTR.EPOCH]), [1, 2, 3]);
    for (const e of epochs) assert.equal(parentOf(e), job.spanContext().spanId);
    const [first] = epochs;
    assert.equal(first.attributes[ATTR.IMG_PER_S], 200);
    assert.equal(first.attributes[ATTR.ROBUST_ACCURACY], 0.4);
    assert.equal(first.attributes[ATTR.METHOD], 'd2r');
    assert.equal(first.startTime[0], 1000, 'the first epoch starts when the telemetry was created');
    assert.equal(first.endTime[0] - first.startTime[0], 12, 'and ends at its epoch event');
    assert.deepEqual(job.events.filter((e) => e.name === 'checkpoint').map((e) => e.attributes?.[ATTR.MODEL_URI]), ['memory://x/epoch-1', 'memory://x/epoch-2']);
    assert.equal(epochs[2].attributes['harden.cancelled'], true);
    const [duration] = await telemetry.points('harden.training.epoch.duration');
    assert.equal((duration.value as { count: number }).count, 2);
    assert.equal(duration.attributes[ATTR.METHOD], 'd2r');
  });
});
