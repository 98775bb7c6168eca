/**
 * Parameter counts checked against the PyTorch reference architectures, computed by hand from their
 * module definitions (PyTorch counts trainable parameters; BN running stats are buffers).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine } from '../engine/index.js';
import { buildModel, countParams, forwardMacs, macsByLayer, type ModelConfig } from './index.js';

// nn.Conv2d(i, o, k, bias), nn.BatchNorm2d(c) (weight + bias), nn.Linear(i, o).
const conv = (i: number, o: number, k: number, bias = false) => i * o * k * k + (bias ? o : 0);
const bn = (c: number) => 2 * c;
const linear = (i: number, o: number) => i * o + o;

/** kuangliu / Rice et al. PreActResNet-18 with the final bn. */
function preactResnet18(inC: number, classes: number): number {
  let n = conv(inC, 64, 3);
  let inPlanes = 64;
  for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let b = 0; b < 2; b++) {
      const s = b === 0 ? stride : 1;
      n += bn(inPlanes) + conv(inPlanes, planes, 3) + bn(planes) + conv(planes, planes, 3);
      if (s !== 1 || inPlanes !== planes) n += conv(inPlanes, planes, 1);
      inPlanes = planes;
    }
  }
  return n + bn(512) + linear(512, classes);
}

/** kuangliu ResNet-18 (CIFAR). */
function resnet18(inC: number, classes: number): number {
  let n = conv(inC, 64, 3) + bn(64);
  let inPlanes = 64;
  for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let b = 0; b < 2; b++) {
      const s = b === 0 ? stride : 1;
      n += conv(inPlanes, planes, 3) + bn(planes) + conv(planes, planes, 3) + bn(planes);
      if (s !== 1 || inPlanes !== planes) n += conv(inPlanes, planes, 1) + bn(planes);
      inPlanes = planes;
    }
  }
  return n + linear(512, classes);
}

/** TRADES WideResNet, without the unused sub_block1. */
function wideResnet(depth: number, k: number, inC: number, classes: number): number {
  const blocks = (depth - 4) / 6;
  const ch = [16, 16 * k, 32 * k, 64 * k];
  let n = conv(inC, 16, 3);
  for (let g = 1; g <= 3; g++) {
    for (let b = 0; b < blocks; b++) {
      const i = b === 0 ? ch[g - 1] : ch[g];
      n += bn(i) + conv(i, ch[g], 3) + bn(ch[g]) + conv(ch[g], ch[g], 3) + (i !== ch[g] ? conv(i, ch[g], 1) : 0);
    }
  }
  return n + bn(ch[3]) + linear(ch[3], classes);
}

/** TRADES SmallCNN: 28×28 → 26 → 24 → 12 → 10 → 8 → 4. */
const smallCnnMnist = conv(1, 32, 3, true) + conv(32, 32, 3, true) + conv(32, 64, 3, true) + conv(64, 64, 3, true) +
  linear(64 * 4 * 4, 200) + linear(200, 200) + linear(200, 10);

describe('countParams', () => {
  before(async () => {
    await initEngine('wasm');
  });

  const cases: [ModelConfig, number, number][] = [
    [{ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10 }, smallCnnMnist, 312_202],
    [{ arch: 'ref-cnn', inputShape: [32, 32, 3], numClasses: 10 }, conv(3, 32, 3, true) + conv(32, 64, 3, true) + conv(64, 128, 3, true) + linear(128, 10), 94_538],
    [{ arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10 }, preactResnet18(3, 10), 11_172_170],
    [{ arch: 'resnet18', inputShape: [32, 32, 3], numClasses: 10 }, resnet18(3, 10), 11_173_962],
    [{ arch: 'resnet18', inputShape: [64, 64, 3], numClasses: 200 }, resnet18(3, 200), 11_271_432],
    [{ arch: 'wide-resnet', depth: 16, widenFactor: 2, inputShape: [32, 32, 3], numClasses: 100 }, wideResnet(16, 2, 3, 100), 703_284],
    // WRN-34-10 (46M weights, ~5 s to initialise): counted, never run.
    [{ arch: 'wide-resnet', inputShape: [32, 32, 3], numClasses: 10 }, wideResnet(34, 10, 3, 10), 46_160_474],
  ];
  for (const [config, byHand, known] of cases) {
    const label = `${config.arch}${'depth' in config ? `-${config.depth ?? 34}-${config.widenFactor ?? 10}` : ''} ${config.inputShape.join('×')} / ${config.numClasses}`;
    it(`${label}: ${known.toLocaleString('en')} trainable parameters`, () => {
      assert.equal(byHand, known, 'hand count');
      const model = buildModel({ ...config, seed: 1 });
      const count = countParams(model);
      assert.equal(count.trainable, known);
      assert.equal(count.total, model.countParams());
      model.dispose();
    });
  }

  it('counts BatchNorm running statistics as non-trainable', () => {
    const model = buildModel({ arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    // Two buffers per BN layer, i.e. as many values as the BN weight + bias.
    const bnChannels = 64 * 2 * 2 + (64 + 128 * 3) + (128 + 256 * 3) + (256 + 512 * 3) + 512;
    assert.equal(countParams(model).nonTrainable, 2 * bnChannels);
    model.dispose();
  });
});

describe('forwardMacs', () => {
  before(async () => {
    await initEngine('wasm');
  });

  it('counts conv and dense multiply-adds per image from the layer shapes', () => {
    const model = buildModel({ arch: 'ref-cnn', inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    // 32×32×32 outputs of 3·3·3; 16×16×64 of 3·3·32; 8×8×128 of 3·3·64; 128·10.
    const expected = 32 * 32 * 32 * 27 + 16 * 16 * 64 * 288 + 8 * 8 * 128 * 576 + 128 * 10;
    assert.equal(forwardMacs(model), expected);
    assert.deepEqual(
      macsByLayer(model).map((l) => [l.name, l.className]),
      [['conv1', 'Conv2D'], ['conv2', 'Conv2D'], ['conv3', 'Conv2D'], ['linear', 'Dense']],
    );
    model.dispose();
  });

  it('gives the usual figures for the ResNets (0.56 GMAC for ResNet-18 on CIFAR)', () => {
    const small = buildModel({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    const smallExpected = 26 * 26 * 32 * 9 + 24 * 24 * 32 * 288 + 10 * 10 * 64 * 288 + 8 * 8 * 64 * 576 + 1024 * 200 + 200 * 200 + 200 * 10;
    assert.equal(forwardMacs(small), smallExpected);
    small.dispose();
    const resnet = buildModel({ arch: 'resnet18', inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    assert.equal(forwardMacs(resnet), 555_422_720);
    resnet.dispose();
  });
});
