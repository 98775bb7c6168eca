/**
 * Benchmark of the wasm gradient kernels on the reference CNN.
 *
 *   npx tsc -p . && node dist/bench/kernels.js [--batch 64] [--steps 10] [--warmup 3] [--repeats 3] [--json]
 *
 * Reference CNN (tfjs-layers, run through `model.apply`): 32×32×3 → conv3×3 32 (stride 1, same,
 * relu) → conv3×3 64 stride 2 (same, relu) → conv3×3 128 stride 2 (same, relu) → global average
 * pool → dense 10. Prints, in images per second (the median and the fastest of `repeats` runs of
 * `steps` timed steps, after `warmup` untimed ones: the first wasm steps run before V8 tiers the
 * module up, and on a shared machine the fastest run is the least disturbed one):
 * - train: forward + gradients of softmax cross-entropy for every weight (tf.variableGrads) + SGD;
 * - input-grad: gradient of the same loss with respect to the input only (tf.grad);
 * and, per convolution of the model, the milliseconds of the forward Conv2D, of our
 * Conv2DBackpropInput and Conv2DBackpropFilter, and of the Conv2DBackpropInput wasm ships.
 * One thread (tfjs wasm runs no threads in Node).
 *
 * With `--webgpu`: the project's WGSL kernels (libs/engine/webgpu-kernels) against the ones
 * tfjs-backend-webgpu ships, on the webgpu backend, in one process (ours are swapped out and back
 * in): per kernel, milliseconds per call of Conv2D, Conv2DBackpropInput, Conv2DBackpropFilter on the
 * reference CNN's and PreActResNet-18's convolution shapes, and of the BatchNorm op forward +
 * backward against the layer's composition of tfjs ops; then the reference CNN's train and
 * input-gradient throughput with each set. GPU timings: `steps` calls queued back to back, then one
 * read of a single element of the last output (the queue runs in order), so they include no
 * transfer of results. A real GPU is found through Vulkan; `HARDEN_WEBGPU_SOFTWARE=1` runs it on
 * llvmpipe, which checks that the bench runs and says nothing about a GPU's speed.
 *
 *   node dist/bench/kernels.js --webgpu [--batch 128] [--steps 20] [--warmup 3] [--repeats 3] [--json]
 */
import { loadavg } from 'node:os';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { initEngine, tf, tfl } from '../libs/engine/index.js';
import { registerWasmKernels, shippedWasmKernel } from '../libs/engine/wasm-kernels/index.js';
import { batchNormTraining } from '../libs/models/batch-norm-layer.js';
import { registerWebgpuKernels, restoreShippedWebgpuKernels, webgpuFallbackCounts } from '../libs/engine/webgpu-kernels/index.js';
import { median, parseFlags } from './args.js';

interface Options {
  batch: number;
  steps: number;
  warmup: number;
  repeats: number;
  json: boolean;
  /** Our WGSL kernels against the shipped ones on the webgpu backend, instead of the wasm ones. */
  webgpu: boolean;
}

function parseOptions(argv: string[]): Options {
  return parseFlags(
    argv,
    { batch: 64, steps: 10, warmup: 3, repeats: 3, json: false, webgpu: false },
    'kernels.js [--webgpu] [--batch N] [--steps N] [--warmup N] [--repeats N] [--json]',
  );
}

function buildReferenceCnn(): tfl.Sequential {
  const model = tfl.sequential();
  model.add(tfl.layers.conv2d({ inputShape: [32, 32, 3], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
  model.add(tfl.layers.conv2d({ filters: 128, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }));
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({ units: 10 }));
  return model;
}


interface StepMs {
  median: number;
  best: number;
  /** CPU time of this (single-threaded) process per call, median repeat. */
  cpu: number;
}

/**
 * Mean milliseconds per call of `fn` over `steps` calls, after `warmup` calls, repeated `repeats`
 * times: the median repeat, the fastest one (the least disturbed on a shared machine), and the
 * process CPU time per call (what wall time would be without other processes on the cores).
 */
async function timeMs(fn: () => Promise<void>, opts: Pick<Options, 'steps' | 'warmup' | 'repeats'>): Promise<StepMs> {
  for (let i = 0; i < opts.warmup; i++) await fn();
  const runs: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < opts.steps; i++) await fn();
    runs.push((performance.now() - t0) / opts.steps);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000 / opts.steps);
  }
  return { median: median(runs), best: Math.min(...runs), cpu: median(cpu) };
}

