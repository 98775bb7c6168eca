/**
 * The exporter against ONNX Runtime: a converted fixture, and models of ours (built by buildModel,
 * BatchNorm statistics moved off their initial values), written as ONNX and run by ORT, give our
 * outputs within 1e-4 (batch 4); an imported model goes back with its own input/output names,
 * normalisation and Softmax, so the exported file agrees with the original file too.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initEngine, tf, tfl } from '../../engine/index.js';
import { ModelError } from '../errors.js';
import { modelFromBytes } from '../model-format.js';
import { buildModel } from '../registry.js';
import { decodeOnnx, modelToOnnx, onnxToModelBytes } from './index.js';
import { FIXTURES, fileInput, fixtureBytes, imagesNchw, maxAbsDiff, runOrt, toNhwc } from './onnx-oracle.fixture.js';

const BATCH = 4;
const TOLERANCE = 1e-4;

/** Our outputs (softmax applied when asked) on NCHW images `x`. */
function ours(model: tfl.LayersModel, x: Float32Array, chw: [number, number, number], softmax: boolean): Float32Array {
  return tf.tidy(() => {
    const logits = model.predict(toNhwc(x, BATCH, chw)) as tf.Tensor;
    return (softmax ? tf.softmax(logits) : logits).dataSync() as Float32Array;
  });
}

describe('ONNX export', () => {
  before(async () => {
    await initEngine('wasm');
  });

  for (const f of FIXTURES) {
    it(`${f.file}: imported then exported, ORT on our file gives our outputs and the original's, same names`, async () => {
      const original = fixtureBytes(f.file);
      const model = await modelFromBytes(onnxToModelBytes(original).bytes);
      try {
        const exported = modelToOnnx(model);
        const x = imagesNchw(BATCH, f.chw, 5);
        const input = fileInput(f, x, BATCH);
        const fromExport = await runOrt(exported, input.data, input.shape);
        const fromOriginal = await runOrt(original, input.data, input.shape);
        assert.deepEqual([fromExport.inputName, fromExport.outputName], [fromOriginal.inputName, fromOriginal.outputName]);
        assert.deepEqual(fromExport.dims, [BATCH, 10]);
        const d1 = maxAbsDiff(fromExport.data, ours(model, x, f.chw, f.softmax));
        const d2 = maxAbsDiff(fromExport.data, fromOriginal.data);
        assert.ok(d1 <= TOLERANCE && d2 <= TOLERANCE, `max |ORT(exported) − ours| = ${d1}, max |ORT(exported) − ORT(original)| = ${d2}`);
        assert.equal(decodeOnnx(exported).opsets.get(''), 13);
      } finally {
        model.dispose();
      }
    });
  }

  const archs = [
    { arch: 'small-cnn', inputShape: [28, 28, 1] },
    { arch: 'ref-cnn', inputShape: [32, 32, 3] },
    { arch: 'wide-resnet', inputShape: [32, 32, 3], depth: 10, widenFactor: 1 },
  ] as const;
  for (const config of archs) {
    it(`${config.arch} (ours): ORT on the exported file gives our logits (input "input", output "logits", NCHW)`, async () => {
      const model = buildModel({ ...config, numClasses: 10, seed: 3 } as Parameters<typeof buildModel>[0]);
      try {
        const [h, w, c] = config.inputShape;
        const chw: [number, number, number] = [c, h, w];
        // Move BatchNorm's moving statistics (and make small-cnn's zero-initialised head non-zero).
        tf.tidy(() => {
          for (let i = 0; i < 3; i++) model.apply(tf.mul(tf.randomUniform([8, h, w, c], 0, 1, 'float32', i), 2), { training: true });
        });
        for (const layer of model.layers.filter((l) => l.getClassName() === 'Dense')) {
          layer.setWeights(layer.getWeights().map((t, i) => tf.randomNormal(t.shape, 0, 0.1, 'float32', 7 + i)));
        }
        const exported = modelToOnnx(model);
        const x = imagesNchw(BATCH, chw, 9);
        const r = await runOrt(exported, x, [BATCH, ...chw]);
        assert.deepEqual([r.inputName, r.outputName], ['input', 'logits']);
        const expected = ours(model, x, chw, false);
        const d = maxAbsDiff(r.data, expected);
        assert.ok(d <= TOLERANCE, `max |ORT − ours| = ${d}`);
        assert.ok(maxAbsDiff(expected.slice(0, 10), expected.slice(10, 20)) > 1e-3, 'outputs differ between images');
      } finally {
        model.dispose();
      }
    });
  }

  it('refuses a layer it cannot write, naming it, before writing anything', () => {
    const input = tfl.input({ shape: [8, 8, 3], name: 'img' });
    const permuted = tfl.layers.permute({ dims: [3, 1, 2], name: 'perm' }).apply(input) as tfl.SymbolicTensor;
    const y = tfl.layers.dense({ units: 10, name: 'head' }).apply(tfl.layers.flatten({ name: 'flat' }).apply(permuted) as tfl.SymbolicTensor);
    const model = tfl.model({ inputs: input, outputs: y as tfl.SymbolicTensor });
    assert.throws(() => modelToOnnx(model), (e: unknown) => ModelError.is(e, 'unsupported') && /"perm" \(Permute\)/.test((e as Error).message));
    model.dispose();
  });
});
