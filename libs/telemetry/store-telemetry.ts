/**
 * Storage spans without touching the stores: `traceStore(store)` returns the same store with every
 * operation in a CLIENT span (`storage.put`, `storage.get`, `storage.list`, …) carrying the store
 * root, the key and the bytes moved. Children (`store.child(prefix)`) are traced too.
 */
import { SpanKind } from '@opentelemetry/api';
import type { ArtifactStore } from '../storage/index.js';
import { ATTR, SPAN } from './attributes.js';
import { withSpan } from './spans.js';

const TRACED = Symbol.for('harden.telemetry.traced-store');

function scheme(uri: string): string {
  const i = uri.indexOf('://');
  return i > 0 ? uri.slice(0, i) : 'file';
}

/**
 * Wraps `store` so each operation is a span (a child of the active span). Wrapping twice is a no-op.
 * Streams returned by `getStream` are not followed: the span covers opening the object.
 */
export function traceStore<S extends ArtifactStore>(store: S): S {
  if ((store as unknown as Record<symbol, unknown>)[TRACED]) return store;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === TRACED) return true;
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      const fn = value as (...args: unknown[]) => unknown;
      if (prop === 'child') return (...args: unknown[]) => traceStore(fn.apply(target, args) as ArtifactStore);
      return (...args: unknown[]) => {
        const key = typeof args[0] === 'string' ? args[0] : undefined;
        const put = prop === 'put' && args[1] instanceof Uint8Array ? args[1].byteLength : undefined;
        return withSpan(
          `${SPAN.STORAGE_PREFIX}${prop}`,
          { [ATTR.STORE_URI]: target.uri, [ATTR.STORAGE_KEY]: key, [ATTR.STORAGE_BYTES]: put, 'storage.system': scheme(target.uri) },
          async (span) => {
            const result = await fn.apply(target, args);
            if (result instanceof Uint8Array) span.setAttribute(ATTR.STORAGE_BYTES, result.byteLength);
            else if (prop === 'putStream' && typeof result === 'number') span.setAttribute(ATTR.STORAGE_BYTES, result);
            else if (Array.isArray(result)) span.setAttribute('harden.storage.count', result.length);
            return result;
          },
          { kind: SpanKind.CLIENT },
        );
      };
    },
  });
}
