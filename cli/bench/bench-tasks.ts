/**
 * Benchmark steps, run either in the main thread (one worker) or inside each worker thread of a
 * pool (data parallel). State (model, batch, optimizer) lives in this module's scope: one bench
 * model per thread at a time.
 *
 * - Training step: forward in training mode, softmax cross-entropy, gradients of every trainable
 *   weight, SGD with momentum 0.9. About 3× the forward multiply-adds.
 * - Input-gradient step: forward in inference mode, gradient of the loss w.r.t. the input only
 *   (what an attack step costs). About 2× the forward multiply-adds.
 */
import { countGpuWork, tf, tfl, type GpuWork } from '../../libs/engine/index.js';
import { modelFromBytes, type ModelBytes } from '../../libs/models/index.js';

interface State {
  model: tfl.LayersModel;
  x: tf.Tensor4D;
  y: tf.Tensor2D;
  optimizer: tf.MomentumOptimizer;
}

let state: State | undefined;

function requireState(): State {
  if (!state) throw new Error('no bench model loaded in this thread');
  return state;
}

function lossOf(model: tfl.LayersModel, x: tf.Tensor4D, y: tf.Tensor2D, training: boolean): tf.Scalar {
  const logits = model.apply(x, { training }) as tf.Tensor2D;
  return tf.losses.softmaxCrossEntropy(y, logits) as tf.Scalar;
}

export interface LoadPayload {
  model: ModelBytes;
  batch: number;
  seed: number;
}

/** Loads the model and a fixed random batch into this thread. */
export async function load(payload: LoadPayload): Promise<{ numTensors: number }> {
  dispose();
  const model = await modelFromBytes(payload.model);
  const [h, w, c] = (model.inputs[0].shape.slice(1) as number[]);
  const classes = (model.outputs[0].shape[1] as number) ?? 10;
  const x = tf.randomUniform([payload.batch, h, w, c], 0, 1, 'float32', payload.seed) as tf.Tensor4D;
  const labels = tf.tidy(() => tf.cast(tf.floor(tf.randomUniform([payload.batch], 0, classes, 'float32', payload.seed + 1)), 'int32'));
  const y = tf.oneHot(labels as tf.Tensor1D, classes) as tf.Tensor2D;
  labels.dispose();
  state = { model, x, y, optimizer: tf.train.momentum(0.01, 0.9) };
  return { numTensors: tf.memory().numTensors };
}

/**
 * Runs `steps` training steps; returns elapsed seconds. Only the last step's loss is read: a GPU
 * queue runs in order, so that read waits for every step, and no step waits for the CPU.
 */
export async function trainSteps(payload: { steps: number }): Promise<number> {
  const { model, x, y, optimizer } = requireState();
  const start = performance.now();
  let cost: tf.Scalar | null = null;
  for (let i = 0; i < payload.steps; i++) {
    cost?.dispose();
    cost = optimizer.minimize(() => lossOf(model, x, y, true), true);
  }
  // Asynchronously: GPU backends cannot read synchronously.
  await cost?.data();
  cost?.dispose();
  return (performance.now() - start) / 1000;
}

/** Runs `steps` input-gradient steps; returns elapsed seconds. Reads only the last gradient (as `trainSteps`). */
export async function inputGradSteps(payload: { steps: number }): Promise<number> {
  const { model, x, y } = requireState();
  const grad = tf.grad((xi: tf.Tensor) => lossOf(model, xi as tf.Tensor4D, y, false));
  const start = performance.now();
  let g: tf.Tensor | null = null;
  for (let i = 0; i < payload.steps; i++) {
    g?.dispose();
    g = grad(x);
  }
  await g?.data();
  g?.dispose();
  return (performance.now() - start) / 1000;
}

/**
 * What one training step and one input-gradient step issue on this thread's engine (dispatches and
 * read-backs, `countGpuWork`); each result is read after its count, outside it.
 */
export async function countSteps(): Promise<{ train: GpuWork; inputGrad: GpuWork }> {
  const { model, x, y, optimizer } = requireState();
  const { result: cost, ...train } = await countGpuWork(() => optimizer.minimize(() => lossOf(model, x, y, true), true));
  await cost?.data();
  cost?.dispose();
  const grad = tf.grad((xi: tf.Tensor) => lossOf(model, xi as tf.Tensor4D, y, false));
  const { result: g, ...inputGrad } = await countGpuWork(() => grad(x));
  await g.data();
  g.dispose();
  return { train, inputGrad };
}

/** Gradients of every trainable weight on this thread's batch, flattened in weight order. */
export async function gradients(): Promise<Float32Array> {
  const { model, x, y } = requireState();
  const { value, grads } = tf.variableGrads(() => lossOf(model, x, y, true));
  value.dispose();
  const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const flat = tf.tidy(() => tf.concat(names.map((n) => tf.reshape(grads[n], [-1]))));
  tf.dispose(grads);
  try {
    return Float32Array.from((await flat.data()) as Float32Array);
  } finally {
    flat.dispose();
  }
}

/** Applies one SGD-with-momentum update from flattened (averaged) gradients. */
export function applyGradients(payload: { grads: Float32Array }): number {
  const { model, optimizer } = requireState();
  const named: Array<{ name: string; tensor: tf.Tensor }> = [];
  let offset = 0;
  for (const w of model.trainableWeights) {
    const v = w.read() as tf.Variable;
    named.push({ name: v.name, tensor: tf.tensor(payload.grads.subarray(offset, offset + v.size), v.shape) });
    offset += v.size;
  }
  optimizer.applyGradients(named);
  tf.dispose(named.map((n) => n.tensor));
  return tf.memory().numTensors;
}

export function dispose(): void {
  if (!state) return;
  state.model.dispose();
  tf.dispose([state.x, state.y]);
  state.optimizer.dispose();
  state = undefined;
}
