import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ATTR, withSpan } from '../telemetry/index.js';
import { parentOf, startTestTelemetry } from '../telemetry/testing.fixture.js';
import { createEvaluationTelemetry } from './telemetry.js';

const telemetry = startTestTelemetry();
after(() => telemetry.shutdown());

describe('createEvaluationTelemetry', () => {
  it('makes one attack span per attack phase under the evaluation span', async () => {
    await withSpan('harden.evaluation', {}, async () => {
      const t = createEvaluationTelemetry({ [ATTR.MODEL_URI]: 'file:///m', [ATTR.EPS]: 0.3 });
      t.onProgress({ type: 'clean', n: 100, cleanAccuracy: 0.9 });
      t.onProgress({ type: 'attack-start', name: 'fgsm', index: 0, total: 2 });
      t.onProgress({ type: 'attack-done', name: 'fgsm', robustAccuracy: 0.5, seconds: 2, index: 0, total: 2 });
      t.onProgress({ type: 'attack-start', name: 'pgd-20', index: 1, total: 2 });
      t.end();
    });
    const evaluation = telemetry.span('harden.evaluation');
    assert.equal(evaluation.attributes[ATTR.CLEAN_ACCURACY], 0.9);
    const attacks = telemetry.spans().filter((s) => s.name === 'harden.attack');
    assert.deepEqual(attacks.map((a) => a.attributes[ATTR.ATTACK]), ['fgsm', 'pgd-20']);
    for (const a of attacks) assert.equal(parentOf(a), evaluation.spanContext().spanId);
    assert.equal(attacks[0].attributes[ATTR.IMG_PER_S], 50);
    assert.equal(attacks[0].attributes[ATTR.EPS], 0.3);
  });
});
