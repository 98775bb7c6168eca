import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isWasmOutOfMemory } from './errors.js';

describe('isWasmOutOfMemory', () => {
  it('recognises how a wasm engine reports running out of memory, and nothing else', () => {
    // What tfjs-backend-wasm threw for a PreActResNet-18 + ResNet-18 D2R step at batch 128 (tape).
    assert.ok(isWasmOutOfMemory(new WebAssembly.RuntimeError('memory access out of bounds')));
    assert.ok(isWasmOutOfMemory(new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded')));
    assert.ok(isWasmOutOfMemory(new Error('Aborted(OOM)')));
    assert.ok(isWasmOutOfMemory(new Error('Cannot enlarge memory arrays to size 4294967296 bytes')));
    assert.ok(!isWasmOutOfMemory(new Error('shapes [2,3] and [3,2] do not match')));
    assert.ok(!isWasmOutOfMemory(new TypeError('x is undefined')));
  });
});
