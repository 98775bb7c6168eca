/**
 * Benchmark of the RPC layer, on loopback, against `harden serve` running in a child process.
 *
 *   npx tsc -p . && node dist/bench/rpc.js [--quick] [--json] [--workers 2] [--batch 64] [--batches 16]
 *                  [--steps 10] [--repeats 3] [--callers 50] [--seconds 15] [--rates 1,10,0]
 *
 * 1. GenerateAdversarial throughput: PGD (`--steps`) on `--batches` × `--batch` MNIST test images
 *    against a small CNN, streamed over gRPC (the Connect client's gRPC transport, HTTP/2) from a
 *    server with `--workers` attack threads, vs. the same attack in process: libs/attacks
 *    `runAttackParallel` over a worker pool of the same size on the same images (and, for
 *    reference, `runAttackByName` on one thread). Each side runs once untimed first (engine start,
 *    model load); then `--repeats` timed runs of each, alternating, and the medians are compared.
 *    Target: gRPC ≥ 90 % of in-process. Also reported, independent of the machine's load: the share
 *    of the wall time the server's workers spent attacking (each batch reports its own seconds).
 * 2. Callers during training: a Harden job trains (standard, small CNN, MNIST); its training
 *    throughput (images/s, from its batch events) is measured in three windows of `--seconds`:
 *    quiet, then once per `--rates` entry with `--callers` concurrent clients calling GetReport and
 *    ListJobs at that many calls per second each (1: a dashboard or release gate polling; 10: an
 *    aggressive poller; 0: closed loop, each caller calling again the moment it has its reply,
 *    which measures the machine's saturation rather than latency under concurrency), then quiet
 *    again. Reports, per rate, the callers' p50/p99 latency and the drop of training throughput
 *    against the mean of the quiet windows. Targets: p99 < 100 ms, drop < 10 %.
 *
 * The callers run in this process, on the same machine as the server and the training thread: on a
 * 2-core machine they compete for the same cores, so the drop includes the load generator's own
 * CPU. To tell the machine's limits from the server's overhead, the results also give the server's
 * main-thread CPU time per call (from /proc) and a baseline: a bare Connect server (one trivial RPC, no
 * interceptors, no training) under the same callers. The machine's load average is printed too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { loadavg, tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { createWorkerPool, initEngine, tf } from '../libs/engine/index.js';
import { loadDataset } from '../libs/data/index.js';
import { buildModel, modelToBytes, resolveModelConfig, saveModelToUri } from '../libs/models/index.js';
import { fromLayersModel, runAttackByName, runAttackParallel } from '../libs/attacks/index.js';
import { createServiceClient, createTransport, Health } from '../libs/rpc/index.js';
import { AdversarialService } from '../libs/rpc/gen/robustness/v1/adversarial_pb.js';
import { EvaluationService } from '../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { HardeningService } from '../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobState } from '../libs/rpc/gen/robustness/v1/job_pb.js';
import { median } from './args.js';

interface Options {
  quick: boolean;
  json: boolean;
  workers: number;
  batch: number;
  batches: number;
  steps: number;
  callers: number;
  seconds: number;
  repeats: number;
  /** Calls per second per caller, one loaded window each; 0 = closed loop. */
  rates: number[];
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const opts: Options = { quick, json: false, workers: 2, batch: 64, batches: quick ? 6 : 16, steps: 10, callers: 50, seconds: quick ? 8 : 15, repeats: quick ? 1 : 3, rates: [1, 10, 0] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--json') opts.json = true;
    else if (flag === '--quick') continue;
    else if (flag === '--rates') {
      const rates = (argv[++i] ?? '').split(',').map(Number);
      if (rates.length === 0 || rates.some((r) => !Number.isFinite(r) || r < 0)) throw new Error(`bad --rates ${argv[i]}: calls per second per caller, comma-separated, 0 = closed loop`);
      opts.rates = rates;
    }
    else {
      const key = flag.replace(/^--/, '') as keyof Options;
      const value = Number(argv[++i]);
      if (!(key in opts) || typeof opts[key] !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`bad flag ${flag} ${argv[i]}`);
      (opts as unknown as Record<string, number>)[key] = value;
    }
  }
  return opts;
}

