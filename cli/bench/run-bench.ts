/**
 * `harden bench`: training-step and input-gradient throughput per backend, model and worker count.
 *
 * Workers run data parallel in a worker pool: for input gradients each worker processes its own
 * batch of `batch` images (attack generation splits work this way); for training the global batch
 * is split across workers, gradients are averaged in the main thread and every replica applies the
 * same update (synchronous data parallelism). A case measured with one worker only (cpu, webgpu,
 * --workers 1) runs in the main thread.
 *
 * GFLOP/s counts 2 FLOPs per multiply-add: a training step as 3× the forward pass, an input-gradient
 * step as 2× (forward + backward to the input).
 *
 * When a case is measured with several worker counts, their timed windows alternate (1, 2, 2, 1,
 * 1, 2, …) and each rate is the median of its windows: a shared machine's speed drifts over
 * seconds (one worker alone swung 315 ↔ 445 img/s in phases on the 2-core development VM), and
 * back-to-back blocks let that drift into the ratio between worker counts.
 */
import { createWorkerPool, initEngine, tf, type BackendName, type GpuWork } from '../../libs/engine/index.js';
import { buildModel, countParams, forwardMacs, modelToBytes, resolveModelConfig, type ArchName } from '../../libs/models/index.js';
import { webgpuKernelsWanted } from '../../libs/engine/webgpu-kernels/index.js';
import * as tasks from './bench-tasks.js';
import { benchD2r, benchPgd, type AttackBenchRow, type D2rBenchRow } from './bench-algorithms.js';

export interface BenchCase {
  model: ArchName;
  inputShape: [number, number, number];
  batch: number;
  /** Timed steps after warm-up: at least this many... */
  minSteps: number;
  /** ...and until this many seconds have passed. */
  minSeconds: number;
  warmup: number;
  /** ...repeated until this many seconds have passed: V8 runs a wasm module's first calls before it tiers it up. */
  warmupSeconds: number;
  /** Also measure with more than one worker. */
  parallel: boolean;
  /** Alternating windows per worker count when several are measured (each about minSeconds / rounds long). */
  rounds: number;
}

export interface BenchRow {
  model: string;
  backend: BackendName;
  device: string;
  workers: number;
  batch: number;
  train_img_s: number;
  input_grad_img_s: number;
  train_gflop_s: number;
  input_grad_gflop_s: number;
  params: number;
  /** webgpu only: our WGSL kernels, or the shipped ones (`HARDEN_WEBGPU_KERNELS=shipped`) for A/B runs. */
  webgpu_kernels?: 'own' | 'shipped';
  /**
   * What one step issues on the engine (`countGpuWork`): compute dispatches (webgpu; `null` on other
   * backends) and read-backs (GPU→CPU maps; elsewhere reads of tensor values). Counted on one worker
   * (`null` for rows of several workers, whose step is split over threads).
   */
  train_dispatches_per_step: number | null;
  train_readbacks_per_step: number | null;
  input_grad_dispatches_per_step: number | null;
  input_grad_readbacks_per_step: number | null;
}

type Counted = { train: GpuWork; inputGrad: GpuWork };
interface Measured {
  train: number;
  inputGrad: number;
  counts?: Counted;
}

export interface BenchOptions {
  backends: BackendName[];
  quick: boolean;
  /** Worker counts to measure. @default [1, 2] */
  workers: number[];
  onProgress?: (line: string) => void;
}

/** The cases `harden bench` runs; `quick` keeps the whole run under a minute on 2 cores (wasm). */
export function benchCases(quick: boolean, backend: BackendName): BenchCase[] {
  const slow = backend === 'cpu';
  const ref: BenchCase = {
    model: 'ref-cnn',
    inputShape: [32, 32, 3],
    batch: 64,
    minSteps: quick || slow ? 2 : 10,
    minSeconds: quick ? 2 : 5,
    warmup: slow ? 1 : 3,
    warmupSeconds: slow ? 0 : quick ? 1.5 : 3,
    parallel: true,
    rounds: quick ? 4 : 6,
  };
  // PreActResNet-18 costs ~0.56 GMAC per 32×32 image: a few img/s per CPU core, so --quick takes a
  // small batch, one timed step and one worker; the full run uses the paper's batch of 128.
  const resnet: BenchCase = {
    model: 'preact-resnet18',
    inputShape: [32, 32, 3],
    batch: quick ? 8 : 128,
    minSteps: quick ? 1 : 2,
    minSeconds: 0,
    warmup: 1,
    warmupSeconds: 0,
    parallel: !quick,
    rounds: 2,
  };
  return slow ? [ref] : [ref, resnet];
}

