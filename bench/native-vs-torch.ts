/**
 * The native engine side by side with PyTorch on the same cores (issue 14's table): the four
 * workloads of the issue plus a PreActResNet-18 training step, each measured in PyTorch (1 and 2
 * threads, and 2 threads with sleeping OpenMP threads; `bench/native-vs-torch.py`, when Debian's
 * python3-torch is installed) and on harden's
 * native engine (1 and 2 oneDNN threads, the code `harden bench` runs), in alternating rounds so
 * that a shared machine's drift weighs on both alike; the median round of each, and the ratio of the
 * best native figure to the best PyTorch one.
 *
 *   node dist/bench/native-vs-torch.js [--rounds 3] [--seconds 2] [--json]
 *
 * Workloads: ref-cnn training step and input gradient (batch 64, 32×32×3); small-cnn PGD-20
 * (batch 32, 28×28×1, ε 0.3); small-cnn D2R step (CAG-10 + D2R loss + SGD over target and guidance,
 * batch 32); PreActResNet-18 training step (batch 32, 32×32×3).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { initEngine, setNativeThreads, tf, type EngineInfo } from '../libs/engine/index.js';
import { buildModel, modelToBytes, resolveModelConfig, type ArchName } from '../libs/models/index.js';
import * as tasks from '../cli/bench/bench-tasks.js';
import { benchD2r, benchPgd } from '../cli/bench/bench-algorithms.js';
import { median, parseFlags } from './args.js';

const WORKLOADS = ['ref-cnn-train', 'ref-cnn-input-grad', 'small-cnn-pgd20', 'small-cnn-d2r', 'preact-resnet18-train'] as const;
type Workload = (typeof WORKLOADS)[number];
type Rates = Partial<Record<Workload, number>>;

const opts = parseFlags(process.argv.slice(2), { rounds: 3, seconds: 2, json: false }, 'native-vs-torch.js [--rounds N] [--seconds S] [--json]', ['seconds']);
const SCRIPT = fileURLToPath(new URL('../../bench/native-vs-torch.py', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

/** A python3 that imports torch (Debian's is /usr/bin/python3; a pyenv shim may come first on PATH). */
function findPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * PyTorch's rates at `threads`. With `passive`, its idle OpenMP threads sleep as the native engine's
 * do (`OMP_WAIT_POLICY=passive`); otherwise it runs with its own defaults (spinning), which on a
 * loaded machine cost it more than half its 2-thread speed.
 */
function torchRates(python: string, threads: number, passive = false): Rates {
  const env = passive ? { ...process.env, OMP_WAIT_POLICY: 'passive' } : process.env;
  const r = spawnSync(python, [SCRIPT, '--threads', String(threads), '--seconds', String(opts.seconds)], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`PyTorch run failed: ${r.stderr.trim().split('\n').pop()}`);
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  return (JSON.parse(last) as { img_s: Rates }).img_s;
}

async function timedSteps(run: (steps: number) => Promise<number>, batch: number, seconds: number): Promise<number> {
  await run(1); // warm-up: primitive creation, first-call costs
  let steps = 0;
  let elapsed = 0;
  while (elapsed < seconds || steps < 2) {
    elapsed += await run(1);
    steps += 1;
  }
  return (steps * batch) / elapsed;
}

async function modelRates(arch: ArchName, batch: number, which: Array<'train' | 'inputGrad'>): Promise<{ train?: number; inputGrad?: number }> {
  const model = buildModel(resolveModelConfig({ arch, inputShape: [32, 32, 3], numClasses: 10, seed: 7 }));
  const bytes = await modelToBytes(model);
  model.dispose();
  await tasks.load({ model: bytes, batch, seed: 1 });
  try {
    const out: { train?: number; inputGrad?: number } = {};
    if (which.includes('train')) out.train = await timedSteps((steps) => tasks.trainSteps({ steps }), batch, opts.seconds);
    if (which.includes('inputGrad')) out.inputGrad = await timedSteps((steps) => tasks.inputGradSteps({ steps }), batch, opts.seconds);
    return out;
  } finally {
    tasks.dispose();
  }
}