const CLI = new URL('../cli/main.js', import.meta.url).pathname;

/** CPU milliseconds (user + system) a process's main thread has used, from /proc (Linux): the RPC event loop, not the training thread. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/**
 * `callers` concurrent callers of `call` for `seconds`: sorted latencies (ms) and errors. With
 * `perCallerRate` > 0 each caller starts a call every 1/rate seconds (or as soon as its previous
 * call returns, if that is later), its first at a random offset within the period; with 0 each
 * calls again the moment a reply arrives (closed loop: the machine's saturation).
 */
async function hammer(
  callers: number,
  seconds: number,
  call: (i: number, k: number) => Promise<unknown>,
  perCallerRate = 0,
): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  const period = perCallerRate > 0 ? 1000 / perCallerRate : 0;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
  await Promise.all(
    Array.from({ length: callers }, async (_, i) => {
      let next = start + Math.random() * period;
      for (let k = 0; ; k++) {
        if (period > 0) await sleep(next - performance.now());
        if (performance.now() >= until) break;
        const s = performance.now();
        try {
          await call(i, k);
          latencies.push(performance.now() - s);
        } catch {
          errors++;
        }
        next += period;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { latencies, errors };
}

/** The same callers against a bare Connect server (one trivial RPC) in this process: the machine's floor. */
async function bareBaseline(callers: number, seconds: number): Promise<{ calls_per_second: number; p50_ms: number; p99_ms: number }> {
  const server = http2.createServer(connectNodeAdapter({ routes: (r) => r.service(Health, { check: () => ({ status: 1 }) }) }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const health = createServiceClient(Health, createTransport({ address: `127.0.0.1:${port}`, protocol: 'grpc' }));
  await health.check({});
  const { latencies } = await hammer(callers, seconds, () => health.check({}));
  // Not awaited: close() waits for the client's idle HTTP/2 session, which the process exit ends.
  server.close();
  return { calls_per_second: Math.round((latencies.length / seconds) * 10) / 10, p50_ms: Math.round(percentile(latencies, 50) * 10) / 10, p99_ms: Math.round(percentile(latencies, 99) * 10) / 10 };
}
const log = (line: string) => process.stderr.write(`${line}\n`);

async function serve(store: string, workers: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--store', store, '--backend', 'wasm', '--attack-workers', String(workers), '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, HARDEN_LOG_LEVEL: 'warn' },
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`harden serve exited with ${code}`)));
  });
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  // 50 concurrent calls share one HTTP/2 session; each adds an abort listener to it.
  setMaxListeners(o.callers * 4);
  const dir = mkdtempSync(join(tmpdir(), 'harden-bench-rpc-'));
  const store = pathToFileURL(dir).href;
  const load0 = loadavg()[0];
  await initEngine('wasm');
  const model = buildModel(resolveModelConfig({ arch: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10, seed: 3 }));
  const modelUri = (await saveModelToUri(model, `${store}/model`)).uri;
  const n = o.batch * o.batches;
  const data = await loadDataset('mnist', { split: 'test', limit: n });
  const attackOptions = { eps: 0.3, steps: o.steps, seed: 1 };
  const server = await serve(store, o.workers);
  const transport = createTransport({ address: server.url, protocol: 'grpc' });
  const adversarial = createServiceClient(AdversarialService, transport);
  const hardening = createServiceClient(HardeningService, transport);
  const evaluation = createServiceClient(EvaluationService, transport);

  try {
    // ---- 1. GenerateAdversarial vs in-process ----
    const x = tf.tensor4d(data.images, [data.size, ...data.shape] as [number, number, number, number]);
    const pool = createWorkerPool({ size: o.workers, backend: 'wasm' });
    await pool.ready();
    const bytes = await modelToBytes(model);
    const parallel = async () => (await runAttackParallel(pool, { target: bytes }, x, data.labels, 'pgd', { ...attackOptions, shardSize: o.batch })).adversarial.dispose();
    const head = (k: number) => tf.slice(x, [0, 0, 0, 0], [k, -1, -1, -1]) as typeof x;
    const warm = head(o.batch);
    await runAttackParallel(pool, { target: bytes }, warm, data.labels.slice(0, o.batch), 'pgd', attackOptions).then((r) => r.adversarial.dispose());
    warm.dispose();
    /** Worker seconds spent attacking (each batch reports its own), summed over the last `generate`. */
    let workerSeconds = 0;
    const generate = async (batches: number) => {
      let images = 0;
      workerSeconds = 0;
      for await (const r of adversarial.generateAdversarial({ modelUri, dataset: 'mnist', attack: 'pgd', eps: attackOptions.eps, steps: o.steps, seed: 1, batchSize: o.batch, numBatches: batches })) {
        images += Number(r.batch?.adversarial?.shape[0] ?? 0);
        workerSeconds += r.batch?.seconds ?? 0;
      }
      return images;
    };
    await generate(1);
    // In-process and gRPC runs alternate, so that a change of the machine's load hits both alike.
    const inRuns: number[] = [];
    const grpcRuns: number[] = [];
    const busy: number[] = [];
    for (let r = 0; r < o.repeats; r++) {
      let t = performance.now();
      await parallel();
      inRuns.push(n / ((performance.now() - t) / 1000));
      t = performance.now();
      const streamed = await generate(o.batches);
      const wall = (performance.now() - t) / 1000;
      grpcRuns.push(streamed / wall);
      // Load-independent: how much of the wall time the server's workers spent attacking.
      busy.push(workerSeconds / (wall * o.workers));
      log(`run ${r + 1}/${o.repeats}: in-process ${inRuns[r].toFixed(1)} img/s, gRPC ${grpcRuns[r].toFixed(1)} img/s, workers busy ${(100 * busy[r]).toFixed(1)} % (load average ${loadavg()[0].toFixed(2)})`);
    }
    await pool.close();
    const inProcess = median(inRuns);
    const overGrpc = median(grpcRuns);

    const oneThreadN = Math.min(n, o.batch * 2);
    const xs = head(oneThreadN);
    const warm1 = head(8);
    await runAttackByName('pgd', fromLayersModel(model), warm1, data.labels.slice(0, 8), attackOptions).then((r) => r.adversarial.dispose());
    warm1.dispose();
    const t1 = performance.now();
    (await runAttackByName('pgd', fromLayersModel(model), xs, data.labels.slice(0, oneThreadN), attackOptions)).adversarial.dispose();
    const oneThread = oneThreadN / ((performance.now() - t1) / 1000);
    xs.dispose();
    x.dispose();
    log(`in-process, 1 thread (runAttackByName): ${oneThread.toFixed(1)} img/s`);
    log(`GenerateAdversarial over gRPC: median ${overGrpc.toFixed(1)} img/s = ${(100 * overGrpc / inProcess).toFixed(1)} % of in-process (median ${inProcess.toFixed(1)}); best ${Math.max(...grpcRuns).toFixed(1)} vs ${Math.max(...inRuns).toFixed(1)}`);

    // ---- 2. Callers during a training job ----
    const ev = (await evaluation.evaluate({ modelUri, dataset: 'mnist', limit: 16, suite: 'quick' })).evaluation!;
    for await (const _ of evaluation.watchEvaluation({ evaluationId: ev.evaluationId })) {
      // wait for the report the callers will read
    }
    const reportId = (await evaluation.getEvaluation({ evaluationId: ev.evaluationId })).evaluation!.reportId;
    const { job } = await hardening.harden({
      model: { case: 'arch', value: 'small-cnn' },
      method: 'standard',
      dataset: 'mnist',
      limit: 4096,
      epochs: 1000,
      batchSize: 64,
      evalSize: 16,
      evaluation: { skip: true },
    });
    const jobId = job!.jobId;
    /** Training images done so far, from the job's batch events. */
    let done = 0;
    let batchesPerEpoch = 0;
    const watcher = (async () => {
      for await (const r of hardening.watchJob({ jobId })) {
        const k = r.event?.kind;
        if (k?.case === 'batchProgress') {
          batchesPerEpoch = k.value.batches;
          done = ((k.value.epoch - 1) * k.value.batches + k.value.batch) * 64;
        }
      }
    })().catch(() => undefined);
    while (done === 0) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000)); // past the first, slower steps

    const windowRate = async (work?: () => Promise<void>) => {
      const d0 = done;
      const t0 = performance.now();
      await (work ? work() : new Promise((r) => setTimeout(r, o.seconds * 1000)));
      return (done - d0) / ((performance.now() - t0) / 1000);
    };
    const quiet1 = await windowRate();
    log(`training, quiet: ${quiet1.toFixed(1)} img/s`);
    const callerCall = (i: number, k: number) => ((i + k) % 2 === 0 ? evaluation.getReport({ reportId }) : hardening.listJobs({ pageSize: 20 }));
    const loadedWindows: Array<{ rate: number; loaded: number; latencies: number[]; errors: number; serverCpuMs: number }> = [];
    for (const rate of o.rates) {
      let latencies: number[] = [];
      let errors = 0;
      const serverCpu0 = processCpuMs(server.child.pid ?? 0);
      const loaded = await windowRate(async () => {
        ({ latencies, errors } = await hammer(o.callers, o.seconds, callerCall, rate));
      });
      const serverCpuMs = processCpuMs(server.child.pid ?? 0) - serverCpu0;
      const pace = rate > 0 ? `${rate} call/s each` : 'closed loop';
      log(`training, ${o.callers} callers at ${pace}: ${loaded.toFixed(1)} img/s, p99 ${percentile(latencies, 99).toFixed(1)} ms`);
      loadedWindows.push({ rate, loaded, latencies, errors, serverCpuMs });
    }
    const quiet2 = await windowRate();
    log(`training, quiet again: ${quiet2.toFixed(1)} img/s`);
    await hardening.cancelJob({ jobId });
    await watcher;
    const finalJob = (await hardening.getJob({ jobId })).job!;
    const quiet = (quiet1 + quiet2) / 2;
    const baseline = await bareBaseline(o.callers, Math.min(o.seconds, 5));
    log(`bare Connect server, ${o.callers} callers: ${baseline.calls_per_second} calls/s, p99 ${baseline.p99_ms} ms`);
    const result = {
      machine: { cpus: cpus().length, load_average_start: Math.round(load0 * 100) / 100, load_average_end: Math.round(loadavg()[0] * 100) / 100 },
      generate_adversarial: {
        attack: 'pgd',
        steps: o.steps,
        batch: o.batch,
        batches: o.batches,
        workers: o.workers,
        repeats: o.repeats,
        grpc_img_s: Math.round(overGrpc * 10) / 10,
        in_process_img_s: Math.round(inProcess * 10) / 10,
        grpc_runs_img_s: grpcRuns.map((v) => Math.round(v * 10) / 10),
        in_process_runs_img_s: inRuns.map((v) => Math.round(v * 10) / 10),
        ratio_of_best: Math.round((Math.max(...grpcRuns) / Math.max(...inRuns)) * 1000) / 1000,
        grpc_workers_busy: busy.map((v) => Math.round(v * 1000) / 1000),
        in_process_one_thread_img_s: Math.round(oneThread * 10) / 10,
        ratio: Math.round((overGrpc / inProcess) * 1000) / 1000,
        target_ratio: 0.9,
      },
      callers_during_training: {
        callers: o.callers,
        seconds: o.seconds,
        training_quiet_img_s: Math.round(quiet * 10) / 10,
        batches_per_epoch: batchesPerEpoch,
        job_final_state: JobState[finalJob.state],
        target_p99_ms: 100,
        target_drop: 0.1,
        bare_connect_baseline: baseline,
        windows: loadedWindows.map(({ rate, loaded, latencies, errors, serverCpuMs }) => ({
          calls_per_second_per_caller: rate > 0 ? rate : 'closed loop',
          calls: latencies.length,
          errors,
          calls_per_second: Math.round((latencies.length / o.seconds) * 10) / 10,
          p50_ms: Math.round(percentile(latencies, 50) * 10) / 10,
          p99_ms: Math.round(percentile(latencies, 99) * 10) / 10,
          max_ms: Math.round((latencies.at(-1) ?? NaN) * 10) / 10,
          server_main_thread_cpu_ms_per_call: Math.round((serverCpuMs / Math.max(1, latencies.length)) * 100) / 100,
          training_loaded_img_s: Math.round(loaded * 10) / 10,
          training_drop: Math.round((1 - loaded / quiet) * 1000) / 1000,
        })),
      },
    };
    if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench/rpc: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