interface Throughput {
  /** Images per second, median repeat. */
  median: number;
  /** Images per second, fastest repeat. */
  best: number;
  /** Images per CPU second of this process. */
  cpu: number;
}

async function modelThroughput(opts: Options, trainToo = true): Promise<{ train: Throughput; inputGrad: Throughput }> {
  const model = buildReferenceCnn();
  const optimizer = tf.train.sgd(0.01);
  const x = tf.randomUniform([opts.batch, 32, 32, 3]);
  const labels = tf.oneHot(tf.randomUniform([opts.batch], 0, 10, 'int32') as tf.Tensor1D, 10);
  const loss = (input: tf.Tensor, training: boolean): tf.Scalar =>
    tf.losses.softmaxCrossEntropy(labels, model.apply(input, { training }) as tf.Tensor) as tf.Scalar;

  // Each step ends by reading its result back (asynchronously, which every backend supports).
  const trainStep = async (): Promise<void> => {
    const value = tf.tidy(() => {
      const { value: v, grads } = tf.variableGrads(() => loss(x, true));
      optimizer.applyGradients(grads);
      return v;
    });
    await value.data();
    value.dispose();
  };
  const inputGradStep = async (): Promise<void> => {
    const g = tf.tidy(() => tf.grad((input) => loss(input, false))(x));
    await g.data();
    g.dispose();
  };
  const trainMs = trainToo ? await timeMs(trainStep, opts) : { median: Number.NaN, best: Number.NaN, cpu: Number.NaN };
  const inputGradMs = await timeMs(inputGradStep, opts);
  tf.dispose([x, labels]);
  model.dispose();
  optimizer.dispose();
  const imgS = (ms: StepMs): Throughput => ({
    median: (opts.batch * 1000) / ms.median,
    best: (opts.batch * 1000) / ms.best,
    cpu: (opts.batch * 1000) / ms.cpu,
  });
  return { train: imgS(trainMs), inputGrad: imgS(inputGradMs) };
}

interface KernelTiming {
  layer: string;
  forwardMs: number;
  backpropInputMs: number;
  shippedBackpropInputMs: number | null;
  backpropFilterMs: number;
}

/**
 * Per-kernel timings on the model's convolution shapes. Every call gets a new dy (and filter), as
 * in training, so XNNPACK repacks its operands each time as it does there.
 */