const TASKS = new URL('./bench-tasks.js', import.meta.url).href;
const task = (fn: string) => ({ module: TASKS, fn });

async function timeLoop(step: (n: number) => Promise<number> | number, c: BenchCase): Promise<number> {
  let warm = 0;
  while (c.warmup > 0 && warm < c.warmupSeconds) warm += await step(c.warmup);
  if (c.warmup > 0 && c.warmupSeconds === 0) await step(c.warmup);
  let steps = 0;
  let seconds = 0;
  while (steps < c.minSteps || seconds < c.minSeconds) {
    const n = Math.max(1, steps === 0 ? c.minSteps : Math.ceil(c.minSteps / 2));
    seconds += await step(n);
    steps += n;
  }
  return steps / seconds;
}

async function measureInProcess(bytes: tasks.LoadPayload['model'], c: BenchCase): Promise<Measured> {
  await tasks.load({ model: bytes, batch: c.batch, seed: 1 });
  try {
    const inputGrad = (await timeLoop((steps) => tasks.inputGradSteps({ steps }), c)) * c.batch;
    const train = (await timeLoop((steps) => tasks.trainSteps({ steps }), c)) * c.batch;
    return { train, inputGrad, counts: await tasks.countSteps() };
  } finally {
    tasks.dispose();
  }
}

async function measureParallel(
  bytes: tasks.LoadPayload['model'],
  c: BenchCase,
  backend: BackendName,
  workers: number,
): Promise<{ train: number; inputGrad: number }> {
  const pool = createWorkerPool({ size: workers, backend });
  try {
    await pool.ready();
    // Input gradients: each worker runs its own full batch; wall time over all images.
    await pool.broadcast(task('load'), { model: bytes, batch: c.batch, seed: 1 });
    const inputGrad =
      (await timeLoop(async (steps) => {
        const start = performance.now();
        await pool.broadcast(task('inputGradSteps'), { steps });
        return (performance.now() - start) / 1000;
      }, c)) *
      c.batch *
      workers;
    // Training: the global batch is split; gradients averaged here, the same update applied everywhere.
    const shard = Math.ceil(c.batch / workers);
    await pool.broadcast(task('load'), { model: bytes, batch: shard, seed: 1 });
    const train =
      (await timeLoop(async (steps) => {
        const start = performance.now();
        for (let s = 0; s < steps; s++) {
          const grads = await pool.broadcast<Float32Array>(task('gradients'), {});
          const avg = new Float32Array(grads[0].length);
          for (const g of grads) for (let i = 0; i < g.length; i++) avg[i] += g[i] / grads.length;
          await pool.broadcast(task('applyGradients'), { grads: avg });
        }
        return (performance.now() - start) / 1000;
      }, c)) *
      shard *
      workers;
    return { train, inputGrad };
  } finally {
    await pool.close();
  }
}

/** Something timed in windows: runs `steps` steps, returns seconds; `images` per step. */
interface Timed {
  run(steps: number): Promise<number>;
  images: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Images per second of each of `timed`, measured in alternating windows (ABBA order, so a linear
 * drift weighs on every one alike) after each one's warm-up; the median window of each.
 */
async function interleaved(timed: Timed[], c: BenchCase): Promise<number[]> {
  const perStep: number[] = [];
  for (const t of timed) {
    let warm = 0;
    while (c.warmup > 0 && warm < c.warmupSeconds) warm += await t.run(c.warmup);
    perStep.push((await t.run(1)) || 1e-3);
  }
  const window = c.minSeconds / c.rounds;
  const steps = perStep.map((sec) => Math.max(1, Math.round(window / sec)));
  const rates: number[][] = timed.map(() => []);
  for (let r = 0; r < c.rounds; r++) {
    const order = timed.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) rates[i].push((steps[i] * timed[i].images) / (await timed[i].run(steps[i])));
  }
  return rates.map(median);
}

