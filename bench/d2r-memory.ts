/**
 * Peak memory of one D2R training step: PreActResNet-18 target + ResNet-18 guidance at 32×32,
 * the trainer's own step (CAG, the D2R loss over both models in training mode, the SGD update).
 *
 *   npx tsc -p . && node dist/bench/d2r-memory.js [--batch 128] [--gradients recompute|tape] [--cag-steps 1] [--json]
 *
 * Reports the wasm heap after the step (it only grows, so it is the step's peak) and the process's
 * peak resident memory. The peak is in the backward pass of the loss. CAG runs both models in
 * inference mode, one input gradient at a time, and stays below it, so one CAG step (the default)
 * gives the same peak as ten in a tenth of the time. Target (issue 4): under 4 GiB at batch 128.
 * `--gradients recompute` is `harden train --low-memory`.
 */
import { parseArgs } from 'node:util';
import { initEngine, tf } from '../libs/engine/index.js';
import { buildModel, resolveModelConfig } from '../libs/models/index.js';
import { collectParameters, createSgd, createTrainingStep, getMethod, readLosses } from '../libs/training/index.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '128' },
    gradients: { type: 'string', default: 'recompute' },
    'cag-steps': { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const batch = Number(values.batch);
const cagSteps = Number(values['cag-steps']);
const gradients = values.gradients;
if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer; got ${values.batch}`);
if (!Number.isInteger(cagSteps) || cagSteps < 1) throw new Error(`--cag-steps must be a positive integer; got ${values['cag-steps']}`);
if (gradients !== 'recompute' && gradients !== 'tape') throw new Error(`--gradients must be recompute or tape; got ${gradients}`);

const engine = await initEngine('wasm');
const shape: [number, number, number] = [32, 32, 3];
const models = {
  target: buildModel(resolveModelConfig({ arch: 'preact-resnet18', inputShape: shape, numClasses: 10, seed: 1 })),
  guidance: buildModel(resolveModelConfig({ arch: 'resnet18', inputShape: shape, numClasses: 10, seed: 2 })),
};
const { variables, names } = collectParameters(models);
const optimizer = createSgd(variables, {}, names);
const step = createTrainingStep({ method: getMethod('d2r'), models, optimizer, weights: { beta: 6, lambda: 6 }, numClasses: 10, gradients });
const x = tf.randomUniform([batch, ...shape], 0, 1, 'float32', 3) as tf.Tensor4D;
const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
const y = tf.tensor1d(labels, 'int32');
const heapMiB = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length / 2 ** 20;
const heapBefore = heapMiB();
process.stderr.write(`d2r-memory: preact-resnet18 + resnet18, batch ${batch}, gradients ${gradients}, CAG-${cagSteps}, ${engine.backend} (${engine.device})…\n`);
const start = performance.now();
// Reading the loss waits for the step to finish.
await readLosses([(await step(x, y, labels, { eps: 8 / 255, alpha: 2 / 255, steps: cagSteps, seed: 0, lr: 0.01 })).loss]);
const result = {
  target: 'preact-resnet18',
  guidance: 'resnet18',
  batch,
  gradients,
  cag_steps: cagSteps,
  seconds: Math.round((performance.now() - start) / 100) / 10,
  wasm_heap_mib_before: Math.round(heapBefore),
  wasm_heap_peak_mib: Math.round(heapMiB()),
  max_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
  target_mib: 4096,
};
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  process.stdout.write(
    `D2R step, batch ${batch} (${gradients}): wasm heap peak ${result.wasm_heap_peak_mib} MiB, process peak RSS ${result.max_rss_mib} MiB ` +
      `(target < 4096), ${result.seconds} s\n`,
  );
}
tf.dispose([x, y]);
