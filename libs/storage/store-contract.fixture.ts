/**
 * The behaviour every `ArtifactStore` shares, as a test suite: the file and memory specs and the S3
 * tests (test/storage-s3.test.ts) run it against their store. Test-only (imports node:test).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { ArtifactStore } from './artifact-store.js';
import { StorageError } from './errors.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function drain(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Uint8Array));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
export function patternBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface StoreContractOptions {
  /** A fresh, empty store for each call (e.g. a new child folder). */
  makeStore: () => ArtifactStore;
  /** Keys to write for the listing test; larger on S3 to cross several pages. @default 25 */
  listCount?: number;
}

/** Registers the shared contract as a `describe` block named `name`. */
export function describeStoreContract(name: string, options: StoreContractOptions): void {
  const { makeStore } = options;
  describe(`${name}: ArtifactStore contract`, () => {
    it('puts, gets, checks and replaces objects; a folder is not an object', async () => {
      const store = makeStore();
      await store.put('a/b/c.bin', new Uint8Array([1, 2, 3]));
      assert.deepEqual([...(await store.get('a/b/c.bin'))], [1, 2, 3]);
      assert.equal(await store.exists('a/b/c.bin'), true);
      assert.equal(await store.exists('a/b'), false);
      assert.equal(await store.exists('nope'), false);
      await store.put('a/b/c.bin', bytes('replaced'));
      assert.equal(text(await store.get('a/b/c.bin')), 'replaced');
      await store.put('empty', new Uint8Array(0));
      assert.equal((await store.get('empty')).byteLength, 0);
    });

    it('get and getStream of a missing key reject with not-found naming the key', async () => {
      const store = makeStore();
      for (const read of [() => store.get('no/such.bin'), () => store.getStream('no/such.bin')]) {
        await assert.rejects(read, (err: unknown) => StorageError.is(err, 'not-found') && /no\/such\.bin/.test(err.message));
      }
    });

    it('lists keys recursively by string prefix, sorted, across pages', async () => {
      const store = makeStore();
      const n = options.listCount ?? 25;
      const keys = Array.from({ length: n }, (_, i) => `many/${String(i).padStart(4, '0')}.bin`);
      for (const k of [...keys].reverse()) await store.put(k, bytes(k));
      for (const k of ['ckpt/2/w.bin', 'ckpt/1/w.bin', 'ckpt-old/w.bin', 'model.json']) await store.put(k, bytes(k));
      assert.deepEqual(await store.list('many/'), keys);
      assert.deepEqual(await store.list('ckpt/'), ['ckpt/1/w.bin', 'ckpt/2/w.bin']);
      assert.deepEqual(await store.list('ckpt'), ['ckpt-old/w.bin', 'ckpt/1/w.bin', 'ckpt/2/w.bin']);
      assert.deepEqual(await store.list('missing/'), []);
      assert.equal((await store.list()).length, n + 4);
    });

    it('lists versions: the keys list gives, a token that stays while the object does and changes when it is rewritten', async () => {
      const store = makeStore();
      await store.put('data/a.bin', bytes('aaaa'));
      await store.put('data/b.bin', bytes('bbbb'));
      await store.put('other.bin', bytes('x'));
      const first = await store.listVersions('data/');
      assert.deepEqual(first.map((o) => o.key), await store.list('data/'));
      assert.deepEqual(await store.listVersions('data/'), first, 'unchanged objects keep their tokens');
      await store.put('data/b.bin', bytes('BBBB')); // same size, other bytes
      const second = await store.listVersions('data/');
      assert.equal(second[0]!.version, first[0]!.version);
      assert.notEqual(second[1]!.version, first[1]!.version, 'a rewritten object gets a new token');
      assert.deepEqual(await store.child('data').listVersions(), second.map((o) => ({ key: o.key.slice('data/'.length), version: o.version })));
    });

    it('deletes idempotently', async () => {
      const store = makeStore();
      await store.put('x/y.bin', bytes('y'));
      await store.delete('x/y.bin');
      await store.delete('x/y.bin');
      await store.delete('never/was');
      assert.equal(await store.exists('x/y.bin'), false);
      assert.deepEqual(await store.list(), []);
    });

    it('child stores are rooted below, with keys relative to them', async () => {
      const store = makeStore();
      const child = store.child('runs/r1/');
      assert.equal(child.uri, `${store.uri}/runs/r1`);
      await child.put('model/model.json', bytes('m'));
      assert.equal(text(await store.get('runs/r1/model/model.json')), 'm');
      assert.deepEqual(await child.child('model').list(), ['model.json']);
      assert.deepEqual(await store.list(), ['runs/r1/model/model.json']);
    });

    it('putStream writes what a Readable or an async generator yields; getStream reads it back', async () => {
      const store = makeStore();
      const data = patternBytes(300_000, 7);
      assert.equal(await store.putStream('s/readable.bin', Readable.from([data.subarray(0, 1000), data.subarray(1000)])), data.byteLength);
      assert.deepEqual(await drain(await store.getStream('s/readable.bin')), data);
      async function* gen() {
        for (let i = 0; i < data.byteLength; i += 65_536) yield data.subarray(i, i + 65_536);
      }
      assert.equal(await store.putStream('s/gen.bin', gen()), data.byteLength);
      assert.deepEqual(await store.get('s/gen.bin'), data);
      assert.equal(await store.putStream('s/empty.bin', Readable.from([])), 0);
      assert.equal((await store.get('s/empty.bin')).byteLength, 0);
    });

    it('a putStream whose source fails leaves the previous object in place', async () => {
      const store = makeStore();
      await store.put('s/keep.bin', bytes('old'));
      async function* failing() {
        yield bytes('new, partial');
        throw new Error('source broke');
      }
      await assert.rejects(store.putStream('s/keep.bin', failing()));
      assert.equal(text(await store.get('s/keep.bin')), 'old');
      await assert.rejects(store.putStream('s/none.bin', failing()));
      assert.equal(await store.exists('s/none.bin'), false);
    });

    it('an aborted putStream leaves no object', async () => {
      const store = makeStore();
      const controller = new AbortController();
      async function* slow() {
        yield bytes('first');
        controller.abort();
        await new Promise((r) => setTimeout(r, 10));
        yield bytes('second');
      }
      await assert.rejects(store.putStream('s/aborted.bin', slow(), { signal: controller.signal }));
      assert.equal(await store.exists('s/aborted.bin'), false);
    });

    it('rejects invalid keys before touching the medium', async () => {
      const store = makeStore();
      for (const key of ['', '/abs', 'a//b', 'a/../b', 'a\\b']) {
        await assert.rejects(store.put(key, bytes('x')), (err: unknown) => StorageError.is(err, 'invalid-key'));
      }
    });
  });
}
