/**
 * The webgpu path must compute what the cpu reference computes. Without a GPU this runs
 * tfjs-backend-webgpu's real WGSL kernels through Dawn's OpenGL ES backend on Mesa llvmpipe
 * (HARDEN_WEBGPU_SOFTWARE=1), so the path cannot rot on CPU-only machines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initEngine, probeBackends } from './backend.js';
import { tf } from './tf.js';

interface Params {
  x: Float32Array;
  labels: Int32Array;
  w1: Float32Array;
  w2: Float32Array;
  dense: Float32Array;
}

const SHAPES = { x: [4, 12, 12, 3], w1: [3, 3, 3, 8], w2: [3, 3, 8, 16], dense: [16, 5] } as const;

function randomParams(): Params {
  let s = 12345;
  const rand = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return ((s / 2 ** 32) * 2 - 1) * scale;
    });
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  return {
    x: rand(size(SHAPES.x), 1).map((v) => (v + 1) / 2),
    labels: Int32Array.from([0, 3, 1, 4]),
    w1: rand(size(SHAPES.w1), 0.4),
    w2: rand(size(SHAPES.w2), 0.2),
    dense: rand(size(SHAPES.dense), 0.3),
  };
}

/** A small CNN (conv → batch-norm → relu → strided conv → relu → mean pool → dense): logits, loss and all gradients. */
async function run(p: Params): Promise<Record<string, Float32Array>> {
  const out = tf.tidy(() => {
    const x = tf.tensor4d(p.x, [...SHAPES.x]);
    const w1 = tf.tensor4d(p.w1, [...SHAPES.w1]);
    const w2 = tf.tensor4d(p.w2, [...SHAPES.w2]);
    const dense = tf.tensor2d(p.dense, [...SHAPES.dense]);
    const y = tf.oneHot(tf.tensor1d(p.labels, 'int32'), 5);
    const forward = (xi: tf.Tensor4D, a: tf.Tensor4D, b: tf.Tensor4D, d: tf.Tensor2D) => {
      let h: tf.Tensor4D = tf.conv2d(xi, a, 1, 'same');
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.relu(tf.batchNorm(h, mean, variance, tf.zeros([8]), tf.ones([8]), 1e-5)) as tf.Tensor4D;
      h = tf.relu(tf.conv2d(h, b, 2, 'same'));
      return tf.matMul(tf.mean(h, [1, 2]) as tf.Tensor2D, d);
    };
    const loss = (xi: tf.Tensor4D, a: tf.Tensor4D, b: tf.Tensor4D, d: tf.Tensor2D) =>
      tf.losses.softmaxCrossEntropy(y, forward(xi, a, b, d)) as tf.Scalar;
    const grads = tf.grads((xi, a, b, d) => loss(xi as tf.Tensor4D, a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor2D))([x, w1, w2, dense]);
    return { logits: forward(x, w1, w2, dense), loss: loss(x, w1, w2, dense), gx: grads[0], gw1: grads[1], gw2: grads[2], gdense: grads[3] };
  });
  const result: Record<string, Float32Array> = {};
  for (const [k, t] of Object.entries(out)) {
    result[k] = (await t.data()) as Float32Array;
    t.dispose();
  }
  return result;
}

function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

describe('webgpu backend (software adapter on CPU-only machines)', () => {
  it('computes the same logits, loss and gradients as cpu on a small CNN', async () => {
    process.env.HARDEN_WEBGPU_SOFTWARE ??= '1';
    const status = (await probeBackends()).find((b) => b.name === 'webgpu');
    assert.ok(status?.available, `webgpu unavailable: ${status?.reason} (CI installs libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)`);
    const params = randomParams();
    const gpuInfo = await initEngine('webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
    const gpu = await run(params);
    await initEngine('cpu');
    const cpu = await run(params);
    for (const key of Object.keys(cpu)) {
      assert.equal(gpu[key].length, cpu[key].length, key);
      const err = relError(gpu[key], cpu[key]);
      assert.ok(err < 1e-4, `${key}: relative error ${err.toExponential(2)} on ${gpuInfo.device}`);
    }
    assert.ok(cpu.gw1.some((v) => v !== 0), 'gradients are not trivially zero');
  });
});
