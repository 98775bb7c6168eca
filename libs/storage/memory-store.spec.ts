import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryStore, StorageError } from './index.js';
import { describeStoreContract } from './store-contract.fixture.js';

describe('memory store', () => {
  it('behaves like the file store: copies, string-prefix listing, idempotent delete, children', async () => {
    const store = createMemoryStore('t');
    assert.equal(store.uri, 'memory://t');
    const buf = new Uint8Array([1, 2]);
    await store.put('a/b.bin', buf);
    buf[0] = 9;
    assert.deepEqual([...(await store.get('a/b.bin'))], [1, 2]);
    await store.put('a-2/c.bin', new Uint8Array(0));
    assert.deepEqual(await store.list('a'), ['a-2/c.bin', 'a/b.bin']);
    assert.deepEqual(await store.list('a/'), ['a/b.bin']);
    const child = store.child('a/');
    assert.equal(child.uri, 'memory://t/a');
    assert.deepEqual(await child.list(), ['b.bin']);
    await child.delete('b.bin');
    await child.delete('b.bin');
    assert.equal(await store.exists('a/b.bin'), false);
    await assert.rejects(store.get('a/b.bin'), (err: unknown) => StorageError.is(err, 'not-found') && /a\/b\.bin/.test(err.message));
    await assert.rejects(store.put('../x', buf), { code: 'invalid-key' });
  });
});

describeStoreContract('memory store', { makeStore: () => createMemoryStore() });
