import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { getHardenMetrics } from './metrics.js';
import { startTestTelemetry } from './testing.fixture.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

describe('harden metrics', () => {
  it('counts jobs by state through their transitions, and the queue depth', async () => {
    const m = getHardenMetrics();
    assert.equal(getHardenMetrics(), m, 'one set per process');
    m.jobTransition(undefined, 'QUEUED');
    m.jobTransition(undefined, 'QUEUED');
    m.jobTransition('QUEUED', 'RUNNING');
    m.jobTransition('RUNNING', 'SUCCEEDED');
    let waiting = 1;
    const stop = m.observeQueueDepth(() => waiting);
    const byState = Object.fromEntries((await telemetry.points('harden.jobs')).map((p) => [p.attributes['harden.job_state'], p.value]));
    assert.deepEqual(byState, { QUEUED: 1, RUNNING: 0, SUCCEEDED: 1 });
    assert.equal((await telemetry.points('harden.jobs.queue_depth'))[0].value, 1);
    waiting = 3;
    assert.equal((await telemetry.points('harden.jobs.queue_depth'))[0].value, 3);
    stop();
    const transitions = await telemetry.points('harden.jobs.transitions');
    assert.equal(transitions.reduce((s, p) => s + (p.value as number), 0), 4);
  });
  it('records epoch time and throughput as histograms, ignoring non-finite values', async () => {
    const m = getHardenMetrics();
    m.epoch(12.5, 210, { 'harden.method': 'd2r', 'harden.backend': 'wasm' });
    m.epoch(Number.NaN, Number.POSITIVE_INFINITY, { 'harden.method': 'd2r' });
    const [epoch] = await telemetry.points('harden.training.epoch.duration');
    assert.equal((epoch.value as { count: number; sum: number }).count, 1);
    assert.equal((epoch.value as { sum: number }).sum, 12.5);
    assert.equal(epoch.attributes['harden.method'], 'd2r');
    const [img] = await telemetry.points('harden.training.throughput');
    assert.equal((img.value as { sum: number }).sum, 210);
  });
});
