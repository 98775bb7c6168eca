import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createJobRunner, createJobStore, JobError, JobFailure, watchEvents, type JobContext } from './index.js';

type Spec = { steps: number };

/** A compute that emits one event per step, honours its signal, and can be told to finish. */
function stepper(stepMs = 5) {
  const seenResumed: boolean[] = [];
  const execute = async (ctx: JobContext<Spec>) => {
    seenResumed.push(ctx.resumed);
    for (let i = 0; i < ctx.job.spec.steps; i++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await new Promise((r) => setTimeout(r, stepMs));
      ctx.emit('step', { i });
      ctx.progress({ fraction: (i + 1) / ctx.job.spec.steps });
    }
    if (ctx.job.spec.steps < 0) throw new JobFailure('bad-steps', 'negative steps');
    if (ctx.job.spec.steps === 13) throw new Error('secret /var/lib/path exploded');
    return { done: ctx.job.spec.steps };
  };
  return { execute, seenResumed };
}

describe('job runner', () => {
  it('runs jobs to SUCCEEDED with outputs, at most `concurrency` at a time', async () => {
    const store = createJobStore({ path: ':memory:' });
    const { execute } = stepper();
    let peak = 0;
    const runner = createJobRunner<Spec>({
      store,
      kind: 'k',
      concurrency: 2,
      execute: async (ctx) => {
        peak = Math.max(peak, runner.active);
        return execute(ctx);
      },
    });
    runner.start();
    const jobs = [3, 2, 4, 1].map((steps) => runner.submit({ spec: { steps } }).job);
    assert.equal(runner.active, 2);
    assert.deepEqual(jobs.map((j) => j.state), ['RUNNING', 'RUNNING', 'QUEUED', 'QUEUED']);
    await runner.idle();
    await new Promise((r) => setImmediate(r));
    await runner.idle();
    for (const j of jobs) {
      const done = store.get(j.id);
      assert.equal(done.state, 'SUCCEEDED');
      assert.equal(done.outputs.done, (j.spec as Spec).steps);
      assert.equal(done.progress.fraction, 1);
    }
    assert.equal(peak, 2);
    store.close();
  });

  it('refuses a job with resource-exhausted when the queue is full', async () => {
    const store = createJobStore({ path: ':memory:' });
    const runner = createJobRunner<Spec>({ store, kind: 'k', concurrency: 1, queueLimit: 1, execute: stepper(50).execute });
    runner.start();
    runner.submit({ spec: { steps: 100 } });
    runner.submit({ spec: { steps: 100 } });
    assert.throws(() => runner.submit({ spec: { steps: 1 } }), (e: unknown) => JobError.is(e, 'resource-exhausted'));
    // An idempotent repeat is not a new job, so a full queue does not refuse it.
    assert.throws(() => runner.submit({ spec: { steps: 100 }, requestId: 'r' }), (e: unknown) => JobError.is(e, 'resource-exhausted'));
    await runner.shutdown({ graceMs: 1000 });
    store.close();
  });

  it('fails a job with a JobFailure as given and hides other errors', async () => {
    const store = createJobStore({ path: ':memory:' });
    const logged: unknown[] = [];
    const runner = createJobRunner<Spec>({ store, kind: 'k', execute: stepper(1).execute, onError: (_job, e) => logged.push(e) });
    runner.start();
    const a = runner.submit({ spec: { steps: -1 } }).job;
    await runner.idle();
    const b = runner.submit({ spec: { steps: 13 } }).job;
    await runner.idle();
    assert.deepEqual(store.get(a.id).error, { code: 'bad-steps', message: 'negative steps' });
    assert.equal(store.get(b.id).state, 'FAILED');
    assert.deepEqual(store.get(b.id).error, { code: 'internal', message: 'the job failed with an internal error' });
    assert.ok(!JSON.stringify(store.events(b.id)).includes('/var/lib'));
    assert.equal(logged.length, 2);
    store.close();
  });

  it('cancels QUEUED jobs at once and RUNNING jobs once their compute stops', async () => {
    const store = createJobStore({ path: ':memory:' });
    let stepsAfterCancel = 0;
    let cancelled = false;
    const runner = createJobRunner<Spec>({
      store,
      kind: 'k',
      execute: async (ctx) => {
        for (let i = 0; i < ctx.job.spec.steps; i++) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          if (cancelled) stepsAfterCancel++;
          await new Promise((r) => setTimeout(r, 5));
          ctx.emit('step', { i });
        }
      },
    });
    runner.start();
    const running = runner.submit({ spec: { steps: 1000 } }).job;
    const queued = runner.submit({ spec: { steps: 1000 } }).job;
    assert.equal(runner.cancel(queued.id).state, 'CANCELLED');
    await new Promise((r) => setTimeout(r, 30));
    const marked = runner.cancel(running.id);
    cancelled = true;
    assert.equal(marked.state, 'RUNNING');
    assert.equal(marked.cancelRequested, true);
    await runner.idle();
    assert.equal(store.get(running.id).state, 'CANCELLED');
    assert.ok(stepsAfterCancel <= 1, `the compute stopped (${stepsAfterCancel} steps after the cancel)`);
    assert.equal(runner.cancel(running.id).state, 'CANCELLED');
    const ok = runner.submit({ spec: { steps: 1 } }).job;
    await runner.idle();
    assert.throws(() => runner.cancel(ok.id), (e: unknown) => JobError.is(e, 'failed-precondition'));
    assert.throws(() => runner.cancel('missing'), (e: unknown) => JobError.is(e, 'not-found'));
    store.close();
  });

  it('leaves jobs RUNNING on shutdown and resumes them at the next start, losing no event', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'runner-')), 'jobs.sqlite');
    const store1 = createJobStore({ path });
    const first = stepper(5);
    const runner1 = createJobRunner<Spec>({ store: store1, kind: 'k', execute: first.execute });
    runner1.start();
    const job = runner1.submit({ spec: { steps: 40 } }).job;
    const waiting = runner1.submit({ spec: { steps: 2 } }).job;
    await new Promise((r) => setTimeout(r, 60));
    await runner1.shutdown({ graceMs: 2000 });
    assert.throws(() => runner1.submit({ spec: { steps: 1 } }), (e: unknown) => JobError.is(e, 'unavailable'));
    assert.equal(store1.get(job.id).state, 'RUNNING');
    assert.equal(store1.get(waiting.id).state, 'QUEUED');
    const seqBefore = store1.get(job.id).lastSequence;
    store1.close();

    const store2 = createJobStore({ path });
    const second = stepper(1);
    const runner2 = createJobRunner<Spec>({ store: store2, kind: 'k', execute: second.execute });
    runner2.start();
    const events: number[] = [];
    for await (const e of watchEvents(store2, job.id)) events.push(e.sequence);
    await runner2.idle();
    await runner2.idle();
    assert.deepEqual(second.seenResumed, [true, false]);
    assert.equal(store2.get(job.id).state, 'SUCCEEDED');
    assert.equal(store2.get(job.id).attempts, 2);
    assert.deepEqual(events, Array.from({ length: events.length }, (_, i) => i + 1));
    assert.ok(events.length > seqBefore);
    const types = store2.events(job.id).map((e) => e.type);
    assert.ok(types.includes('interrupted') && types.includes('restarted'));
    assert.equal(store2.get(waiting.id).state, 'SUCCEEDED');
    store2.close();
  });
});
