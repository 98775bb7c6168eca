/**
 * Benchmark of checkpoint storage on a local S3 server.
 *
 *   npx tsc -p . && node [--expose-gc] dist/bench/storage.js [--repeats 3] [--json]
 *
 * The server is the one the S3 tests use (test/helpers/s3-server.ts): HARDEN_S3_ENDPOINT when set
 * (e.g. Swift from scripts/start-swift.sh), else an s3rver process on loopback. It shares this
 * machine's cores with the benchmark, so the figures include the server's own cost.
 *
 * Measures, for a PreActResNet-18 checkpoint (CIFAR-10 shape: ≈44.7 MB of weights in 4 MiB shards
 * through `saveModel`, plus momentum buffers of the same size streamed as one `optimizer` object):
 * - write: `saveCheckpoint` (files, manifest, latest.json) in MB/s (10^6 bytes per second);
 * - read: `openLatestCheckpoint` and a verified `get` of every file (sha256 checked) in MB/s;
 * - memory: peak growth of the RSS and of Buffer memory (sampled every 5 ms; with --expose-gc also
 *   of live Buffers, collected every 50 ms) while `putStream`
 *   uploads a generated stream of 1× and 8× the optimizer's size: bounded (the parts in flight,
 *   queueSize × partSize = 32 MiB, plus chunks not yet garbage-collected), not proportional to the
 *   size, because uploads are streamed.
 *   (RSS only grows past its high-water mark, so after the checkpoint phase it can show less.)
 */
import { initEngine } from '../libs/engine/index.js';
import { buildModel, saveModel } from '../libs/models/index.js';
import { createS3Store, openLatestCheckpoint, saveCheckpoint, type ArtifactStore } from '../libs/storage/index.js';
import { startS3Server } from '../test/helpers/s3-server.js';

const MiB = 1024 * 1024;

interface Options {
  repeats: number;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { repeats: 3, json: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') opts.json = true;
    else if (argv[i] === '--repeats' && Number.isInteger(Number(argv[i + 1])) && Number(argv[i + 1]) >= 1) opts.repeats = Number(argv[++i]);
    else throw new Error(`usage: storage.js [--repeats N] [--json]; bad ${argv[i]}`);
  }
  return opts;
}

/** `total` bytes in 1 MiB chunks made as they are consumed (like momentum buffers read one by one). */
async function* generated(total: number): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += MiB) {
    const chunk = new Uint8Array(Math.min(MiB, total - sent));
    chunk.fill(sent / MiB);
    yield chunk;
  }
}


/**
 * Runs `fn` while sampling memory every 5 ms. @returns the peak growth over the values before, in
 * bytes, of the RSS, of the memory held by ArrayBuffers (Node Buffers: the upload's parts, garbage
 * included), and, when `gc` is exposed, of the live Buffers (collected every 50 ms, then sampled)
 */
