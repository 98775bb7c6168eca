/**
 * Jobs in traces and metrics (libs/telemetry over libs/jobs): each attempt is a `harden.job` span
 * whose parent is the RPC that submitted it — even when the job waited in the queue behind another
 * one (its trace context is kept with the job) — and the job gauges come from the store's counts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createJobRunner, createJobStore, type JobContext } from '../libs/jobs/index.js';
import { instrumentJobStore, rememberTraceContext, traceJobExecutor, withSpan } from '../libs/telemetry/index.js';
import { parentOf, startTestTelemetry } from '../libs/telemetry/testing.fixture.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

type Spec = { name: string };

describe('job telemetry', () => {
  it('parents each job span on its submitter, also after waiting in the queue; gauges follow the store', async () => {
    const store = createJobStore({ path: ':memory:' });
    const stop = instrumentJobStore(store, ['k']);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const runner = createJobRunner<Spec>({
      store,
      kind: 'k',
      concurrency: 1,
      execute: traceJobExecutor(
        async (ctx: JobContext<Spec>) => {
          await withSpan('work', { name: ctx.job.spec.name }, async () => {
            if (ctx.job.spec.name === 'first') await gate;
          });
          return {};
        },
        (ctx) => ({ 'harden.method': ctx.job.spec.name }),
      ),
    });
    runner.start();
    const submit = (name: string) =>
      withSpan(`submit ${name}`, {}, () => {
        const { job, created } = runner.submit({ spec: { name } });
        if (created) rememberTraceContext(store, job.id);
        return job.id;
      });
    const first = await submit('first');
    const second = await submit('second');
    const queued = Object.fromEntries((await telemetry.points('harden.jobs')).map((p) => [p.attributes['harden.job_state'], p.value]));
    assert.equal(queued.RUNNING, 1);
    assert.equal(queued.QUEUED, 1);
    assert.equal((await telemetry.points('harden.jobs.queue_depth'))[0].value, 1);
    release();
    await runner.idle();
    await new Promise((r) => setTimeout(r, 20));
    await runner.idle();
    assert.equal(store.get(first).state, 'SUCCEEDED');
    assert.equal(store.get(second).state, 'SUCCEEDED');
    for (const name of ['first', 'second']) {
      const submitSpan = telemetry.span(`submit ${name}`);
      const job = telemetry.spans().find((s) => s.name === 'harden.job' && s.attributes['harden.method'] === name)!;
      assert.equal(job.spanContext().traceId, submitSpan.spanContext().traceId, `${name} job is in its submitter's trace`);
      assert.equal(parentOf(job), submitSpan.spanContext().spanId);
      assert.equal(job.attributes['harden.job_kind'], 'k');
      const work = telemetry.spans().find((s) => s.name === 'work' && s.attributes.name === name)!;
      assert.equal(parentOf(work), job.spanContext().spanId);
    }
    const done = Object.fromEntries((await telemetry.points('harden.jobs')).map((p) => [p.attributes['harden.job_state'], p.value]));
    assert.equal(done.SUCCEEDED, 2);
    const transitions = await telemetry.points('harden.jobs.transitions');
    const byState = Object.fromEntries(transitions.map((p) => [p.attributes['harden.job_state'], p.value]));
    assert.deepEqual({ QUEUED: byState.QUEUED, RUNNING: byState.RUNNING, SUCCEEDED: byState.SUCCEEDED }, { QUEUED: 2, RUNNING: 2, SUCCEEDED: 2 });
    stop();
    await runner.shutdown();
    store.close();
  });
});
