/**
 * How well data-parallel workers scale on this machine, and what limits them.
 *
 *   npx tsc -p . && node dist/bench/scaling.js [--batch 64] [--seconds 4] [--repeats 5] [--json]
 *
 * Three measurements, each with 1 and then 2 worker threads (or processes' worth of cores):
 * 1. input gradients of the reference CNN (what an attack step costs), each worker on its own batch
 *    of `batch` images, as `harden bench` does, but over longer runs (`repeats` runs of about
 *    `seconds` each per worker count, alternating between the counts, median) after a warm-up: the
 *    quick bench's half-second windows swing ±15% on a shared virtual machine;
 * 2. a multiply-add loop over 8 KiB that stays in each core's L1 cache: the ceiling when nothing is
 *    shared (2.0× on two real cores; less if the two vCPUs are SMT siblings);
 * 3. a loop streaming a 64 MiB array: the ceiling when memory bandwidth and the shared cache are the
 *    limit.
 * Convolutions at batch 64 touch ~8 MB per activation, far over a 512 KiB L2, so their scaling is
 * expected between 3. and 2. The pool itself costs one structured-clone message per task.
 */
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createWorkerPool, initEngine } from '../libs/engine/index.js';
import { buildModel, modelToBytes, resolveModelConfig } from '../libs/models/index.js';
import { median, parseFlags } from './args.js';

interface Options {
  batch: number;
  seconds: number;
  repeats: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  return parseFlags(argv, { batch: 64, seconds: 4, repeats: 5, json: false }, 'scaling.js [--batch N] [--seconds S] [--repeats N] [--json]', ['seconds']);
}


interface Scaling {
  one: number;
  two: number;
  ratio: number;
  unit: string;
}

const scaling = (one: number, two: number, unit: string): Scaling => ({ one, two, ratio: two / one, unit });

const TASKS = new URL('../cli/bench/bench-tasks.js', import.meta.url).href;

async function inputGradients(opts: Options): Promise<Scaling> {
  await initEngine('wasm');
  const model = buildModel(resolveModelConfig({ arch: 'ref-cnn', inputShape: [32, 32, 3], numClasses: 10, seed: 7 }));
  const bytes = await modelToBytes(model);
  model.dispose();
  // Both pools stay up and their runs alternate (1, 2, 2, 1, …): the machine's speed drifts over
  // seconds, and back-to-back blocks would let the drift into the ratio.
  const pools = [createWorkerPool({ size: 1, backend: 'wasm' }), createWorkerPool({ size: 2, backend: 'wasm' })];
  try {
    const runs = await Promise.all(
      pools.map(async (pool) => {
        await pool.ready();
        await pool.broadcast({ module: TASKS, fn: 'load' }, { model: bytes, batch: opts.batch, seed: 1 });
        return async (steps: number) => {
          const start = performance.now();
          await pool.broadcast({ module: TASKS, fn: 'inputGradSteps' }, { steps });
          return (performance.now() - start) / 1000;
        };
      }),
    );
    // Warm up (V8 tiers wasm up after the first calls) and size a run to about `seconds`.
    const steps: number[] = [];
    for (const run of runs) {
      let perStep = (await run(3)) / 3;
      perStep = Math.min(perStep, (await run(3)) / 3);
      steps.push(Math.max(2, Math.round(opts.seconds / perStep)));
    }
    const rates: number[][] = [[], []];
    for (let r = 0; r < opts.repeats; r++) {
      for (const i of r % 2 === 0 ? [0, 1] : [1, 0]) rates[i].push((steps[i] * opts.batch * (i + 1)) / (await runs[i](steps[i])));
    }
    return scaling(median(rates[0]), median(rates[1]), 'img/s');
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** Work for plain worker threads: an L1-resident multiply-add loop, or a memory-streaming loop. */
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads');
const start = performance.now();
let sink = 0;
if (workerData === 'l1') {
  const a = new Float64Array(1024).fill(1.0001);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let r = 0; r < 1200000; r++) for (let i = 0; i < 1024; i += 4) { s0 += a[i] * a[i + 1]; s1 += a[i + 1] * a[i + 2]; s2 += a[i + 2] * a[i + 3]; s3 += a[i + 3] * a[i]; }
  sink = s0 + s1 + s2 + s3;
} else {
  const a = new Float32Array(16 << 20);
  for (let r = 0; r < 24; r++) for (let i = 0; i < a.length; i += 4) { a[i] += 1; sink += a[i]; }
}
parentPort.postMessage([performance.now() - start, sink]);
`;

function probeOnce(kind: 'l1' | 'memory'): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(PROBE, { eval: true, workerData: kind });
    worker.once('message', (m: [number, number]) => {
      resolve(m[0]);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

/** Work done per second by one thread alone, then by two at once (summed). */
async function probe(kind: 'l1' | 'memory', repeats: number): Promise<Scaling> {
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < Math.max(3, Math.ceil(repeats / 2)); r++) {
    one.push(1000 / (await probeOnce(kind)));
    const pair = await Promise.all([probeOnce(kind), probeOnce(kind)]);
    two.push(pair.reduce((sum, ms) => sum + 1000 / ms, 0));
  }
  return scaling(median(one), median(two), 'runs/s');
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const loadBefore = loadavg()[0];
  const result = {
    load_average_before: loadBefore,
    batch: opts.batch,
    input_gradient: await inputGradients(opts),
    l1_compute: await probe('l1', opts.repeats),
    memory_stream: await probe('memory', opts.repeats),
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const line = (label: string, s: Scaling) =>
    `  ${label.padEnd(34)} 1 worker ${s.one.toFixed(1).padStart(7)} ${s.unit}, 2 workers ${s.two.toFixed(1).padStart(7)} ${s.unit}: ${s.ratio.toFixed(2)}×`;
  process.stdout.write(
    [
      `worker scaling, load average ${loadBefore.toFixed(2)} before the run (meaningful below ≈1)`,
      line(`ref-cnn input gradients, batch ${opts.batch}`, result.input_gradient),
      line('L1-resident multiply-add (ceiling)', result.l1_compute),
      line('64 MiB memory stream (floor)', result.memory_stream),
    ].join('\n') + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`scaling: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