function kernelTimings(opts: Options): KernelTiming[] {
  const layers: Array<{ layer: string; x: number[]; f: number[]; s: number }> = [
    { layer: 'conv1 32x32x3→32', x: [opts.batch, 32, 32, 3], f: [3, 3, 3, 32], s: 1 },
    { layer: 'conv2 32x32x32→64 s2', x: [opts.batch, 32, 32, 32], f: [3, 3, 32, 64], s: 2 },
    { layer: 'conv3 16x16x64→128 s2', x: [opts.batch, 16, 16, 64], f: [3, 3, 64, 128], s: 2 },
  ];
  const backend = tf.backend();
  const run = (kernelName: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>, shipped = false): void => {
    const config = shipped ? shippedWasmKernel(kernelName) : tf.getKernel(kernelName, 'wasm');
    if (!config) throw new Error(`no wasm kernel ${kernelName}`);
    const out = config.kernelFunc({ inputs: inputs as never, backend, attrs: attrs as never }) as TensorInfo;
    backend.disposeData(out.dataId);
  };
  const fresh = (shape: number[]) => (): tf.Tensor => tf.randomNormal(shape);
  /** Times `fn(freshInputs)` with the creation of the inputs left out. */
  const timeWithFresh = (makers: Array<() => tf.Tensor>, fn: (ts: tf.Tensor[]) => void, reps: number): number => {
    const ms: number[] = [];
    for (let i = 0; i < opts.warmup + reps; i++) {
      const ts = makers.map((m) => m());
      const t0 = performance.now();
      fn(ts);
      if (i >= opts.warmup) ms.push(performance.now() - t0);
      tf.dispose(ts);
    }
    return median(ms);
  };
  const reps = opts.steps;
  return layers.map(({ layer, x: xShape, f: fShape, s }) => {
    const x = tf.randomNormal(xShape);
    const outShape = [opts.batch, xShape[1] / s, xShape[2] / s, fShape[3]];
    const common = { strides: [s, s], pad: 'same', dataFormat: 'NHWC' };
    const forwardMs = timeWithFresh([fresh(fShape)], ([f]) => run('Conv2D', { x, filter: f }, { ...common, dilations: [1, 1] }), reps);
    const backpropInputMs = timeWithFresh(
      [fresh(outShape), fresh(fShape)],
      ([dy, f]) => run('Conv2DBackpropInput', { dy, filter: f }, { ...common, inputShape: xShape }),
      reps,
    );
    const shippedBackpropInputMs = shippedWasmKernel('Conv2DBackpropInput')
      ? timeWithFresh(
          [fresh(outShape), fresh(fShape)],
          ([dy, f]) => run('Conv2DBackpropInput', { dy, filter: f }, { ...common, inputShape: xShape }, true),
          Math.min(reps, 3),
        )
      : null;
    const backpropFilterMs = timeWithFresh(
      [fresh(outShape)],
      ([dy]) => run('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: fShape }),
      reps,
    );
    x.dispose();
    return { layer, forwardMs, backpropInputMs, shippedBackpropInputMs, backpropFilterMs };
  });
}

/**
 * Input-gradient throughput with the Conv2DBackpropInput wasm ships instead of ours (training
 * cannot run at all without our Conv2DBackpropFilter). Ours are registered again afterwards.
 */
async function shippedInputGrad(opts: Options): Promise<number | null> {
  const shipped = shippedWasmKernel('Conv2DBackpropInput');
  if (!shipped) return null;
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(shipped);
  try {
    return (await modelThroughput({ ...opts, warmup: 1, steps: 2, repeats: 1 }, false)).inputGrad.median;
  } finally {
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    registerWasmKernels();
  }
}

interface WebgpuKernelRow {
  op: string;
  shape: string;
  ours_ms: number;
  shipped_ms: number;
  /** Whether our kernel handed any call of this case to the shipped one (then the two columns time the same code). */
  ours_fell_back: boolean;
}

interface WebgpuCase {
  op: string;
  shape: string;
  /** Makes the inputs once; `run` is timed. */
  setup(): tf.Tensor[];
  run(inputs: tf.Tensor[]): tf.Tensor | tf.Tensor[];
}

/** Waits until the GPU has run everything queued before `t`, reading back one element. */
async function settle(t: tf.Tensor | tf.Tensor[]): Promise<void> {
  const first = Array.isArray(t) ? t[0] : t;
  const one = tf.tidy(() => tf.slice(tf.reshape(first, [-1]), [0], [1]));
  await one.data();
  one.dispose();
}

/** Milliseconds per call: `steps` calls queued back to back, then one read; median of `repeats`. */
async function gpuMs(c: WebgpuCase, opts: Pick<Options, 'steps' | 'warmup' | 'repeats'>): Promise<number> {
  const inputs = c.setup();
  for (let i = 0; i < opts.warmup; i++) {
    const out = c.run(inputs);
    await settle(out);
    tf.dispose(out);
  }
  const runs: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    const t0 = performance.now();
    let last: tf.Tensor | tf.Tensor[] | undefined;
    for (let i = 0; i < opts.steps; i++) {
      if (last) tf.dispose(last);
      last = c.run(inputs);
    }
    if (last) {
      await settle(last);
      tf.dispose(last);
    }
    runs.push((performance.now() - t0) / opts.steps);
  }
  tf.dispose(inputs);
  return median(runs);
}

