import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteError, runWorkerTask } from './index.js';

const MODULE = new URL('./worker-task.fixture.js', import.meta.url).href;

describe('runWorkerTask', () => {
  it('runs a task in a thread, forwarding its events in order, and returns its result', async () => {
    const events: unknown[] = [];
    const result = await runWorkerTask<{ n: number; ms: number }, { counted: number }>({ module: MODULE, fn: 'countTo', payload: { n: 5, ms: 1 }, onEvent: (e) => events.push(e) });
    assert.deepEqual(result, { counted: 5 });
    assert.deepEqual(events, [0, 1, 2, 3, 4].map((i) => ({ i })));
  });

  it('rebuilds a thrown error with its name, code and field, without its stack', async () => {
    await assert.rejects(runWorkerTask({ module: MODULE, fn: 'failTyped', payload: {} }), (e: unknown) => {
      assert.ok(e instanceof RemoteError);
      assert.equal(e.name, 'AttackError');
      assert.equal(e.code, 'invalid-argument');
      assert.equal(e.field, 'eps');
      assert.ok(!String(e.stack).includes('worker-task.fixture'));
      return true;
    });
  });

  it('aborts through the signal, and terminates a task that ignores it', async () => {
    const controller = new AbortController();
    const events: unknown[] = [];
    // Abort once the task is clearly running (a loaded machine may take a while to start the thread).
    const run = runWorkerTask({
      module: MODULE,
      fn: 'countTo',
      payload: { n: 100000, ms: 2 },
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (events.length === 5) controller.abort();
      },
    });
    await assert.rejects(run, (e: unknown) => e instanceof RemoteError && e.code === 'aborted' && e.name === 'TrainingError');
    assert.ok(events.length > 0 && events.length < 100000);

    const stubborn = new AbortController();
    const started = Date.now();
    const run2 = runWorkerTask({ module: MODULE, fn: 'ignoreAbort', payload: {}, signal: stubborn.signal, abortGraceMs: 100 });
    setTimeout(() => stubborn.abort(), 50);
    await assert.rejects(run2, (e: unknown) => e instanceof RemoteError && e.code === 'aborted');
    assert.ok(Date.now() - started < 5000);
  });

  it('reports a missing export as an error', async () => {
    await assert.rejects(runWorkerTask({ module: MODULE, fn: 'nope', payload: {} }), /exports no function "nope"/);
  });
});
