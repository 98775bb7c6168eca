/**
 * The importer against ONNX Runtime: every PyTorch-exported fixture, converted, gives ORT's outputs
 * on the original file within 1e-4 (batch 5, random images), on the cpu reference and on the
 * engine attacks run on (wasm); and what it refuses, it refuses by name.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf } from '../../engine/index.js';
import { ModelError } from '../errors.js';
import { modelFromBytes, modelToBytes } from '../model-format.js';
import { decodeOnnx, onnxToModelBytes } from './index.js';
import { FIXTURES, fileInput, fixtureBytes, imagesNchw, maxAbsDiff, runOrt, toNhwc } from './onnx-oracle.fixture.js';

const BATCH = 5;
const TOLERANCE = 1e-4;

describe('ONNX import', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    describe(`on ${backend}`, () => {
      before(async () => {
        await initEngine(backend);
      });
      for (const f of FIXTURES) {
        it(`${f.file}: logits equal ONNX Runtime's within ${TOLERANCE} (batch ${BATCH})`, async () => {
          const bytes = fixtureBytes(f.file);
          const imported = onnxToModelBytes(bytes);
          assert.deepEqual(imported.inputShape, [f.chw[1], f.chw[2], f.chw[0]]);
          assert.equal(imported.numClasses, 10);
          assert.equal(imported.meta.outputSoftmax, f.softmax);
          assert.equal(imported.warnings.length, f.softmax ? 1 : 0);
          const model = await modelFromBytes(imported.bytes);
          try {
            const x = imagesNchw(BATCH, f.chw, 17);
            const input = fileInput(f, x, BATCH);
            const expected = await runOrt(bytes, input.data, input.shape);
            const ours = tf.tidy(() => {
              const logits = model.predict(toNhwc(x, BATCH, f.chw)) as tf.Tensor;
              return (f.softmax ? tf.softmax(logits) : logits).dataSync();
            });
            assert.deepEqual(expected.dims, [BATCH, 10]);
            const diff = maxAbsDiff(ours, expected.data);
            assert.ok(diff <= TOLERANCE, `max |ours − ORT| = ${diff}`);
            // Outputs differ between images (the comparison is not between constants).
            assert.ok(maxAbsDiff(expected.data.slice(0, 10), expected.data.slice(10, 20)) > 1e-3);
          } finally {
            model.dispose();
          }
        });
      }
    });
  }

  it('keeps the input normalisation inside the model, as non-trainable constants', async () => {
    await initEngine('cpu');
    const model = await modelFromBytes(onnxToModelBytes(fixtureBytes('normalized-op17.onnx')).bytes);
    try {
      const consts = model.layers.filter((l) => l.getClassName() === 'HardenOnnxArith' && l.getWeights().length === 1);
      assert.ok(consts.length >= 2, 'a Sub and a Div with constants');
      assert.ok(consts.every((l) => l.trainableWeights.length === 0));
      const values = consts.map((l) => Array.from(l.getWeights()[0].dataSync()).map((v) => Number(v.toFixed(4))));
      assert.deepEqual(values[0], [0.4914, 0.4822, 0.4465]);
      assert.deepEqual(values[1], [0.247, 0.2435, 0.2616]);
      assert.equal(model.inputs[0].shape.join(','), ',32,32,3');
    } finally {
      model.dispose();
    }
  });

  it('round-trips a converted model through model.json bit for bit', async () => {
    await initEngine('cpu');
    const model = await modelFromBytes(onnxToModelBytes(fixtureBytes('mobilenet-op12.onnx')).bytes);
    const again = await modelFromBytes(await modelToBytes(model));
    try {
      const x = toNhwc(imagesNchw(2, [3, 32, 32], 3), 2, [3, 32, 32]);
      assert.deepEqual((model.predict(x) as tf.Tensor).dataSync(), (again.predict(x) as tf.Tensor).dataSync());
      assert.ok(model.trainableWeights.length > 0);
    } finally {
      model.dispose();
      again.dispose();
    }
  });

  it('refuses an unsupported operator before converting, naming the operator, the node and the opset', () => {
    assert.throws(
      () => onnxToModelBytes(fixtureBytes('unsupported-gelu-op13.onnx')),
      (e: unknown) => ModelError.is(e, 'unsupported') && /"Erf" \(node "[^"]+"\).* opset 13/.test((e as Error).message),
    );
  });

  it('refuses an opset outside 11-18, naming it', () => {
    const bytes = fixtureBytes('small-cnn-op11.onnx');
    const model = decodeOnnx(bytes);
    assert.equal(model.opsets.get(''), 11);
    assert.throws(() => onnxToModelBytes(patchOpset(bytes, 11, 9)), (e: unknown) => ModelError.is(e, 'unsupported') && /opset 9/.test((e as Error).message));
  });

  it('refuses bytes that are not an ONNX model as corrupt', () => {
    assert.throws(() => onnxToModelBytes(new TextEncoder().encode('{"modelTopology": {}}')), (e: unknown) => ModelError.is(e, 'corrupt'));
  });
});

/** The same file with its opset_import version changed (the varint after the opset's field 2 tag). */
function patchOpset(bytes: Uint8Array, from: number, to: number): Uint8Array {
  const out = bytes.slice();
  for (let i = out.length - 2; i >= 0; i--) {
    if (out[i] === 0x10 && out[i + 1] === from) {
      out[i + 1] = to;
      return out;
    }
  }
  throw new Error('opset not found');
}
