/**
 * Gradients through converted ONNX models, checked as the kernels' are (kernel-check.fixture):
 * the input gradient an attack uses (inference mode) and the weight gradients a training step uses
 * (training mode: BatchNorm on batch statistics) on the engines that run them (wasm, and native
 * where oneDNN is built) against the cpu backend's, within 1e-4 of the largest magnitude (of the
 * tensor, or 1 % of the model's largest weight gradient for tensors whose gradient is nearly zero,
 * like the bias of a conv before a training-mode BatchNorm); and the cpu input gradient against ONNX
 * Runtime's own function, by central differences along a random direction (float32: within 1 %).
 *
 * small-cnn-op11 max-pools a LeakyReLU's output, whose windows can be all negative: it is the case
 * that caught tfjs-backend-wasm's own `MaxPoolGrad` routing such windows' gradient to the wrong
 * pixel (now replaced, wasm-kernels/max-pool-grad.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initEngine, loadNative, tf, type tfl } from '../../engine/index.js';
import { relativeError, values } from '../../engine/kernel-check.fixture.js';
import { modelFromBytes } from '../model-format.js';
import { onnxToModelBytes } from './index.js';
import { fixtureBytes, imagesNchw, runOrt, toNhwc, type OnnxFixture } from './onnx-oracle.fixture.js';

const BATCH = 3;
const TOLERANCE = 1e-4;
const CASES: OnnxFixture[] = [
  { file: 'resnet-op13.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'mobilenet-op12.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'misc-op14.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'normalized-op17.onnx', chw: [3, 32, 32], softmax: true },
  { file: 'small-cnn-op11.onnx', chw: [1, 28, 28], softmax: false },
];

interface Grads {
  input: Float32Array;
  weights: Float32Array[];
}

/** ∇ₓ Σ logits·r (inference mode) and ∇_θ Σ logits·r (training mode) on the current backend. */
async function gradients(f: OnnxFixture): Promise<Grads> {
  const model = await modelFromBytes(onnxToModelBytes(fixtureBytes(f.file)).bytes);
  try {
    return tf.tidy(() => {
      const x = toNhwc(imagesNchw(BATCH, f.chw, 11), BATCH, f.chw);
      const r = tf.tensor2d(values(BATCH * 10, 5), [BATCH, 10]);
      const loss = (m: tfl.LayersModel, xi: tf.Tensor, training: boolean) => tf.sum(tf.mul(m.apply(xi, { training }) as tf.Tensor, r)) as tf.Scalar;
      const input = tf.grad((xi: tf.Tensor) => loss(model, xi, false))(x).dataSync() as Float32Array;
      const { grads } = tf.variableGrads(() => loss(model, x, true), model.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
      const weights = model.trainableWeights.map((w) => grads[(w as unknown as { val: tf.Variable }).val.name].dataSync() as Float32Array);
      return { input, weights };
    });
  } finally {
    model.dispose();
  }
}

describe('gradients through converted ONNX models', () => {
  const engines = ['wasm', ...(loadNative().ok ? ['native' as const] : [])] as const;
  for (const f of CASES) {
    for (const engine of engines) {
      it(`${f.file}: input and weight gradients on ${engine} equal the cpu backend's`, async () => {
        await initEngine('cpu');
        const reference = await gradients(f);
        assert.ok(reference.weights.length > 0);
        await initEngine(engine);
        const got = await gradients(f);
        const inputErr = relativeError(got.input, reference.input);
        assert.ok(inputErr < TOLERANCE, `input gradient relative error ${inputErr}`);
        const largest = Math.max(...reference.weights.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
        got.weights.forEach((g, i) => {
          const ref = reference.weights[i];
          const scale = Math.max(ref.reduce((m, v) => Math.max(m, Math.abs(v)), 0), 1e-2 * largest);
          const err = g.reduce((m, v, j) => Math.max(m, Math.abs(v - ref[j])), 0) / scale;
          assert.ok(err < TOLERANCE, `weight ${i} gradient relative error ${err}`);
        });
      });
    }
  }

  for (const f of CASES.slice(0, 3)) {
    it(`${f.file}: the input gradient is the derivative of ONNX Runtime's function (central differences)`, async () => {
      await initEngine('cpu');
      const { input } = await gradients(f);
      const x = imagesNchw(BATCH, f.chw, 11);
      const r = values(BATCH * 10, 5);
      // A random direction v (NCHW), and the same in NHWC to dot with our gradient.
      const v = values(x.length, 23);
      const vNhwc = tf.tidy(() => toNhwc(v, BATCH, f.chw).dataSync());
      const analytic = input.reduce((s, g, i) => s + g * vNhwc[i], 0);
      const h = 1e-3;
      const objective = async (sign: number) => {
        const xs = x.map((xi, i) => xi + sign * h * v[i]);
        const out = await runOrt(fixtureBytes(f.file), xs, [BATCH, ...f.chw]);
        return out.data.reduce((s, o, i) => s + o * r[i], 0);
      };
      const numeric = ((await objective(1)) - (await objective(-1))) / (2 * h);
      assert.ok(Math.abs(analytic) > 1e-3, `a non-trivial directional derivative (${analytic})`);
      assert.ok(Math.abs(numeric - analytic) <= 1e-2 * Math.abs(analytic), `ours ${analytic}, ORT by differences ${numeric}`);
    });
  }
});
