/**
 * The train-mode forward passes run in the reference codes' order, which decides what BatchNorm's
 * running statistics average: D2R and LBGAT run T(x′), T(x), G(x) (LBGAT's T(x) even with β = 0).
 * Models whose first layer is BatchNorm make the running mean a closed form of the passes' inputs.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, tfl, type Tensor2D, type Tensor4D } from '../engine/index.js';
import { getMethod, type MethodName } from './index.js';
import { methodLoss, type MethodModels } from './method.js';

const MOMENTUM = 0.9;

/** input [4, 4, 2] → BatchNorm → flatten → dense 3: the BN layer sees the inputs themselves. */
function bnFirstModel(seed: number): tfl.LayersModel {
  const input = tfl.input({ shape: [4, 4, 2] });
  let x = tfl.layers.batchNormalization({ momentum: MOMENTUM, epsilon: 1e-5 }).apply(input) as tfl.SymbolicTensor;
  x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed }) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

async function movingMean(model: tfl.LayersModel): Promise<number[]> {
  const w = model.layers[1].getWeights();
  // [gamma, beta, moving mean, moving variance]
  return Array.from(await w[2].data());
}

async function channelMeans(x: Tensor4D): Promise<number[]> {
  const m = tf.mean(x, [0, 1, 2]);
  const values = Array.from(await m.data());
  m.dispose();
  return values;
}

/** The running mean after passes over `batches` in order, from 0 (tfjs: m ← μ·m + (1 − μ)·mean). */
function afterPasses(batches: number[][]): number[] {
  return batches.reduce((m, b) => m.map((v, c) => MOMENTUM * v + (1 - MOMENTUM) * b[c]), [0, 0]);
}

const closeAll = (actual: number[], expected: number[], what: string) =>
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `${what}[${i}]: ${v} vs ${expected[i]}`));

describe('train-mode forward passes in the reference order', () => {
  before(async () => {
    await initEngine('wasm');
  });

  for (const [name, beta] of [
    ['d2r', 0],
    ['lbgat', 0],
    ['lbgat', 6],
  ] as Array<[MethodName, number]>) {
    it(`${name}${name === 'lbgat' ? ` (β = ${beta})` : ''}: the target's BatchNorm sees x′ then x, the guidance model x`, async () => {
      const models: MethodModels = { target: bnFirstModel(1), guidance: bnFirstModel(2) };
      // Far-apart batch means, so that the two orders give running means 0.01·|Δmean| apart.
      const x = tf.randomUniform([6, 4, 4, 2], 0, 0.3, 'float32', 3) as Tensor4D;
      const xAdv = tf.randomUniform([6, 4, 4, 2], 0.6, 1, 'float32', 4) as Tensor4D;
      const yOneHot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32'), 3), 'float32') as Tensor2D);
      const loss = methodLoss(getMethod(name), models, { x, xAdv, yOneHot }, { beta, lambda: 0 });
      loss.dispose();
      const [mx, mAdv] = [await channelMeans(x), await channelMeans(xAdv)];
      const target = await movingMean(models.target);
      closeAll(target, afterPasses([mAdv, mx]), 'target running mean after T(x′), T(x)');
      const reversed = afterPasses([mx, mAdv]);
      assert.ok(target.some((v, i) => Math.abs(v - reversed[i]) > 1e-3), 'the test tells the two orders apart');
      closeAll(await movingMean(models.guidance!), afterPasses([mx]), 'guidance running mean after G(x)');
      tf.dispose([x, xAdv, yOneHot]);
      models.target.dispose();
      models.guidance!.dispose();
    });
  }

  it('the passes are listed as T(x′), T(x), G(x) for d2r and for lbgat at any β', () => {
    const order = (name: MethodName, beta: number) => getMethod(name).forwards({ beta, lambda: 0 }).map((p) => `${p.model}:${p.input}`);
    const expected = ['target:xAdv', 'target:x', 'guidance:x'];
    assert.deepEqual(order('d2r', 0), expected);
    assert.deepEqual(order('lbgat', 0), expected);
    assert.deepEqual(order('lbgat', 6), expected);
  });
});
