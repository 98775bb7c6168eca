/**
 * What the ONNX tests share: the PyTorch-exported fixtures (test/fixtures/onnx, written by its
 * export.py) and ONNX Runtime (`onnxruntime-node`, a dev dependency) as the oracle.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { tf } from '../../engine/index.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../../../../test/fixtures/onnx/', import.meta.url));

export interface OnnxFixture {
  file: string;
  /** [C, H, W] of the input. */
  chw: [number, number, number];
  /** The file ends in a Softmax (its output is probabilities). */
  softmax: boolean;
  /** The file's input layout (a Keras-style export takes NHWC and transposes it). @default 'nchw' */
  layout?: 'nhwc';
}

export const FIXTURES: OnnxFixture[] = [
  { file: 'small-cnn-op11.onnx', chw: [1, 28, 28], softmax: false },
  { file: 'mobilenet-op12.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'resnet-op13.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'misc-op14.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'mobilenet-op15.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'misc-op16.onnx', chw: [3, 32, 32], softmax: false },
  { file: 'normalized-op17.onnx', chw: [3, 32, 32], softmax: true },
  { file: 'keras-nhwc-op13.onnx', chw: [3, 32, 32], softmax: false, layout: 'nhwc' },
];

/** A batch of NCHW images `x` as the fixture's file takes it: its data and shape. */
export function fileInput(f: OnnxFixture, x: Float32Array, n: number): { data: Float32Array; shape: number[] } {
  const [c, h, w] = f.chw;
  if (f.layout !== 'nhwc') return { data: x, shape: [n, c, h, w] };
  const data = tf.tidy(() => toNhwc(x, n, f.chw).dataSync() as Float32Array);
  return { data, shape: [n, h, w, c] };
}

export function fixtureBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(`${FIXTURE_DIR}${file}`));
}

/** Images in [0, 1) from a 32-bit LCG (so a failure reproduces), NCHW. */
export function imagesNchw(n: number, [c, h, w]: [number, number, number], seed: number): Float32Array {
  const out = new Float32Array(n * c * h * w);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** The same images as an NHWC tensor (what our models take). */
export function toNhwc(x: Float32Array, n: number, [c, h, w]: [number, number, number]): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(x, [n, c, h, w]), [0, 2, 3, 1]) as tf.Tensor4D);
}

/** Runs an ONNX file (bytes) in ONNX Runtime on an NCHW batch; returns its single output. */
export async function runOrt(model: Uint8Array, x: Float32Array, shape: number[]): Promise<{ data: Float32Array; dims: readonly number[]; inputName: string; outputName: string }> {
  const session = await ort.InferenceSession.create(model);
  try {
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    const out = await session.run({ [inputName]: new ort.Tensor('float32', x, shape) });
    const t = out[outputName];
    return { data: t.data as Float32Array, dims: t.dims, inputName, outputName };
  } finally {
    await session.release();
  }
}

/** max |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`sizes differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
