/**
 * Seeded, serialisable randomness: xoshiro128** (Blackman & Vigna, https://prng.di.unimi.it/),
 * 32-bit state words so it runs on plain JS integer arithmetic (`Math.imul`, `>>>`).
 *
 * The whole state is four uint32 words: `getState()` returns them as a plain JSON-able object and
 * `setState()` restores them, so a training run can checkpoint its RNG and resume bit-exactly.
 * No hidden state is kept between calls (`nextNormal` does not cache its Box–Muller twin).
 */
import { DataError } from './errors.js';

/** The serialisable state of an {@link Rng}: JSON-safe, four uint32 words. */
export interface RngState {
  readonly algorithm: 'xoshiro128**';
  readonly s: readonly [number, number, number, number];
}

/** Integer-indexed arrays `shuffle` can permute in place. */
export type ShuffleTarget = unknown[] | Int32Array | Uint32Array | Float32Array | Float64Array | Uint8Array;

export interface Rng {
  /** A uniform uint32 in [0, 2^32). */
  nextUint32(): number;
  /** A uniform double in [0, 1), 32 bits of resolution. */
  next(): number;
  /** A uniform integer in [0, n), without modulo bias; `n` an integer in [1, 2^32]. */
  nextInt(n: number): number;
  /** A standard normal sample (Box–Muller; consumes two uint32s). */
  nextNormal(): number;
  /** Fills `out` with uniform values in [low, high) (float32-exact, never `high`). @returns `out` */
  fillUniform(out: Float32Array, low?: number, high?: number): Float32Array;
  /** Fills `out` with N(mean, std²) samples. @returns `out` */
  fillNormal(out: Float32Array, mean?: number, std?: number): Float32Array;
  /** Fisher–Yates shuffle in place. @returns `array` */
  shuffle<A extends ShuffleTarget>(array: A): A;
  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  /** A new generator seeded from this one's next outputs (an independent stream). */
  fork(): Rng;
  getState(): RngState;
  setState(state: RngState): void;
}

const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;
const INV_TWO_POW_24 = 1 / 16777216;

/** murmur3's 32-bit finaliser: a bijective avalanche mix of one uint32. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkSeedPart(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new DataError('invalid-argument', `${what} must be a safe integer; got ${value}`);
  }
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
function words(value: number): [number, number] {
  const lo = value >>> 0;
  const hi = Math.floor(value / TWO_POW_32) >>> 0;
  return [lo, hi];
}

/**
 * Hashes integers into one uint32 seed, e.g. `deriveSeed(seed, epoch, batch)`, so independent
 * streams can be made without threading one generator through the code. Order matters.
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x2545f491;
  for (const part of parts) {
    checkSeedPart(part, 'seed part');
    const [lo, hi] = words(part);
    h = fmix32((h ^ lo) + 0x9e3779b9);
    h = fmix32((h ^ hi) + 0x7f4a7c15);
  }
  return h;
}

function stateFromSeed(seed: number): [number, number, number, number] {
  checkSeedPart(seed, 'seed');
  const [lo, hi] = words(seed);
  // splitmix32-style expansion: a Weyl sequence through fmix32 gives four well-mixed words.
  let x = (lo ^ Math.imul(hi, 0x9e3779b9)) >>> 0;
  const s: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    x = (x + 0x9e3779b9) >>> 0;
    s[i] = fmix32(x ^ hi);
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // the all-zero state is a fixed point
  return s;
}

function checkState(state: RngState): [number, number, number, number] {
  const s = state?.s;
  const ok =
    state?.algorithm === 'xoshiro128**' &&
    Array.isArray(s) &&
    s.length === 4 &&
    s.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32) &&
    (s[0] | s[1] | s[2] | s[3]) !== 0;
  if (!ok) {
    throw new DataError(
      'invalid-argument',
      `bad RNG state ${JSON.stringify(state)}; expected { algorithm: "xoshiro128**", s: [four uint32, not all 0] }`,
    );
  }
  return [s[0], s[1], s[2], s[3]];
}

/**
 * Creates a generator from an integer seed (any safe integer) or a saved {@link RngState}.
 * @default seed 0
 */
export function createRng(seed: number | RngState = 0): Rng {
  let [s0, s1, s2, s3] = typeof seed === 'number' ? stateFromSeed(seed) : checkState(seed);

  function nextUint32(): number {
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  function next(): number {
    return nextUint32() * INV_TWO_POW_32;
  }

  function nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new DataError('invalid-argument', `nextInt(n) needs an integer n in [1, 2^32]; got ${n}`);
    }
    // Reject the last partial block of 2^32 so every residue is equally likely.
    const threshold = (TWO_POW_32 - n) % n;
    for (;;) {
      const r = nextUint32();
      if (r >= threshold) return r % n;
    }
  }

  function normalPair(): [number, number] {
    const u1 = 1 - next(); // (0, 1]: log is finite
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    const a = 2 * Math.PI * u2;
    return [r * Math.cos(a), r * Math.sin(a)];
  }

  const rng: Rng = {
    nextUint32,
    next,
    nextInt,
    nextNormal: () => normalPair()[0],
    fillUniform(out, low = 0, high = 1) {
      const span = high - low;
      for (let i = 0; i < out.length; i++) out[i] = low + (nextUint32() >>> 8) * INV_TWO_POW_24 * span;
      return out;
    },
    fillNormal(out, mean = 0, std = 1) {
      let i = 0;
      for (; i + 1 < out.length; i += 2) {
        const [a, b] = normalPair();
        out[i] = mean + std * a;
        out[i + 1] = mean + std * b;
      }
      if (i < out.length) out[i] = mean + std * normalPair()[0];
      return out;
    },
    shuffle(array) {
      const a = array as unknown as { [i: number]: unknown; length: number };
      for (let i = a.length - 1; i > 0; i--) {
        const j = nextInt(i + 1);
        const tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
      }
      return array;
    },
    permutation(n) {
      if (!Number.isInteger(n) || n < 0) {
        throw new DataError('invalid-argument', `permutation(n) needs a non-negative integer; got ${n}`);
      }
      const p = new Int32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      rng.shuffle(p);
      return p;
    },
    fork() {
      return createRng({ algorithm: 'xoshiro128**', s: [nextUint32(), nextUint32(), nextUint32(), nextUint32() | 1] });
    },
    getState() {
      return { algorithm: 'xoshiro128**', s: [s0 >>> 0, s1 >>> 0, s2 >>> 0, s3 >>> 0] };
    },
    setState(state) {
      [s0, s1, s2, s3] = checkState(state);
    },
  };
  return rng;
}
