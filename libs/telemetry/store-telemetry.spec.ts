import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { createMemoryStore } from '../storage/index.js';
import { withSpan } from './spans.js';
import { traceStore } from './store-telemetry.js';
import { parentOf, startTestTelemetry } from './testing.fixture.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

describe('traceStore', () => {
  it('puts each operation in a client span with the store, key and bytes, under the active span', async () => {
    const store = traceStore(createMemoryStore());
    await withSpan('checkpoint', {}, async () => {
      await store.put('ckpt/model.json', new Uint8Array(10));
      assert.equal((await store.get('ckpt/model.json')).byteLength, 10);
      assert.deepEqual(await store.list('ckpt/'), ['ckpt/model.json']);
      await store.child('ckpt').exists('model.json');
    });
    const parent = telemetry.span('checkpoint').spanContext().spanId;
    const put = telemetry.span('storage.put');
    assert.equal(put.kind, SpanKind.CLIENT);
    assert.equal(put.attributes['harden.storage.key'], 'ckpt/model.json');
    assert.equal(put.attributes['harden.storage.bytes'], 10);
    assert.equal(put.attributes['harden.store_uri'], store.uri);
    assert.equal(telemetry.span('storage.get').attributes['harden.storage.bytes'], 10);
    assert.equal(telemetry.span('storage.list').attributes['harden.storage.count'], 1);
    assert.equal(telemetry.span('storage.exists').attributes['harden.storage.key'], 'model.json');
    for (const name of ['storage.put', 'storage.get', 'storage.list', 'storage.exists']) assert.equal(parentOf(telemetry.span(name)), parent);
    assert.equal(traceStore(store), store, 'wrapping twice is a no-op');
  });
  it('records a failed operation as an error span and rethrows', async () => {
    const store = traceStore(createMemoryStore());
    await assert.rejects(store.get('missing'));
    assert.equal(telemetry.spans().filter((s) => s.name === 'storage.get').at(-1)!.status.code, SpanStatusCode.ERROR);
  });
});