async function peakGrowth(fn: () => Promise<unknown>): Promise<{ rss: number; buffers: number; live?: number; seconds: number }> {
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  const before = process.memoryUsage();
  let rss = before.rss;
  let buffers = before.arrayBuffers;
  let live = before.arrayBuffers;
  let ticks = 0;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    buffers = Math.max(buffers, m.arrayBuffers);
    if (collect && ++ticks % 10 === 0) {
      collect();
      live = Math.max(live, process.memoryUsage().arrayBuffers);
    }
  };
  const timer = setInterval(sample, 5);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  sample();
  return {
    rss: rss - before.rss,
    buffers: buffers - before.arrayBuffers,
    ...(collect ? { live: live - before.arrayBuffers } : {}),
    seconds: (performance.now() - t0) / 1000,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (n: number) => n / 1e6;

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  await initEngine('wasm');
  const model = buildModel({ arch: 'preact-resnet18', inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
  const weightBytes = model.weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1) * 4, 0);
  const momentumBytes = model.trainableWeights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1) * 4, 0);

  const server = await startS3Server();
  const client = server.client({ maxAttempts: 4 });
  try {
    const bucket = await server.createBucket();
    const store: ArtifactStore = createS3Store({ bucket, prefix: 'bench', client });
    const writes: number[] = [];
    const reads: number[] = [];
    let checkpointBytes = 0;
    for (let r = 0; r < opts.repeats; r++) {
      const t0 = performance.now();
      const pointer = await saveCheckpoint(store, {
        jobId: 'bench',
        epoch: r + 1,
        write: async (folder) => {
          await saveModel(model, folder, 'target');
          await folder.putStream('optimizer', generated(momentumBytes));
          await folder.put('state.json', new TextEncoder().encode(JSON.stringify({ epoch: r + 1 })));
        },
      });
      const writeSeconds = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      const latest = await openLatestCheckpoint(store, 'bench');
      if (!latest || latest.pointer.folder !== pointer.folder) throw new Error('latest.json does not name the checkpoint just written');
      let read = 0;
      for (const f of latest.folder.manifest.files) read += (await latest.folder.get(f.key)).byteLength;
      const readSeconds = (performance.now() - t1) / 1000;
      checkpointBytes = read;
      writes.push(mb(read) / writeSeconds);
      reads.push(mb(read) / readSeconds);
    }

    const small = await peakGrowth(() => store.putStream('rss/1x.bin', generated(momentumBytes)));
    const large = await peakGrowth(() => store.putStream('rss/8x.bin', generated(8 * momentumBytes)));
    for (const key of ['rss/1x.bin', 'rss/8x.bin']) await store.delete(key);

    const result = {
      server: server.kind === 'external' ? `external ${server.endpoint}` : 's3rver (child process, loopback)',
      weights_mb: mb(weightBytes),
      optimizer_mb: mb(momentumBytes),
      checkpoint_mb: mb(checkpointBytes),
      repeats: opts.repeats,
      write_mb_s: { median: median(writes), best: Math.max(...writes) },
      read_verified_mb_s: { median: median(reads), best: Math.max(...reads) },
      stream_upload: [
        { mb: mb(momentumBytes), seconds: small.seconds, peak_rss_growth_mb: mb(small.rss), peak_buffer_growth_mb: mb(small.buffers), peak_live_buffer_growth_mb: small.live === undefined ? null : mb(small.live) },
        { mb: mb(8 * momentumBytes), seconds: large.seconds, peak_rss_growth_mb: mb(large.rss), peak_buffer_growth_mb: mb(large.buffers), peak_live_buffer_growth_mb: large.live === undefined ? null : mb(large.live) },
      ],
      part_size_mib: 8,
      queue_size: 4,
      gc_exposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
    };
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const f = (x: number) => x.toFixed(1);
      const lines = [
        `server: ${result.server}`,
        `checkpoint: PreActResNet-18 weights ${f(result.weights_mb)} MB + optimizer ${f(result.optimizer_mb)} MB = ${f(result.checkpoint_mb)} MB (${opts.repeats} repeats)`,
        `write (files + manifest + latest.json): ${f(result.write_mb_s.median)} MB/s median, ${f(result.write_mb_s.best)} best`,
        `read (latest.json, manifest, every file sha256-checked): ${f(result.read_verified_mb_s.median)} MB/s median, ${f(result.read_verified_mb_s.best)} best`,
        ...result.stream_upload.map(
          (s) =>
            `putStream ${f(s.mb)} MB: ${f(s.mb / s.seconds)} MB/s, peak growth: RSS ${f(s.peak_rss_growth_mb)} MB, Buffers ${f(s.peak_buffer_growth_mb)} MB` +
            (s.peak_live_buffer_growth_mb === null ? ' (run with --expose-gc for live Buffers)' : `, live Buffers ${f(s.peak_live_buffer_growth_mb)} MB`),
        ),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } finally {
    model.dispose();
    client.destroy();
    await server.close();
  }
}

await main();