/**
 * Input-gradient and training rates for each worker count, their windows interleaved (see the
 * module comment). Every count runs in a pool of its own, one worker included, so that all of them
 * pay the same messaging and none runs in this busy thread.
 */
async function measureInterleaved(bytes: tasks.LoadPayload['model'], c: BenchCase, backend: BackendName, counts: number[]): Promise<Map<number, Measured>> {
  const pools = new Map(counts.map((w) => [w, createWorkerPool({ size: w, backend })]));
  try {
    await Promise.all([...pools.values()].map((p) => p.ready()));
    const timedPool = (w: number, images: number, fn: (pool: ReturnType<typeof createWorkerPool>, steps: number) => Promise<void>): Timed => ({
      images,
      async run(steps) {
        const start = performance.now();
        await fn(pools.get(w)!, steps);
        return (performance.now() - start) / 1000;
      },
    });
    // Input gradients: each worker runs its own full batch.
    for (const pool of pools.values()) await pool.broadcast(task('load'), { model: bytes, batch: c.batch, seed: 1 });
    const inputGrad = await interleaved(
      counts.map((w) => timedPool(w, c.batch * w, async (pool, steps) => void (await pool.broadcast(task('inputGradSteps'), { steps })))),
      c,
    );
    // Training: the global batch split over the workers, gradients averaged here.
    for (const [w, pool] of pools) await pool.broadcast(task('load'), { model: bytes, batch: Math.ceil(c.batch / w), seed: 1 });
    const train = await interleaved(
      counts.map((w) =>
        timedPool(w, Math.ceil(c.batch / w) * w, async (pool, steps) => {
          // One worker trains on its own; more average their gradients here.
          if (w === 1) return void (await pool.broadcast(task('trainSteps'), { steps }));
          for (let s = 0; s < steps; s++) {
            const grads = await pool.broadcast<Float32Array>(task('gradients'), {});
            const avg = new Float32Array(grads[0].length);
            for (const g of grads) for (let i = 0; i < g.length; i++) avg[i] += g[i] / grads.length;
            await pool.broadcast(task('applyGradients'), { grads: avg });
          }
        }),
      ),
      c,
    );
    // One worker's step, counted in that worker (its pool holds the whole batch).
    const single = pools.get(1);
    const [counted] = single ? await single.broadcast<Counted>(task('countSteps'), {}) : [];
    return new Map(counts.map((w, i) => [w, { train: train[i], inputGrad: inputGrad[i], ...(w === 1 && counted ? { counts: counted } : {}) }]));
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
  }
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

export interface BenchResults {
  results: BenchRow[];
  attacks: AttackBenchRow[];
  d2r: D2rBenchRow[];
}

/**
 * PGD-20 and D2R-step cases. --quick: small-cnn on MNIST-sized inputs only. The full run adds
 * PreActResNet-18 (+ ResNet-18 guidance) at 32×32: PGD-20 at batch 32, a D2R step at batch 32 in
 * the default (tape) gradients, 1.8 GiB of wasm heap; batch 128 needs `--low-memory`
 * (`bench/d2r-memory.ts`).
 */
function algorithmCases(quick: boolean, backend: BackendName) {
  const mnist = { arch: 'small-cnn' as const, inputShape: [28, 28, 1] as [number, number, number] };
  const cifar = { arch: 'preact-resnet18' as const, inputShape: [32, 32, 3] as [number, number, number] };
  if (quick || backend === 'cpu') {
    return { pgd: [{ model: mnist, batch: 32 }], d2r: [{ target: mnist, guidance: 'small-cnn' as const, batch: 32, steps: 1, gradients: 'tape' as const }] };
  }
  return {
    pgd: [
      { model: mnist, batch: 128 },
      { model: cifar, batch: 32 },
    ],
    d2r: [
      { target: mnist, guidance: 'small-cnn' as const, batch: 128, steps: 2, gradients: 'tape' as const },
      { target: cifar, guidance: 'resnet18' as const, batch: 32, steps: 1, gradients: 'tape' as const },
    ],
  };
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const rows: BenchRow[] = [];
  const attackRows: AttackBenchRow[] = [];
  const d2rRows: D2rBenchRow[] = [];
  for (const backend of options.backends) {
    const engine = await initEngine(backend);
    for (const c of benchCases(options.quick, backend)) {
      const model = buildModel(resolveModelConfig({ arch: c.model, inputShape: c.inputShape, numClasses: 10, seed: 7 }));
      const macs = forwardMacs(model);
      const params = countParams(model).trainable;
      const bytes = await modelToBytes(model);
      model.dispose();
      // One GPU is one engine; cpu is a reference only.
      const counts = options.workers.filter((w) => w === 1 || (c.parallel && backend !== 'webgpu' && backend !== 'cpu'));
      const together = counts.length > 1 && counts.includes(1);
      if (together) options.onProgress?.(`bench: ${c.model} on ${backend} (${engine.device}), batch ${c.batch}, ${counts.join(' and ')} workers in alternating windows…`);
      const measured = together ? await measureInterleaved(bytes, c, backend, counts) : undefined;
      for (const workers of counts) {
        if (!together) options.onProgress?.(`bench: ${c.model} on ${backend} (${engine.device}), batch ${c.batch}, ${workers} worker(s)…`);
        const m: Measured = measured?.get(workers) ?? (workers === 1 ? await measureInProcess(bytes, c) : await measureParallel(bytes, c, backend, workers));
        const row: BenchRow = {
          model: c.model,
          backend,
          device: engine.device,
          workers,
          batch: c.batch,
          train_img_s: round(m.train),
          input_grad_img_s: round(m.inputGrad),
          train_gflop_s: round((m.train * macs * 2 * 3) / 1e9, 2),
          input_grad_gflop_s: round((m.inputGrad * macs * 2 * 2) / 1e9, 2),
          params,
          ...(backend === 'webgpu' ? { webgpu_kernels: webgpuKernelsWanted() ? ('own' as const) : ('shipped' as const) } : {}),
          train_dispatches_per_step: m.counts?.train.dispatches ?? null,
          train_readbacks_per_step: m.counts?.train.readbacks ?? null,
          input_grad_dispatches_per_step: m.counts?.inputGrad.dispatches ?? null,
          input_grad_readbacks_per_step: m.counts?.inputGrad.readbacks ?? null,
        };
        options.onProgress?.(
          `bench: ${c.model} ${backend} ×${workers}: train ${row.train_img_s} img/s (${row.train_gflop_s} GFLOP/s), input-grad ${row.input_grad_img_s} img/s (${row.input_grad_gflop_s} GFLOP/s)`,
        );
        rows.push(row);
      }
    }
    const algorithms = algorithmCases(options.quick, backend);
    for (const c of algorithms.pgd) {
      options.onProgress?.(`bench: PGD-20 on ${c.model.arch} ${c.model.inputShape.join('×')}, ${backend}, batch ${c.batch}…`);
      const row = await benchPgd(c.model, c.batch, engine);
      options.onProgress?.(`bench: PGD-20 ${row.model} ${backend}: ${row.img_s} img/s`);
      attackRows.push(row);
    }
    for (const c of algorithms.d2r) {
      options.onProgress?.(`bench: D2R step (CAG-10 + loss + update) ${c.target.arch} + ${c.guidance}, ${backend}, batch ${c.batch}…`);
      const row = await benchD2r(c.target, c.guidance, c.batch, c.steps, engine, c.gradients);
      options.onProgress?.(`bench: D2R ${row.target}+${row.guidance} ${backend}: ${row.img_s} img/s, rss ${row.rss_mib} MiB`);
      d2rRows.push(row);
    }
    tf.disposeVariables();
  }
  return { results: rows, attacks: attackRows, d2r: d2rRows };
}
