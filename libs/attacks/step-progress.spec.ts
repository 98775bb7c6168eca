import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeStep, throttledSteps, type StepProgress } from './step-progress.js';
import type { StepEvent } from './types.js';

const step = (attack: string, s: number, shard?: { index: number; count: number }): StepEvent => ({ attack, step: s, objective: 1, samples: 4, ...(shard ? { shard } : {}) });

describe('step progress', () => {
  it('reports every step unthrottled, counting passes of a stage that starts again', () => {
    const seen: StepProgress[] = [];
    const on = throttledSteps((p) => seen.push(p), 0, 'autoattack');
    for (const e of [step('apgd-ce', 0), step('apgd-ce', 1), step('apgd-t', 0), step('apgd-t', 1), step('apgd-t', 0), step('apgd-t', 1)]) on(e);
    assert.deepEqual(seen.map(describeStep), ['apgd-ce, step 0', 'apgd-ce, step 1', 'apgd-t, step 0', 'apgd-t, step 1', 'apgd-t pass 2, step 0', 'apgd-t pass 2, step 1']);
  });

  it('throttles within a stage but reports a new stage, or a new lead shard, at once', () => {
    const seen: StepProgress[] = [];
    const on = throttledSteps((p) => seen.push(p), 60_000, 'autoattack');
    const a = { index: 0, count: 2 };
    const b = { index: 1, count: 2 };
    for (const e of [step('square', 0, a), step('square', 1, a), step('square', 2, a), step('square', 900, b), step('square', 901, b)]) on(e);
    assert.deepEqual(seen.map(describeStep), ['square, step 0 (shard 1 of 2)', 'square, step 900 (shard 2 of 2)']);
  });

  it('names the shard only when the batch is split', () => {
    assert.equal(describeStep({ stage: 'pgd', pass: 1, step: 3, shard: { index: 0, count: 1 } }), 'pgd, step 3');
    assert.equal(describeStep({ stage: 'fab-t', pass: 4, step: 10 }), 'fab-t pass 4, step 10');
  });
});
