import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRoundRobin, type RoundRobinSource } from './round-robin.js';

/** Jobs the test finishes by hand: `started` lists them in the order they got a slot. */
function jobs() {
  const started: string[] = [];
  const finishers = new Map<string, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  const submit = (source: RoundRobinSource, name: string) =>
    source.submit(() => {
      started.push(name);
      return new Promise<string>((resolve, reject) => finishers.set(name, { resolve, reject }));
    });
  const finish = (name: string) => finishers.get(name)!.resolve(name);
  const fail = (name: string, error: Error) => finishers.get(name)!.reject(error);
  return { started, submit, finish, fail };
}

const settled = () => new Promise((r) => setImmediate(r));

describe('createRoundRobin', () => {
  it('runs at most `slots` jobs at once, and a source\'s jobs in the order queued', async () => {
    const rr = createRoundRobin(2);
    const j = jobs();
    const a = rr.source();
    const done = ['a0', 'a1', 'a2', 'a3'].map((n) => j.submit(a, n));
    assert.deepEqual(j.started, ['a0', 'a1']);
    assert.equal(rr.running, 2);
    assert.equal(rr.waiting, 2);
    j.finish('a1');
    assert.equal(await done[1], 'a1');
    assert.deepEqual(j.started, ['a0', 'a1', 'a2']);
    for (const n of ['a0', 'a2']) j.finish(n);
    await settled();
    j.finish('a3');
    assert.deepEqual(await Promise.all(done), ['a0', 'a1', 'a2', 'a3']);
    assert.equal(rr.running, 0);
    assert.equal(rr.waiting, 0);
  });

  it('gives the free slot to the source served longest ago, a new one first', async () => {
    const rr = createRoundRobin(1);
    const j = jobs();
    const a = rr.source();
    const done = ['a0', 'a1', 'a2', 'a3'].map((n) => j.submit(a, n));
    const b = rr.source();
    done.push(...['b0', 'b1'].map((n) => j.submit(b, n)));
    // a0 already runs; b0 comes next although a1–a3 were queued before it.
    while (j.started.length < 6) {
      j.finish(j.started.at(-1)!);
      await settled();
    }
    j.finish('a3');
    await Promise.all(done);
    assert.deepEqual(j.started, ['a0', 'b0', 'a1', 'b1', 'a2', 'a3']);
  });

  it('a failed job frees its slot and rejects only its own promise', async () => {
    const rr = createRoundRobin(1);
    const j = jobs();
    const a = rr.source();
    const first = j.submit(a, 'a0');
    const second = j.submit(a, 'a1');
    j.fail('a0', new Error('attack failed'));
    await assert.rejects(first, /attack failed/);
    assert.deepEqual(j.started, ['a0', 'a1']);
    j.finish('a1');
    assert.equal(await second, 'a1');
  });

  it('a job that throws before returning a promise is a rejection, not a lost slot', async () => {
    const rr = createRoundRobin(1);
    const a = rr.source();
    await assert.rejects(a.submit(() => { throw new Error('bad payload'); }), /bad payload/);
    assert.equal(rr.running, 0);
    assert.equal(await a.submit(async () => 'next'), 'next');
  });

  it('close drops the jobs not started, lets started ones finish, and refuses new ones', async () => {
    const rr = createRoundRobin(1);
    const j = jobs();
    const a = rr.source();
    const b = rr.source();
    const a0 = j.submit(a, 'a0');
    const a1 = j.submit(a, 'a1');
    const b0 = j.submit(b, 'b0');
    a.close(new Error('the stream ended'));
    await assert.rejects(a1, /the stream ended/);
    await assert.rejects(a.submit(async () => 'late'), /closed/);
    assert.equal(rr.waiting, 1);
    j.finish('a0');
    assert.equal(await a0, 'a0');
    await settled();
    assert.deepEqual(j.started, ['a0', 'b0']);
    j.finish('b0');
    assert.equal(await b0, 'b0');
    assert.equal(rr.running, 0);
  });

  it('refuses a slot count that is not a positive whole number', () => {
    for (const slots of [0, -1, 1.5, Number.NaN]) assert.throws(() => createRoundRobin(slots), /positive whole number/);
  });
});
