/**
 * `modelSignature`: a model's input size and class count read from model.json text alone (what the
 * services check before they queue a job), for our models, ONNX imports and stock tfjs models.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { initEngine, tfl } from '../engine/index.js';
import { buildModel, modelSignature, modelToBytes } from './index.js';
import { onnxToModelBytes } from './onnx/onnx-import.js';
import { FIXTURE_DIR } from './onnx/onnx-oracle.fixture.js';

describe('modelSignature', () => {
  before(async () => {
    await initEngine('cpu');
  });

  it('reads our metadata', async () => {
    const model = buildModel({ arch: 'small-cnn', inputShape: [32, 32, 3], numClasses: 7, seed: 0 });
    assert.deepEqual(modelSignature((await modelToBytes(model)).modelJson), { inputShape: [32, 32, 3], numClasses: 7 });
    model.dispose();
  });

  it('reads an ONNX import: the input layer and the last Gemm', () => {
    const imported = onnxToModelBytes(new Uint8Array(readFileSync(`${FIXTURE_DIR}resnet-op13.onnx`)));
    assert.deepEqual(modelSignature(imported.bytes.modelJson), { inputShape: imported.inputShape, numClasses: imported.numClasses });
    assert.deepEqual(imported.inputShape, [32, 32, 3]);
  });

  it('reads a stock Sequential model, looking through a final softmax Activation', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.flatten({ inputShape: [12, 10, 1] }), tfl.layers.dense({ units: 5 }), tfl.layers.activation({ activation: 'softmax' })],
    });
    assert.deepEqual(modelSignature((await modelToBytes(model)).modelJson), { inputShape: [12, 10, 1], numClasses: 5 });
    model.dispose();
  });

  it('says nothing it cannot read', () => {
    assert.deepEqual(modelSignature('not json'), {});
    assert.deepEqual(modelSignature('{"modelTopology": {"class_name": "Model", "config": {"layers": []}}}'), {});
  });
});
