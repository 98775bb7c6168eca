/**
 * Algorithm-level throughput for `harden bench`, measured on the current engine in this thread:
 *
 * - PGD-20 (L∞, ε = 8/255 at 32×32, 0.3 on MNIST-sized inputs): adversarial images per second,
 *   through the attacks library exactly as `harden attack` runs it.
 * - A D2R step: CAG-10 (both models in inference mode) + the D2R loss over both models in train mode
 *   + one SGD update over both models' parameters, through the training library; images per second.
 *
 * The process's resident memory after the D2R steps is reported too (the issue's 4 GiB budget for a
 * PreActResNet-18 D2R step at batch 128 on wasm).
 */
import { countGpuWork, gpuWorkBetween, readGpuCounters, tf, type BackendName, type EngineInfo, type GpuWork } from '../../libs/engine/index.js';
import { buildModel, resolveModelConfig, type ArchName } from '../../libs/models/index.js';
import { fromLayersModel, runAttackByName } from '../../libs/attacks/index.js';
import { collectParameters, createSgd, createTrainingStep, getMethod, readLosses } from '../../libs/training/index.js';

export interface AttackBenchRow {
  model: string;
  backend: BackendName;
  device: string;
  workers: number;
  batch: number;
  attack: string;
  img_s: number;
  /**
   * GPU dispatches per attack step (webgpu; `null` elsewhere): the timed run's count over its steps,
   * so the run's fixed work (input check, clean and final passes) is spread over them.
   */
  dispatches_per_step: number | null;
  /** Read-backs per attack step, counted like `dispatches_per_step` (other backends: reads of tensor values). */
  readbacks_per_step: number;
}

export interface D2rBenchRow {
  target: string;
  guidance: string;
  backend: BackendName;
  device: string;
  batch: number;
  steps: number;
  img_s: number;
  rss_mib: number;
  /** `recompute` = the trainer's --low-memory mode (one forward pass's activations at a time). */
  gradients: 'tape' | 'recompute';
  /** GPU dispatches per D2R step (webgpu; `null` elsewhere), counted over the timed steps. */
  dispatches_per_step: number | null;
  /** Read-backs inside a D2R step (the losses are read once after the timed steps, not counted here). */
  readbacks_per_step: number;
}

/** Per-step counts of `work` over `steps` steps, 2 decimals. */
export function perStep(work: GpuWork, steps: number): { dispatches_per_step: number | null; readbacks_per_step: number } {
  const r = (v: number) => Math.round((v / steps) * 100) / 100;
  return { dispatches_per_step: work.dispatches === null ? null : r(work.dispatches), readbacks_per_step: r(work.readbacks) };
}

interface ModelCase {
  arch: ArchName;
  inputShape: [number, number, number];
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

function randomBatch(batch: number, shape: [number, number, number], seed: number): { x: tf.Tensor4D; labels: Int32Array } {
  const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', seed) as tf.Tensor4D;
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7 + seed) % 10);
  return { x, labels };
}

export async function benchPgd(c: ModelCase, batch: number, engine: EngineInfo): Promise<AttackBenchRow> {
  const model = buildModel(resolveModelConfig({ arch: c.arch, inputShape: c.inputShape, numClasses: 10, seed: 7 }));
  const { x, labels } = randomBatch(batch, c.inputShape, 3);
  const eps = c.inputShape[0] <= 28 ? 0.3 : 8 / 255;
  try {
    const target = fromLayersModel(model);
    // One warm-up step, then PGD-20 timed.
    (await runAttackByName('pgd', target, x, labels, { eps, steps: 1 })).adversarial.dispose();
    const { result: report, ...work } = await countGpuWork(() => runAttackByName('pgd', target, x, labels, { eps, steps: 20 }));
    report.adversarial.dispose();
    return {
      model: c.arch,
      backend: engine.backend,
      device: engine.device,
      workers: 1,
      batch,
      attack: 'pgd-20',
      img_s: round(batch / report.seconds, 2),
      ...perStep(work, 20),
    };
  } finally {
    x.dispose();
    model.dispose();
  }
}

export async function benchD2r(
  target: ModelCase,
  guidanceArch: ArchName,
  batch: number,
  steps: number,
  engine: EngineInfo,
  gradients: 'tape' | 'recompute' = 'tape',
): Promise<D2rBenchRow> {
  const models = {
    target: buildModel(resolveModelConfig({ arch: target.arch, inputShape: target.inputShape, numClasses: 10, seed: 1 })),
    guidance: buildModel(resolveModelConfig({ arch: guidanceArch, inputShape: target.inputShape, numClasses: 10, seed: 2 })),
  };
  const { variables, names } = collectParameters(models);
  const optimizer = createSgd(variables, {}, names);
  const step = createTrainingStep({ method: getMethod('d2r'), models, optimizer, weights: { beta: 6, lambda: 6 }, numClasses: 10, gradients });
  const { x, labels } = randomBatch(batch, target.inputShape, 5);
  const y = tf.tensor1d(labels, 'int32');
  const eps = target.inputShape[0] <= 28 ? 0.3 : 0.031;
  const settings = { eps, alpha: eps * (0.007 / 0.031), steps: 10, seed: 0, lr: 0.01 };
  try {
    await readLosses([(await step(x, y, labels, settings)).loss]); // warm-up
    const start = performance.now();
    const before = readGpuCounters();
    const losses = [];
    for (let i = 0; i < steps; i++) losses.push((await step(x, y, labels, settings)).loss);
    const work = gpuWorkBetween(before, readGpuCounters());
    // One read after the steps waits for all of them (a GPU queue runs in order).
    await readLosses(losses);
    const seconds = (performance.now() - start) / 1000;
    return {
      target: target.arch,
      guidance: guidanceArch,
      backend: engine.backend,
      device: engine.device,
      batch,
      steps,
      img_s: round((batch * steps) / seconds, 2),
      rss_mib: Math.round(process.memoryUsage().rss / 2 ** 20),
      gradients,
      ...perStep(work, steps),
    };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose?.();
    models.target.dispose();
    models.guidance.dispose();
  }
}
