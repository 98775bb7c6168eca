import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createWorkerPool, type WorkerPool } from './worker-pool.js';
import { EngineError } from './errors.js';
import { RemoteError } from './thread-error.js';

const fixture = new URL('./worker-pool.fixture.js', import.meta.url).href;
const task = (fn: string) => ({ module: fixture, fn });

describe('worker pool', () => {
  let pool: WorkerPool;
  before(async () => {
    pool = createWorkerPool({ size: 2, backend: 'wasm' });
    await pool.ready();
  });
  after(() => pool.close());

  it('starts one engine per worker', () => {
    assert.equal(pool.engines.length, 2);
    for (const e of pool.engines) assert.equal(e.backend, 'wasm');
  });

  it('keeps per-worker state and runs tasks on each worker', async () => {
    const ids = await pool.broadcast<number>(task('store'), { values: new Float32Array([1, 2, 3]) });
    assert.equal(new Set(ids).size, 2, 'two distinct threads');
    const results = await Promise.all([0, 1].map((i) => pool.runOn<{ threadId: number; sum: number; backend: string }>(i, task('scaledSum'), { scale: 2 })));
    for (const r of results) {
      assert.equal(r.sum, 12);
      assert.equal(r.backend, 'wasm');
    }
    assert.deepEqual(results.map((r) => r.threadId).sort(), [...ids].sort());
  });

  it('spreads concurrent tasks over idle workers', async () => {
    const threads = await Promise.all([0, 1, 2, 3].map(() => pool.run<number>(task('slow'), { ms: 50 })));
    assert.equal(new Set(threads).size, 2);
  });

  it('moves typed arrays back', async () => {
    const out = await pool.run<Float32Array>(task('square'), { values: new Float32Array([3, 4]) });
    assert.ok(out instanceof Float32Array);
    assert.deepEqual([...out], [9, 16]);
  });

  it('turns a failing task into a RemoteError that keeps its class name, code and field, and keeps serving', async () => {
    // A plain error stays a plain error (INTERNAL over RPC); a typed one keeps what maps it to a status.
    await assert.rejects(pool.run(task('fail'), {}), (e: unknown) => e instanceof RemoteError && e.name === 'Error' && e.code === undefined && /on purpose/.test(e.message));
    await assert.rejects(pool.run(task('fail'), { typed: true }), (e: unknown) => e instanceof RemoteError && e.name === 'AttackError' && e.code === 'invalid-argument' && e.field === 'steps');
    await assert.rejects(pool.run({ module: fixture, fn: 'missing' }, {}), /exports no function "missing"/);
    assert.equal(await pool.run<number>(task('slow'), { ms: 1 }) > 0, true);
  });

  it('hands a task\'s events to its caller, in order, before the task settles', async () => {
    const seen: Array<{ i: number; threadId: number }> = [];
    const other: unknown[] = [];
    const [count] = await Promise.all([
      pool.run<number>(task('countTo'), { count: 25 }, [], (e) => seen.push(e as { i: number; threadId: number })),
      pool.run<number>(task('countTo'), { count: 7 }, [], (e) => other.push(e)),
    ]);
    assert.equal(count, 25);
    assert.deepEqual(seen.map((e) => e.i), Array.from({ length: 25 }, (_, i) => i), 'every event of this task, in order');
    assert.equal(new Set(seen.map((e) => e.threadId)).size, 1);
    assert.equal(other.length, 7, 'events go to the task that emitted them');
    // Without a listener, events are dropped and the result still arrives.
    assert.equal(await pool.run<number>(task('countTo'), { count: 3 }), 3);
  });

  it('rejects a bad size', () => {
    assert.throws(() => createWorkerPool({ size: 0 }), /positive integer/);
  });
});