/** Convolution and BatchNorm cases on the shapes of the reference CNN and PreActResNet-18 (32×32). */
function webgpuCases(batch: number): WebgpuCase[] {
  const convs: Array<{ x: number[]; f: number[]; s: number }> = [
    { x: [batch, 32, 32, 3], f: [3, 3, 3, 32], s: 1 },
    { x: [batch, 32, 32, 32], f: [3, 3, 32, 64], s: 2 },
    { x: [batch, 16, 16, 64], f: [3, 3, 64, 128], s: 2 },
    { x: [batch, 32, 32, 3], f: [3, 3, 3, 64], s: 1 },
    { x: [batch, 32, 32, 64], f: [3, 3, 64, 64], s: 1 },
    { x: [batch, 16, 16, 128], f: [3, 3, 128, 128], s: 1 },
    { x: [batch, 8, 8, 256], f: [3, 3, 256, 256], s: 1 },
    { x: [batch, 4, 4, 512], f: [3, 3, 512, 512], s: 1 },
    { x: [batch, 32, 32, 64], f: [1, 1, 64, 128], s: 2 },
  ];
  const cases: WebgpuCase[] = [];
  for (const { x, f, s } of convs) {
    const shape = `x=[${x}] k=${f[0]}x${f[1]}×${f[3]} s=${s}`;
    const y = [x[0], Math.ceil(x[1] / s), Math.ceil(x[2] / s), f[3]];
    const common = { strides: [s, s], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
    const kernel = (name: string, names: string[], attrs: Record<string, unknown>) => (ts: tf.Tensor[]) =>
      tf.engine().runKernel(name, Object.fromEntries(names.map((n, i) => [n, ts[i]])), attrs as never) as tf.Tensor;
    cases.push(
      { op: 'Conv2D', shape, setup: () => [tf.randomNormal(x), tf.randomNormal(f)], run: kernel('Conv2D', ['x', 'filter'], { ...common, dilations: [1, 1] }) },
      { op: 'Conv2DBackpropInput', shape, setup: () => [tf.randomNormal(y), tf.randomNormal(f)], run: kernel('Conv2DBackpropInput', ['dy', 'filter'], { ...common, inputShape: x }) },
      { op: 'Conv2DBackpropFilter', shape, setup: () => [tf.randomNormal(x), tf.randomNormal(y)], run: kernel('Conv2DBackpropFilter', ['x', 'dy'], { ...common, filterShape: f }) },
    );
  }
  for (const [h, c] of [[32, 64], [16, 128], [8, 256], [4, 512]]) {
    const shape = [batch, h, h, c];
    cases.push({
      op: 'BatchNorm forward + backward',
      shape: `x=[${shape}]`,
      setup: () => [tf.randomNormal(shape), tf.ones([c]), tf.zeros([c]), tf.randomNormal(shape)],
      run: ([xi, g, b, r]) =>
        tf.tidy(() => tf.grads((a, gg, bb) => tf.sum(tf.mul(batchNormTraining(a, gg as tf.Tensor1D, bb as tf.Tensor1D, 1e-3).y, r)))([xi, g, b])),
    });
  }
  return cases;
}

/**
 * `--webgpu`: our WGSL kernels against the shipped ones, per kernel and on the reference CNN.
 * Our kernels are restored at the end whatever `HARDEN_WEBGPU_KERNELS` said.
 */
async function benchWebgpu(opts: Options): Promise<void> {
  const engine = await initEngine('webgpu');
  const limits = (tf.backend() as unknown as { device: GPUDevice }).device.limits;
  const cases = webgpuCases(opts.batch);
  const fallbacks = (): number => [...webgpuFallbackCounts().values()].reduce((a, b) => a + b, 0);
  registerWebgpuKernels(limits);
  const ours: Array<{ ms: number; fellBack: boolean }> = [];
  for (const c of cases) {
    const before = fallbacks();
    ours.push({ ms: await gpuMs(c, opts), fellBack: fallbacks() > before });
  }
  const oursModel = await modelThroughput(opts);
  restoreShippedWebgpuKernels();
  const shipped: number[] = [];
  let shippedModel: Awaited<ReturnType<typeof modelThroughput>>;
  try {
    for (const c of cases) shipped.push(await gpuMs(c, opts));
    shippedModel = await modelThroughput(opts);
  } finally {
    registerWebgpuKernels(limits);
  }
  const rows: WebgpuKernelRow[] = cases.map((c, i) => ({
    op: c.op,
    shape: c.shape,
    ours_ms: Number(ours[i].ms.toFixed(3)),
    shipped_ms: Number(shipped[i].toFixed(3)),
    ours_fell_back: ours[i].fellBack,
  }));
  const result = {
    model: 'ref-cnn',
    backend: engine.backend,
    device: engine.device,
    batch: opts.batch,
    train_img_s_ours: Number(oursModel.train.median.toFixed(1)),
    train_img_s_shipped: Number(shippedModel.train.median.toFixed(1)),
    input_grad_img_s_ours: Number(oursModel.inputGrad.median.toFixed(1)),
    input_grad_img_s_shipped: Number(shippedModel.inputGrad.median.toFixed(1)),
    kernels: rows,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const lines = [
    `webgpu kernels, ours vs shipped, on ${engine.device}, batch ${opts.batch}` + (/software/.test(engine.device) ? ' (software adapter: no GPU speed is measured here)' : ''),
    `  ref-cnn train step       ours ${result.train_img_s_ours.toFixed(1)} img/s, shipped ${result.train_img_s_shipped.toFixed(1)} img/s`,
    `  ref-cnn input-grad step  ours ${result.input_grad_img_s_ours.toFixed(1)} img/s, shipped ${result.input_grad_img_s_shipped.toFixed(1)} img/s`,
    `  ${'op'.padEnd(30)}${'shape'.padEnd(34)}${'ours ms'.padStart(10)}${'shipped ms'.padStart(12)}`,
    ...rows.map((r) => `  ${r.op.padEnd(30)}${r.shape.padEnd(34)}${r.ours_ms.toFixed(3).padStart(10)}${r.shipped_ms.toFixed(3).padStart(12)}${r.ours_fell_back ? '  (ours fell back)' : ''}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.webgpu) {
    await benchWebgpu(opts);
    return;
  }
  const engine = await initEngine('wasm');
  const kernels = kernelTimings(opts);
  const model = await modelThroughput(opts);
  const before = await shippedInputGrad(opts);
  const result = {
    model: 'ref-cnn',
    backend: engine.backend,
    device: engine.device,
    batch: opts.batch,
    train_img_s: Number(model.train.median.toFixed(1)),
    input_grad_img_s: Number(model.inputGrad.median.toFixed(1)),
    train_img_s_best: Number(model.train.best.toFixed(1)),
    input_grad_img_s_best: Number(model.inputGrad.best.toFixed(1)),
    train_img_per_cpu_s: Number(model.train.cpu.toFixed(1)),
    input_grad_img_per_cpu_s: Number(model.inputGrad.cpu.toFixed(1)),
    load_average_1min: Number(loadavg()[0].toFixed(2)),
    input_grad_img_s_shipped_backprop_input: before === null ? null : Number(before.toFixed(1)),
    kernels: kernels.map((k) => ({
      layer: k.layer,
      forward_ms: Number(k.forwardMs.toFixed(2)),
      backprop_input_ms: Number(k.backpropInputMs.toFixed(2)),
      shipped_backprop_input_ms: k.shippedBackpropInputMs === null ? null : Number(k.shippedBackpropInputMs.toFixed(2)),
      backprop_filter_ms: Number(k.backpropFilterMs.toFixed(2)),
    })),
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const lines = [
    `ref-cnn on ${engine.backend} (${engine.device}), batch ${opts.batch}, one thread`,
    `  load average ${result.load_average_1min} (wall-clock figures are only meaningful below ≈1)`,
    `  train step        ${result.train_img_s.toFixed(1)} img/s (best repeat ${result.train_img_s_best.toFixed(1)}; ${result.train_img_per_cpu_s.toFixed(1)} per CPU second)`,
    `  input-grad step   ${result.input_grad_img_s.toFixed(1)} img/s (best repeat ${result.input_grad_img_s_best.toFixed(1)}; ${result.input_grad_img_per_cpu_s.toFixed(1)} per CPU second)` +
      (before === null ? '' : ` (${before.toFixed(1)} img/s with the shipped Conv2DBackpropInput)`),
    `  per kernel (ms)   forward  bpInput(ours)  bpInput(shipped)  bpFilter(ours)`,
    ...result.kernels.map(
      (k) =>
        `  ${k.layer.padEnd(24)}${k.forward_ms.toFixed(1).padStart(6)}${k.backprop_input_ms.toFixed(1).padStart(15)}` +
        `${(k.shipped_backprop_input_ms === null ? '-' : k.shipped_backprop_input_ms.toFixed(1)).padStart(18)}${k.backprop_filter_ms.toFixed(1).padStart(16)}`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
