/**
 * Cost of the CPU augmentation (random crop with 4 pixels of padding + horizontal flip) per batch,
 * next to a plain copy of the same batch: augmentation runs on the training thread between steps, so
 * it should cost about a copy and stay far below a training step (our goal: under 10 ms for a CIFAR
 * batch of 128, where a PreActResNet-18 step takes seconds on CPUs).
 *
 *   npx tsc -p . && node dist/bench/augment.js [--batch 128] [--steps 50] [--repeats 5] [--json]
 *
 * Prints the median and the fastest of `repeats` runs of `steps` batches, in ms per batch.
 */
import { augmentBatch, createRng, type ImageShape } from '../libs/data/index.js';
import { median, parseFlags } from './args.js';

const USAGE = 'node dist/bench/augment.js [--batch 128] [--steps 50] [--repeats 5] [--json]';
const opts = parseFlags(process.argv.slice(2), { batch: 128, steps: 50, repeats: 5, json: false }, USAGE);
const GOAL_MS = 10;
const shape: ImageShape = [32, 32, 3];
const size = shape[0] * shape[1] * shape[2];
const rng = createRng(0);
const batch = rng.fillUniform(new Float32Array(opts.batch * size));
const out = new Float32Array(batch.length);

function timeRuns(fn: () => void): number[] {
  fn(); // warm-up: V8 compiles the loop
  return Array.from({ length: opts.repeats }, () => {
    const start = performance.now();
    for (let i = 0; i < opts.steps; i++) fn();
    return (performance.now() - start) / opts.steps;
  });
}

const augment = timeRuns(() => augmentBatch(batch, shape, rng, {}, out));
const copy = timeRuns(() => out.set(batch));
const result = {
  batch: opts.batch,
  shape,
  augment_ms: { median: median(augment), fastest: Math.min(...augment) },
  copy_ms: { median: median(copy), fastest: Math.min(...copy) },
  goal_ms: GOAL_MS,
};
if (opts.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  const f = (x: number) => x.toFixed(2);
  process.stdout.write(
    `augmentation of a ${shape.join('×')} batch of ${opts.batch}: ${f(result.augment_ms.median)} ms median, ${f(result.augment_ms.fastest)} ms fastest ` +
      `(plain copy ${f(result.copy_ms.median)} / ${f(result.copy_ms.fastest)} ms); goal under ${GOAL_MS} ms: ` +
      `${result.augment_ms.fastest < GOAL_MS ? 'met' : 'NOT met'}\n`,
  );
}
