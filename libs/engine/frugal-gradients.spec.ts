/**
 * Frugal gradients (frugal-gradients.ts) against tfjs's own `Engine.gradients`: the same values on
 * real models (weights and input), the same tensor count afterwards, second-order gradients intact,
 * a caller's dy untouched, and a lower peak of live bytes.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { buildModel } from '../models/index.js';
import { initEngine, tf, tfl } from './index.js';
import { installFrugalGradients, stockGradients } from './frugal-gradients.js';

type Engine = { gradients: typeof stockGradients };
const engine = () => tf.engine() as unknown as Engine;

/** Runs `fn` with tfjs's own gradients, then restores ours. */
function withStock<T>(fn: () => T): T {
  const ours = engine().gradients;
  engine().gradients = stockGradients;
  try {
    return fn();
  } finally {
    engine().gradients = ours;
  }
}

const same = (a: tf.Tensor, b: tf.Tensor) => assert.deepEqual(Array.from(a.dataSync()), Array.from(b.dataSync()));

describe('frugal gradients', () => {
  before(async () => {
    await initEngine('wasm');
    installFrugalGradients();
  });

  for (const arch of ['preact-resnet18', 'small-cnn'] as const) {
    it(`${arch}: bit-identical weight and input gradients to tfjs's, no tensor left behind`, () => {
      const shape: [number, number, number] = arch === 'small-cnn' ? [28, 28, 1] : [16, 16, 3];
      const model = buildModel({ arch, inputShape: shape, numClasses: 10, seed: 3 });
      const x = tf.randomUniform([3, ...shape], 0, 1, 'float32', 4);
      const y = tf.oneHot(tf.tensor1d([1, 5, 9], 'int32'), 10);
      // Inference mode: training mode would move the BN statistics between the two runs.
      const loss = (xi: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(xi, { training: false }) as tf.Tensor) as tf.Scalar;
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const run = () => {
        const { value, grads } = tf.variableGrads(() => loss(x), variables);
        const dx = tf.grad(loss)(x);
        return { value, grads: variables.map((v) => grads[v.name]), dx };
      };
      const before = tf.memory().numTensors;
      const ours = run();
      const oursCount = tf.memory().numTensors;
      const theirs = withStock(run);
      assert.equal(tf.memory().numTensors - oursCount, oursCount - before, 'both leave the same tensors (the results)');
      same(ours.value, theirs.value);
      same(ours.dx, theirs.dx);
      ours.grads.forEach((g, i) => same(g, theirs.grads[i]));
      tf.dispose([ours.value, theirs.value, ours.dx, theirs.dx, ...ours.grads, ...theirs.grads]);
      assert.equal(tf.memory().numTensors, before);
      tf.dispose([x, y]);
      model.dispose();
    });
  }

  it('second-order gradients: d²/dx² of x³ is 6x', () => {
    const x = tf.tensor1d([1, -2, 3]);
    const d2 = tf.grad((xi: tf.Tensor) => tf.sum(tf.grad((xj: tf.Tensor) => tf.sum(tf.pow(xj, 3)))(xi)))(x);
    assert.deepEqual(Array.from(d2.dataSync()), [6, -12, 18]);
    tf.dispose([x, d2]);
  });

  it("leaves the caller's dy and the xs' gradients alive, also when a gradient is dy itself", () => {
    const x = tf.tensor1d([1, 2, 3]);
    const dy = tf.tensor1d([0.5, 0.5, 0.5]);
    // identity-like chain: every gradient on the way is dy or a view of it
    const { grads } = tf.engine().gradients(() => tf.reshape(tf.clone(x), [3]) as tf.Tensor, [x], dy);
    assert.deepEqual(Array.from(grads[0].dataSync()), [0.5, 0.5, 0.5]);
    assert.ok(!dy.isDisposed);
    assert.deepEqual(Array.from(dy.dataSync()), [0.5, 0.5, 0.5]);
    tf.dispose([x, dy, grads[0]]);
  });

  it('lowers the peak of live bytes during a backward pass', async () => {
    const model = buildModel({ arch: 'preact-resnet18', inputShape: [16, 16, 3], numClasses: 10, seed: 5 });
    const x = tf.randomUniform([8, 16, 16, 3], 0, 1, 'float32', 6);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'), 10);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      tf.dispose(grads);
      return value;
    };
    // tf.profile hands back the same object every time: read each peak before the next profile.
    const ours = await tf.profile(step);
    const ourPeak = ours.peakBytes;
    tf.dispose(ours.result as tf.Tensor);
    const stock = await withStock(() => tf.profile(step));
    const stockPeak = stock.peakBytes;
    tf.dispose(stock.result as tf.Tensor);
    assert.ok(ourPeak < 0.75 * stockPeak, `peak ${ourPeak} vs tfjs ${stockPeak}`);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('is what tf.grad and layers training use after initEngine', () => {
    assert.notEqual(engine().gradients, stockGradients);
    assert.ok(tfl.layers, 'tfjs-layers shares the engine');
  });
});