async function nativeRates(engine: EngineInfo, threads: number): Promise<Rates> {
  setNativeThreads(threads);
  const ref = await modelRates('ref-cnn', 64, ['train', 'inputGrad']);
  const mnist = { arch: 'small-cnn' as const, inputShape: [28, 28, 1] as [number, number, number] };
  const pgd = median([await benchPgd(mnist, 32, engine), await benchPgd(mnist, 32, engine)].map((r) => r.img_s));
  const d2r = await benchD2r(mnist, 'small-cnn', 32, Math.max(2, Math.round(opts.seconds)), engine);
  const resnet = await modelRates('preact-resnet18', 32, ['train']);
  tf.disposeVariables();
  return {
    'ref-cnn-train': ref.train,
    'ref-cnn-input-grad': ref.inputGrad,
    'small-cnn-pgd20': pgd,
    'small-cnn-d2r': d2r.img_s,
    'preact-resnet18-train': resnet.train,
  };
}

const engine = await initEngine('native');
const python = findPython();
if (!python) log('native-vs-torch: no python3 with torch (apt-get install python3-torch): measuring harden only');
const configs: Array<{ name: string; run: () => Promise<Rates> }> = [
  { name: 'native 1t', run: () => nativeRates(engine, 1) },
  { name: 'native 2t', run: () => nativeRates(engine, 2) },
];
if (python) {
  configs.push(
    { name: 'torch 1t', run: async () => torchRates(python, 1) },
    { name: 'torch 2t', run: async () => torchRates(python, 2) },
    { name: 'torch 2t passive', run: async () => torchRates(python, 2, true) },
  );
}
const samples = new Map<string, Rates[]>(configs.map((c) => [c.name, []]));
for (let r = 0; r < opts.rounds; r++) {
  const order = r % 2 === 0 ? configs : [...configs].reverse();
  for (const c of order) {
    log(`native-vs-torch: round ${r + 1}/${opts.rounds}: ${c.name}…`);
    samples.get(c.name)!.push(await c.run());
  }
}
const medians = new Map<string, Rates>();
for (const [name, runs] of samples) {
  const m: Rates = {};
  for (const w of WORKLOADS) {
    const xs = runs.map((x) => x[w]).filter((v): v is number => v !== undefined);
    if (xs.length) m[w] = Math.round(median(xs) * 10) / 10;
  }
  medians.set(name, m);
}
const best = (prefix: string, w: Workload) => Math.max(...[...medians].filter(([n]) => n.startsWith(prefix)).map(([, m]) => m[w] ?? 0));
const rows = WORKLOADS.map((w) => {
  const torch = python ? best('torch', w) : undefined;
  const native = best('native', w);
  return { workload: w, ...Object.fromEntries([...medians].map(([n, m]) => [n.replaceAll(' ', '_'), m[w]])), ratio: torch ? Math.round((native / torch) * 100) / 100 : undefined };
});
if (opts.json) {
  process.stdout.write(`${JSON.stringify({ device: engine.device, rounds: opts.rounds, seconds: opts.seconds, load_average: (await import('node:os')).loadavg(), results: rows })}\n`);
} else {
  const names = configs.map((c) => c.name);
  const header = ['workload (img/s)', ...names, 'native ÷ torch (best of each)'];
  const lines = rows.map((r) => [r.workload, ...names.map((n) => String((r as Record<string, unknown>)[n.replaceAll(' ', '_')] ?? '–')), r.ratio === undefined ? '–' : `${r.ratio}×`]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  for (const l of [header, ...lines]) process.stdout.write(`${l.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`);
  process.stdout.write(`(${engine.device}; load average ${(await import('node:os')).loadavg().map((v) => v.toFixed(1)).join(' ')})\n`);
}
