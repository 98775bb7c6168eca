import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { getHardenMetrics } from './metrics.js';
import { startTestTelemetry } from './testing.fixture.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

describe('harden metrics', () => {
  it('reports jobs by kind and state and the queue depth from a reader, and counts transitions', async () => {
    const m = getHardenMetrics();
    assert.equal(getHardenMetrics(), m, 'one set per process');
    let counts = { harden: { QUEUED: 2, RUNNING: 1, SUCCEEDED: 0 } };
    const stop = m.observeJobs(() => counts);
    const byState = async () => Object.fromEntries((await telemetry.points('harden.jobs')).map((p) => [`${p.attributes['harden.job_kind']}/${p.attributes['harden.job_state']}`, p.value]));
    assert.deepEqual(await byState(), { 'harden/QUEUED': 2, 'harden/RUNNING': 1, 'harden/SUCCEEDED': 0 });
    assert.equal((await telemetry.points('harden.jobs.queue_depth'))[0].value, 2);
    counts = { harden: { QUEUED: 0, RUNNING: 1, SUCCEEDED: 2 } };
    assert.equal((await telemetry.points('harden.jobs.queue_depth'))[0].value, 0);
    stop();
    m.jobTransition('RUNNING', { 'harden.job_kind': 'harden' });
    m.jobTransition('SUCCEEDED', { 'harden.job_kind': 'harden' });
    const transitions = await telemetry.points('harden.jobs.transitions');
    assert.equal(transitions.reduce((s, p) => s + (p.value as number), 0), 2);
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
