import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf } from '../engine/index.js';
import { buildModel, getModelInfo, ModelError, modelConfigFromInfo, resolveModelConfig, type ModelConfig } from './index.js';

/** Every arch small enough to run; WRN-34-10 is only counted (see cost.spec.ts). */
const ARCHS: ModelConfig[] = [
  { arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10 },
  { arch: 'ref-cnn', inputShape: [28, 28, 1], numClasses: 10 },
  { arch: 'preact-resnet18', inputShape: [28, 28, 1], numClasses: 10 },
  { arch: 'resnet18', inputShape: [28, 28, 1], numClasses: 10 },
  { arch: 'wide-resnet', depth: 10, widenFactor: 2, inputShape: [28, 28, 1], numClasses: 10 },
];
const SHAPES: { inputShape: [number, number, number]; numClasses: number }[] = [
  { inputShape: [28, 28, 1], numClasses: 10 },
  { inputShape: [32, 32, 3], numClasses: 100 },
  { inputShape: [64, 64, 3], numClasses: 200 },
];

describe('buildModel', () => {
  before(async () => {
    await initEngine('wasm');
  });

  for (const base of ARCHS) {
    for (const shape of SHAPES) {
      it(`${base.arch} ${shape.inputShape.join('×')} → ${shape.numClasses} logits`, () => {
        const model = buildModel({ ...base, ...shape, seed: 3 } as ModelConfig);
        try {
          const out = tf.tidy(() => model.predict(tf.randomUniform([2, ...shape.inputShape], 0, 1, 'float32', 1)) as tf.Tensor);
          assert.deepEqual(out.shape, [2, shape.numClasses]);
          assert.ok(out.dataSync().every(Number.isFinite));
          out.dispose();
          const names = model.layers.map((l) => l.name);
          assert.equal(new Set(names).size, names.length, 'layer names are unique');
          const info = getModelInfo(model);
          assert.equal(info?.arch, base.arch);
          assert.deepEqual(info?.inputShape, shape.inputShape);
          assert.equal(info?.numClasses, shape.numClasses);
          assert.equal(info?.seed, 3);
        } finally {
          model.dispose();
        }
      });
    }
  }

  it('gives stable layer names that follow the PyTorch state dict', () => {
    const model = buildModel({ arch: 'preact-resnet18', inputShape: [8, 8, 3], numClasses: 10, seed: 1 });
    const names = model.layers.map((l) => l.name);
    for (const name of ['conv1', 'layer1_0_bn1', 'layer2_0_shortcut_0', 'layer4_1_conv2', 'bn', 'linear']) {
      assert.ok(names.includes(name), name);
    }
    assert.equal(model.outputs[0].sourceLayer.name, 'linear');
    model.dispose();
  });

  it('is deterministic in the seed, and records a random seed when none is given', () => {
    const weights = (m: ReturnType<typeof buildModel>) => m.getWeights().map((w) => Array.from(w.dataSync()));
    const config: ModelConfig = { arch: 'wide-resnet', depth: 16, widenFactor: 1, inputShape: [8, 8, 3], numClasses: 4 };
    const a = buildModel({ ...config, seed: 42 });
    const b = buildModel({ ...config, seed: 42 });
    const c = buildModel({ ...config, seed: 43 });
    assert.deepEqual(weights(a), weights(b));
    assert.notDeepEqual(weights(a), weights(c));
    // Two convs of the same shape in one model get different weights (per-layer seeds).
    const w = (m: typeof a, layer: string) => Array.from(m.getLayer(layer).getWeights()[0].dataSync());
    assert.notDeepEqual(w(a, 'block1_layer_0_conv2'), w(a, 'block1_layer_1_conv2'));
    const unseeded = buildModel(config);
    const info = getModelInfo(unseeded)!;
    assert.ok(Number.isInteger(info.seed));
    const rebuilt = buildModel(info);
    assert.deepEqual(weights(rebuilt), weights(unseeded));
    for (const m of [a, b, c, unseeded, rebuilt]) m.dispose();
  });

  it('initialises as the PyTorch references do', () => {
    const small = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
    const values = (name: string, i = 0) => Array.from(small.getLayer(name).getWeights()[i].dataSync());
    assert.ok(values('classifier_fc3').every((v) => v === 0), 'TRADES zero-inits fc3');
    assert.ok(values('features_conv1', 1).every((v) => v === 0), 'conv bias zero');
    // conv2: Kaiming normal, std √(2 / (3·3·32)) = 0.0833; 9216 samples.
    const k = values('features_conv2');
    const std = Math.sqrt(k.reduce((s, v) => s + v * v, 0) / k.length);
    assert.ok(Math.abs(std - Math.sqrt(2 / 288)) < 0.004, `std ${std}`);
    // fc1: PyTorch default U(±1/√1024).
    assert.ok(values('classifier_fc1').every((v) => Math.abs(v) <= 1 / 32));
    small.dispose();
    const wrn = buildModel({ arch: 'wide-resnet', depth: 10, widenFactor: 1, inputShape: [8, 8, 3], numClasses: 10, seed: 5 });
    const bn = wrn.getLayer('bn1').getWeights();
    assert.deepEqual(Array.from(bn[0].dataSync()).slice(0, 2), [1, 1]);
    assert.ok(wrn.getLayer('fc').getWeights()[1].dataSync().every((v) => v === 0), 'WRN zero-inits the fc bias');
    wrn.dispose();
  });

  it('rejects bad configs with typed errors before building anything', () => {
    const code = (config: unknown) => {
      try {
        resolveModelConfig(config as ModelConfig);
      } catch (err) {
        assert.ok(err instanceof ModelError, String(err));
        return err.code;
      }
      return 'ok';
    };
    const base = { inputShape: [32, 32, 3], numClasses: 10 };
    assert.equal(code({ ...base, arch: 'vgg16' }), 'unknown-arch');
    assert.equal(code({ ...base, arch: 'resnet18', depth: 34 }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'wide-resnet', depth: 33 }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'wide-resnet', widenFactor: '10' }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'small-cnn', dropout: 1 }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'small-cnn', inputShape: [12, 12, 1] }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'ref-cnn', inputShape: [32, 32] }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'ref-cnn', numClasses: 1 }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'ref-cnn', seed: -1 }), 'invalid-options');
    assert.equal(code({ ...base, arch: 'wide-resnet', depth: 16, widenFactor: 4 }), 'ok');
  });

  it('resolves defaults into the ModelInfo, and back into a config', () => {
    const info = resolveModelConfig({ arch: 'wide-resnet', inputShape: [32, 32, 3], numClasses: 10, seed: 9 });
    assert.deepEqual(info.archOptions, { depth: 34, widenFactor: 10, dropout: 0 });
    assert.deepEqual(modelConfigFromInfo(info), {
      arch: 'wide-resnet',
      depth: 34,
      widenFactor: 10,
      dropout: 0,
      inputShape: [32, 32, 3],
      numClasses: 10,
      seed: 9,
    });
    assert.deepEqual(resolveModelConfig({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 0 }).archOptions, {
      dropout: 0.5,
      zeroInitHead: true,
    });
  });
});
