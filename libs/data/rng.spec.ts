import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, deriveSeed, DataError } from './index.js';

test('xoshiro128** matches the reference C implementation from state [1, 2, 3, 4]', () => {
  const rng = createRng({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4] });
  const got = Array.from({ length: 8 }, () => rng.nextUint32());
  // Output of the authors' xoshiro128starstar.c seeded with s = {1, 2, 3, 4}.
  assert.deepEqual(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
});

test('the same seed gives the same stream; different seeds differ', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 100 }, () => a.nextUint32());
  const sb = Array.from({ length: 100 }, () => b.nextUint32());
  const sc = Array.from({ length: 100 }, () => c.nextUint32());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
  assert.notDeepEqual(createRng(0).getState(), createRng(2 ** 32).getState(), 'high word of the seed matters');
  assert.notDeepEqual(createRng(-1).getState(), createRng(2 ** 32 - 1).getState());
});

test('getState/setState round-trips through JSON and resumes bit-exactly', () => {
  const rng = createRng(7);
  for (let i = 0; i < 1000; i++) rng.nextUint32();
  const saved = JSON.stringify(rng.getState());
  const expected = [rng.nextUint32(), rng.next(), rng.nextInt(10), rng.nextNormal()];
  const resumed = createRng(JSON.parse(saved));
  assert.deepEqual([resumed.nextUint32(), resumed.next(), resumed.nextInt(10), resumed.nextNormal()], expected);
  const other = createRng(99);
  other.setState(JSON.parse(saved));
  assert.equal(other.nextUint32(), expected[0]);
});

test('bad seeds and states are invalid-argument DataErrors', () => {
  for (const bad of [1.5, Number.NaN, Infinity, 2 ** 60]) {
    assert.throws(() => createRng(bad), (e: unknown) => e instanceof DataError && e.code === 'invalid-argument');
  }
  assert.throws(() => createRng({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0] }), DataError);
  assert.throws(() => createRng({ algorithm: 'xoshiro128**', s: [1, 2, 3] as never }), DataError);
  assert.throws(() => createRng(1).setState({ algorithm: 'mt19937' as never, s: [1, 2, 3, 4] }), DataError);
  assert.throws(() => createRng(1).nextInt(0), DataError);
});

test('nextInt, next, fillUniform and fillNormal stay in range with the right moments', () => {
  const rng = createRng(3);
  const counts = new Array(7).fill(0);
  for (let i = 0; i < 70_000; i++) counts[rng.nextInt(7)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `bucket ${c}`);
  for (let i = 0; i < 10_000; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
  }
  const u = rng.fillUniform(new Float32Array(50_000), -0.5, 0.25);
  assert.ok(u.every((v) => v >= -0.5 && v < 0.25));
  const n = rng.fillNormal(new Float32Array(100_001), 2, 3);
  const mean = n.reduce((a, b) => a + b, 0) / n.length;
  const sd = Math.sqrt(n.reduce((a, b) => a + (b - mean) ** 2, 0) / n.length);
  assert.ok(Math.abs(mean - 2) < 0.05, `mean ${mean}`);
  assert.ok(Math.abs(sd - 3) < 0.05, `sd ${sd}`);
});

test('permutation and shuffle are permutations; fork is an independent stream', () => {
  const rng = createRng(11);
  const p = rng.permutation(1000);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual([...p], Array.from({ length: 1000 }, (_, i) => i));
  const arr = ['a', 'b', 'c', 'd', 'e'];
  rng.shuffle(arr);
  assert.deepEqual([...arr].sort(), ['a', 'b', 'c', 'd', 'e']);
  const parent = createRng(5);
  const child = parent.fork();
  const pv = Array.from({ length: 10 }, () => parent.nextUint32());
  const cv = Array.from({ length: 10 }, () => child.nextUint32());
  assert.notDeepEqual(pv, cv);
});

test('deriveSeed is deterministic, order-sensitive and a uint32', () => {
  assert.equal(deriveSeed(1, 2, 3), deriveSeed(1, 2, 3));
  assert.notEqual(deriveSeed(1, 2), deriveSeed(2, 1));
  assert.notEqual(deriveSeed(0), deriveSeed(0, 0));
  const s = deriveSeed(123, 2 ** 40, -5);
  assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 32);
  assert.throws(() => deriveSeed(0.5), DataError);
});
