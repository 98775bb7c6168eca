import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, type tfl } from '../engine/index.js';
import { collectParameters, createSgd, createTrainingStep, getMethod, readLosses, METHOD_NAMES, type MethodModels } from './index.js';
import { prototypeDataset, tinyModel } from './testing.fixture.js';
import { withDropoutSeed } from '../models/index.js';

const data = prototypeDataset(16, { seed: 9 });
const labels = data.labels;

/** BatchNorm moving statistics (non-trainable weights) of a model, as plain values. */
const movingStats = (m: tfl.LayersModel) => m.nonTrainableWeights.map((w) => Array.from(w.read().dataSync()));

describe('every method', () => {
  before(async () => {
    await initEngine('wasm');
  });

  for (const name of METHOD_NAMES) {
    it(`${name}: inner max in inference mode inside the ε-ball, loss in train mode, finite steps, no leaks`, async () => {
      const method = getMethod(name);
      const models: MethodModels = { target: tinyModel({ seed: 1 }), guidance: method.usesGuidance ? tinyModel({ seed: 2 }) : undefined };
      const x = tf.tensor4d(data.images, [16, 8, 8, 1]);
      const y = tf.tensor1d(labels, 'int32');
      const eps = 0.1;
      const settings = { eps, alpha: method.defaultAlpha(eps), steps: 3, seed: 1 };

      const statsBefore = movingStats(models.target);
      const xAdv = await method.perturb(models, x, labels, settings);
      assert.deepEqual(movingStats(models.target), statsBefore, 'the inner maximisation leaves BatchNorm statistics alone');
      if (name === 'standard') assert.equal(xAdv, undefined);
      else {
        const [dist, lo, hi] = tf.tidy(() => [tf.max(tf.abs(tf.sub(xAdv!, x))), tf.min(xAdv!), tf.max(xAdv!)].map((t) => t.dataSync()[0]));
        assert.ok(dist <= eps + 1e-6 && dist > 0, `‖x′ − x‖∞ = ${dist}`);
        assert.ok(lo >= 0 && hi <= 1, 'x′ in [0, 1]');
        xAdv!.dispose();
      }

      const { variables, names } = collectParameters(models);
      assert.equal(names.some((n) => n.startsWith('guidance/')), method.usesGuidance);
      const optimizer = createSgd(variables, {}, names);
      const weights = { beta: name === 'lbgat' ? 6 : (method.weight?.default ?? 0), lambda: method.weight?.name === 'lambda' ? method.weight.default : 0 };
      const step = createTrainingStep({ method, models, optimizer, weights, numClasses: 4 });
      const losses = await readLosses([(await step(x, y, labels, { ...settings, lr: 0.05 })).loss]);
      assert.notDeepEqual(movingStats(models.target), statsBefore, 'the loss runs in train mode (moving statistics updated)');
      const tensors = tf.memory().numTensors;
      for (let i = 1; i < 8; i++) losses.push(...(await readLosses([(await step(x, y, labels, { ...settings, lr: 0.05, seed: i })).loss])));
      assert.equal(tf.memory().numTensors, tensors, 'tensor count constant across steps');
      assert.ok(losses.every(Number.isFinite), losses.join(', '));
      assert.ok(losses.at(-1)! < losses[0], `${name} loss fell: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
      optimizer.dispose();
      tf.dispose([x, y]);
      models.target.dispose();
      models.guidance?.dispose();
    });

    it(`${name}: the low-memory 'recompute' gradients give the tape's update, dropout included`, async () => {
      const method = getMethod(name);
      const x = tf.tensor4d(data.images, [16, 8, 8, 1]);
      const y = tf.tensor1d(labels, 'int32');
      const weights = { beta: 6, lambda: 6 };
      const run = async (gradients: 'tape' | 'recompute') => {
        // With dropout: each forward pass draws its masks from its own stream, so the recomputed pass sees the first one's.
        const models: MethodModels = { target: tinyModel({ seed: 1, dropout: 0.3 }), guidance: method.usesGuidance ? tinyModel({ seed: 2, dropout: 0.3 }) : undefined };
        const { variables, names } = collectParameters(models);
        const optimizer = createSgd(variables, {}, names);
        const step = createTrainingStep({ method, models, optimizer, weights: { beta: method.weight?.name === 'beta' ? 6 : 0, lambda: weights.lambda }, numClasses: 4, gradients });
        const losses: number[] = [];
        for (let i = 0; i < 2; i++) losses.push(...(await readLosses([(await withDropoutSeed(100 + i, () => step(x, y, labels, { eps: 0.1, alpha: 0.02, steps: 2, seed: i, lr: 0.05 }))).loss])));
        const out = [models.target, models.guidance].flatMap((m) => (m ? m.getWeights().map((w) => Array.from(w.dataSync())) : []));
        optimizer.dispose();
        models.target.dispose();
        models.guidance?.dispose();
        return { losses, out };
      };
      const tape = await run('tape');
      const tensors = tf.memory().numTensors;
      const recompute = await run('recompute');
      assert.equal(tf.memory().numTensors, tensors, 'recompute leaves no tensors behind');
      recompute.losses.forEach((l, i) => assert.ok(Math.abs(l - tape.losses[i]) <= 1e-5 * Math.max(1, Math.abs(l)), `loss ${l} vs ${tape.losses[i]}`));
      let diff = 0;
      tape.out.forEach((w, i) => w.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - recompute.out[i][j])))));
      assert.ok(diff <= 1e-5, `weights and BN statistics differ by ${diff}`);
      tf.dispose([x, y]);
    });
  }
});
