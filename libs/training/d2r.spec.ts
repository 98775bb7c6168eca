import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, type Tensor1D, type Tensor2D, type Tensor4D, type Variable } from '../engine/index.js';
import { collectParameters, createSgd, createTrainingStep, d2rTerms, readLosses, getMethod, logitsOf, type D2rTerms, type MethodModels } from './index.js';
import { cagExamples } from './inner-max.js';
import { prototypeDataset, tinyModel } from './testing.fixture.js';

const C = 4;

function batch(n: number): { x: Tensor4D; y: Tensor1D; labels: Int32Array } {
  const data = prototypeDataset(n, { seed: 7, numClasses: C });
  return { x: tf.tensor4d(data.images, [n, 8, 8, 1]), y: tf.tensor1d(data.labels, 'int32'), labels: data.labels };
}

function models(): MethodModels {
  return { target: tinyModel({ seed: 1, numClasses: C, name: 'target' }), guidance: tinyModel({ seed: 2, numClasses: C, name: 'guidance' }) };
}

const absSum = (t: tf.Tensor | undefined) => (t ? tf.tidy(() => tf.sum(tf.abs(t)).dataSync()[0]) : 0);

describe('D2R step', () => {
  before(async () => {
    await initEngine('wasm');
  });

  it('sends gradients into every trainable variable of both models, through the terms the doc says', () => {
    const m = models();
    const { x, y } = batch(8);
    const { variables, names } = collectParameters(m);
    const xAdv = cagExamples(m.target, m.guidance!, x, { eps: 0.1, alpha: 0.03, steps: 2, seed: 3 });
    const yOneHot = tf.cast(tf.oneHot(y, C), 'float32') as Tensor2D;
    const termGrads = (term: keyof D2rTerms) =>
      tf.variableGrads(() => {
        const terms = d2rTerms({
          guidanceClean: logitsOf(m.guidance!, x, true),
          targetClean: logitsOf(m.target, x, true),
          targetAdv: logitsOf(m.target, xAdv, true),
          yOneHot,
        });
        return terms[term];
      }, variables as Variable[]);
    const isTarget = names.map((n) => n.startsWith('target/'));
    assert.ok(isTarget.some(Boolean) && isTarget.some((t) => !t), 'both models are in the optimizer');

    const total = termGrads('total');
    variables.forEach((v, i) => assert.ok(absSum(total.grads[v.name]) > 0, `total: no gradient reaches ${names[i]}`));
    // The target learns only through MSE, the KL symmetry term and the adversarial KL; the guidance model through all four.
    for (const term of ['ce', 'mse', 'symmetry', 'adversarial'] as const) {
      const { value, grads } = termGrads(term);
      variables.forEach((v, i) => {
        const g = absSum(grads[v.name]);
        if (term === 'ce' && isTarget[i]) assert.equal(g, 0, `CE(z_g(x), y) must not reach ${names[i]}`);
        else assert.ok(g > 0, `${term}: no gradient reaches ${names[i]}`);
      });
      tf.dispose([value, grads]);
    }
    tf.dispose([total.value, total.grads, x, y, xAdv, yOneHot]);
    m.target.dispose();
    m.guidance!.dispose();
  });

  it('learns on one fixed batch: the loss falls, both models change, and no tensors leak', async () => {
    const m = models();
    const { x, y, labels } = batch(16);
    const { variables, names } = collectParameters(m);
    const initial = variables.map((v) => v.clone());
    const optimizer = createSgd(variables, { momentum: 0.9, weightDecay: 2e-4 }, names);
    const step = createTrainingStep({ method: getMethod('d2r'), models: m, optimizer, weights: { beta: 0, lambda: 0 }, numClasses: C });
    const settings = { lr: 0.05, eps: 0.1, alpha: 0.03, steps: 3, seed: 0 };
    const losses: number[] = [];
    losses.push(...(await readLosses([(await step(x, y, labels, settings)).loss])));
    const tensors = tf.memory().numTensors;
    for (let i = 1; i < 40; i++) {
      losses.push(...(await readLosses([(await step(x, y, labels, { ...settings, seed: i })).loss])));
      assert.equal(tf.memory().numTensors, tensors, `tensor count after step ${i + 1}`);
    }
    const head = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const tail = losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(losses.every(Number.isFinite), `finite losses: ${losses.join(', ')}`);
    assert.ok(tail < 0.5 * head, `loss fell from ${head.toFixed(4)} to ${tail.toFixed(4)}`);
    const changed = (role: string) =>
      variables.every((v, i) => !names[i].startsWith(role) || tf.tidy(() => tf.sum(tf.abs(tf.sub(v, initial[i]))).dataSync()[0]) > 0);
    assert.ok(changed('target/'), 'every target weight changed');
    assert.ok(changed('guidance/'), 'every guidance weight changed');
    optimizer.dispose();
    tf.dispose([x, y, ...initial]);
    m.target.dispose();
    m.guidance!.dispose();
  });
});
