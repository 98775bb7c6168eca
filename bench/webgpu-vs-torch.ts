/**
 * harden's webgpu backend side by side with PyTorch on the same GPU (issue 18, item 4): the issue's
 * four workloads at batch 128, each measured on harden's webgpu engine (the code `harden bench`
 * runs: cli/bench/bench-tasks.js for the training and input-gradient steps, benchD2r from
 * cli/bench/bench-algorithms.js for the D2R step) and in PyTorch (`bench/native-vs-torch.py
 * --device cuda`) in alternating rounds (harden first in odd rounds, PyTorch first in even ones), the
 * median round of each, and the ratio webgpu ÷ PyTorch per workload.
 *
 *   source .gpu/enter.sh && node dist/bench/webgpu-vs-torch.js [--rounds 3] [--seconds 2] [--batch 128]
 *       [--quick] [--json] [--python PATH] [--torch-device auto|cuda|cpu] [--workloads a,b,...]
 *
 * Workloads (32×32×3 inputs, 10 classes):
 * - ref-cnn-train: a training step of the reference CNN (forward, softmax cross-entropy, SGD with momentum);
 * - preact-resnet18-train: the same for PreActResNet-18;
 * - preact-resnet18-input-grad: the gradient of the loss w.r.t. the input (one attack step's cost);
 * - preact-resnet18-d2r: a D2R step, target and guidance both PreActResNet-18: CAG-10 (ε 0.031),
 *   the D2R loss over both models in train mode, one SGD update over both.
 *
 * Both sides time windows of steps queued back to back, to the end of the last one: harden's steps
 * read nothing back until the window's last result (as `harden bench` times them), PyTorch's window
 * ends with torch.cuda.synchronize(). PyTorch runs with cuDNN autotuning on and its default TF32
 * settings (reported with the results); harden's webgpu runs in float32 with our WGSL kernels
 * (`HARDEN_WEBGPU_KERNELS=shipped`: tfjs-backend-webgpu's own).
 *
 * `--quick` (batch 2, 0.5 s per workload, 2 rounds) is a smoke run: with `HARDEN_WEBGPU_SOFTWARE=1`
 * it runs webgpu on Mesa llvmpipe and PyTorch on the CPU, which shows that the script works end to end
 * and nothing about speed. `--torch-device auto` (the default) uses CUDA when the chosen python's
 * PyTorch has it and the CPU otherwise, and says so: only rows with PyTorch on CUDA and webgpu on a
 * hardware adapter are the issue's comparison. Without a python that imports torch, only the harden
 * side is measured.
 *
 * Per workload, what one step issues (libs/engine/webgpu-counters.ts, counted in the first round as
 * `harden bench` counts them): compute dispatches and GPU→CPU read-backs.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initEngine, tf, type EngineInfo, type GpuWork } from '../libs/engine/index.js';
import { webgpuKernelsWanted } from '../libs/engine/webgpu-kernels/index.js';
import { buildModel, modelToBytes, resolveModelConfig, type ArchName, type ModelBytes } from '../libs/models/index.js';
import * as tasks from '../cli/bench/bench-tasks.js';
import { benchD2r } from '../cli/bench/bench-algorithms.js';
import { median, parseFlags } from './args.js';

const WORKLOADS = ['ref-cnn-train', 'preact-resnet18-train', 'preact-resnet18-input-grad', 'preact-resnet18-d2r'] as const;
type Workload = (typeof WORKLOADS)[number];
type Rates = Partial<Record<Workload, number>>;

/** The issue's goals: webgpu at least this fraction of PyTorch's throughput on the same GPU. */
const GOALS: Partial<Record<Workload, number>> = { 'preact-resnet18-train': 0.3, 'preact-resnet18-d2r': 0.25 };

const USAGE = 'webgpu-vs-torch.js [--rounds N] [--seconds S] [--batch B] [--quick] [--json] [--python PATH] [--torch-device auto|cuda|cpu] [--workloads a,b,...]';
const log = (line: string) => process.stderr.write(`webgpu-vs-torch: ${line}\n`);

// --- flags ------------------------------------------------------------------------------------

/** Takes `--name value` string flags out of `argv` (parseFlags knows numbers and switches only). */
function takeString(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`usage: ${USAGE}; --${name} needs a value`);
  argv.splice(i, 2);
  return value;
}

const argv = process.argv.slice(2);
const pythonFlag = takeString(argv, 'python');
const torchDevice = takeString(argv, 'torch-device') ?? 'auto';
if (!['auto', 'cuda', 'cpu'].includes(torchDevice)) throw new Error(`usage: ${USAGE}; bad --torch-device ${torchDevice}`);
const workloadsFlag = takeString(argv, 'workloads');
/** The workloads measured: all four, or those named by --workloads (in the table's order). */
const SELECTED: readonly Workload[] = workloadsFlag
  ? (() => {
      const names = workloadsFlag.split(',');
      const bad = names.filter((n) => !(WORKLOADS as readonly string[]).includes(n));
      if (bad.length) throw new Error(`usage: ${USAGE}; unknown workload ${bad.join(', ')} (known: ${WORKLOADS.join(', ')})`);
      return WORKLOADS.filter((w) => names.includes(w));
    })()
  : WORKLOADS;
const opts = parseFlags(argv, { rounds: 3, seconds: 2, batch: 128, quick: false, json: false }, USAGE, ['seconds']);
if (opts.quick) {
  // A smoke run: tiny batch, short windows; explicit flags still win.
  if (!argv.includes('--batch')) opts.batch = 2;
  if (!argv.includes('--seconds')) opts.seconds = 0.5;
  if (!argv.includes('--rounds')) opts.rounds = 2;
}
const minSteps = opts.quick ? 1 : 2;

// --- PyTorch side --------------------------------------------------------------------------------

const SCRIPT = fileURLToPath(new URL('../../bench/native-vs-torch.py', import.meta.url));

interface TorchProbe {
  python: string;
  torch: string;
  cuda: boolean;
  device_name: string | null;
}

const PROBE = [
  'import json, torch',
  'cuda = torch.cuda.is_available()',
  "print(json.dumps({'torch': torch.__version__, 'cuda': cuda, 'device_name': torch.cuda.get_device_name(0) if cuda else None}))",
].join('\n');

function probePython(python: string): TorchProbe | { python: string; error: string } {
  const r = spawnSync(python, ['-c', PROBE], { encoding: 'utf8' });
  if (r.error) return { python, error: r.error.message };
  if (r.status !== 0) return { python, error: (r.stderr || '').trim().split('\n').pop() || `exit ${r.status}` };
  return { python, ...(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Omit<TorchProbe, 'python'>) };
}

/**
 * The python to measure PyTorch with: --python, else the first of `python3` (the GPU machine's, with
 * CUDA) and `/usr/bin/python3` (Debian's python3-torch; a pyenv shim may come first on PATH) that
 * imports torch, one with CUDA preferred unless --torch-device cpu.
 */
function choosePython(): { chosen?: TorchProbe; notes: string[] } {
  const notes: string[] = [];
  const candidates = pythonFlag ? [pythonFlag] : ['python3', '/usr/bin/python3'];
  const found: TorchProbe[] = [];
  for (const py of candidates) {
    const p = probePython(py);
    if ('error' in p) notes.push(`${py}: no usable torch (${p.error})`);
    else found.push(p);
  }
  const chosen = torchDevice === 'cpu' ? found[0] : (found.find((p) => p.cuda) ?? found[0]);
  return { chosen, notes };
}

interface TorchRun {
  img_s: Rates;
  device: string;
  device_name?: string;
  torch: string;
  tf32?: { cudnn: boolean; matmul: boolean };
  cudnn_benchmark?: boolean;
}

function torchRound(python: string, device: 'cuda' | 'cpu'): TorchRun {
  const args = [SCRIPT, '--device', device, '--batch', String(opts.batch), '--seconds', String(opts.seconds), '--workloads', SELECTED.join(',')];
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (r.status !== 0) throw new Error(`PyTorch run failed (exit ${r.status ?? r.signal}): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as TorchRun;
}

// --- harden side ---------------------------------------------------------------------------------

/** What one step issues on the engine (libs/engine/webgpu-counters.ts): compute dispatches and read-backs. */
interface PerStep {
  dispatches: number | null;
  readbacks: number | null;
}

interface Measured {
  img_s: number;
  steps: number;
}

/**
 * As `harden bench` times them (bench-tasks reads only the last step's result, so steps queue back
 * to back on the GPU): warm-up, one step to size the window, then one window of as many steps as fill
 * --seconds (at least 2, 1 with --quick), timed to the read of the last step's result.
 */
async function timedSteps(run: (steps: number) => Promise<number>, warmup: number): Promise<Measured> {
  if (warmup > 0) await run(warmup); // shader compilation and pipeline creation, first-call costs
  const one = (await run(1)) || 1e-3;
  const steps = Math.max(minSteps, Math.round(opts.seconds / one));
  const seconds = await run(steps);
  return { img_s: (steps * opts.batch) / seconds, steps };
}

async function modelBytes(arch: ArchName): Promise<ModelBytes> {
  const model = buildModel(resolveModelConfig({ arch, inputShape: [32, 32, 3], numClasses: 10, seed: 7 }));
  try {
    return await modelToBytes(model);
  } finally {
    model.dispose();
  }
}

interface HardenState {
  engine: EngineInfo;
  refCnn: ModelBytes;
  resnet: ModelBytes;
  /** The first round's D2R rate, which sizes later rounds' step counts. */
  d2rRate?: number;
}

/** One decimal, or 3 significant digits below 10 img/s (llvmpipe's smoke runs). */
const sig = (v: number) => (v >= 10 ? Math.round(v * 10) / 10 : Number(v.toPrecision(3)));

const counted = (w: GpuWork): PerStep => ({ dispatches: w.dispatches, readbacks: w.readbacks });

/** Workloads that failed on webgpu (say, out of device memory), with why: not tried again, reported. */
const failed = new Map<Workload, string>();

/** Runs `fn`; a failure is logged and kept against `ws`, and the run goes on with the other workloads. */
async function attempt(ws: Workload[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (cause) {
    const why = (cause as Error).message.split('\n')[0];
    for (const w of ws) if (!failed.has(w)) failed.set(w, why);
    log(`  ${ws.join(', ')}: failed on webgpu: ${why}`);
  }
}

/** One round of every selected workload on the webgpu engine; per-step work counted in the first. */
async function hardenRound(s: HardenState, round: number): Promise<{ rates: Rates; work: Partial<Record<Workload, PerStep>> }> {
  const warmup = round === 0 && !opts.quick ? 2 : 1;
  const rates: Rates = {};
  const work: Partial<Record<Workload, PerStep>> = {};
  const keep = (w: Workload, m: Measured) => {
    rates[w] = m.img_s;
    log(`  ${w}: ${sig(m.img_s)} img/s (${m.steps} steps)`);
  };
  const want = (w: Workload) => SELECTED.includes(w) && !failed.has(w);

  if (want('ref-cnn-train')) {
    await attempt(['ref-cnn-train'], async () => {
      await tasks.load({ model: s.refCnn, batch: opts.batch, seed: 1 });
      try {
        keep('ref-cnn-train', await timedSteps((steps) => tasks.trainSteps({ steps }), warmup));
        if (round === 0) work['ref-cnn-train'] = counted((await tasks.countSteps()).train);
      } finally {
        tasks.dispose();
      }
    });
  }
  const resnetRows = (['preact-resnet18-train', 'preact-resnet18-input-grad'] as const).filter(want);
  if (resnetRows.length) {
    await attempt(resnetRows, async () => {
      await tasks.load({ model: s.resnet, batch: opts.batch, seed: 1 });
      try {
        if (want('preact-resnet18-train')) {
          await attempt(['preact-resnet18-train'], async () => keep('preact-resnet18-train', await timedSteps((steps) => tasks.trainSteps({ steps }), warmup)));
        }
        if (want('preact-resnet18-input-grad')) {
          await attempt(['preact-resnet18-input-grad'], async () =>
            keep('preact-resnet18-input-grad', await timedSteps((steps) => tasks.inputGradSteps({ steps }), warmup)),
          );
        }
        if (round === 0 && resnetRows.some(want)) {
          try {
            const c = await tasks.countSteps();
            if (want('preact-resnet18-train')) work['preact-resnet18-train'] = counted(c.train);
            if (want('preact-resnet18-input-grad')) work['preact-resnet18-input-grad'] = counted(c.inputGrad);
          } catch (cause) {
            log(`  counting PreActResNet-18's steps failed: ${(cause as Error).message.split('\n')[0]}`);
          }
        }
      } finally {
        tasks.dispose();
      }
    });
  }
  if (want('preact-resnet18-d2r')) {
    await attempt(['preact-resnet18-d2r'], async () => {
      // benchD2r times a fixed number of steps after its own warm-up step: one in the first round,
      // then as many as fill --seconds at the first round's rate.
      const steps = s.d2rRate === undefined ? 1 : Math.max(minSteps, Math.round((opts.seconds * s.d2rRate) / opts.batch));
      const row = await benchD2r({ arch: 'preact-resnet18', inputShape: [32, 32, 3] }, 'preact-resnet18', opts.batch, steps, s.engine);
      s.d2rRate ??= row.img_s;
      rates['preact-resnet18-d2r'] = row.img_s;
      if (round === 0) work['preact-resnet18-d2r'] = { dispatches: row.dispatches_per_step, readbacks: row.readbacks_per_step };
      log(`  preact-resnet18-d2r: ${row.img_s} img/s (${steps} steps)`);
    });
  }
  tf.disposeVariables();
  return { rates, work };
}

// --- the run ---------------------------------------------------------------------------------------

let engine: EngineInfo;
try {
  engine = await initEngine('webgpu');
} catch (cause) {
  log(`the webgpu backend is unavailable: ${(cause as Error).message}`);
  log('on a CPU-only machine, HARDEN_WEBGPU_SOFTWARE=1 runs it on Mesa llvmpipe (a smoke run; its numbers say nothing about a GPU)');
  process.exit(1);
}
const software = process.env.HARDEN_WEBGPU_SOFTWARE === '1';
const notes: string[] = [];
if (software) notes.push(`webgpu runs on a software adapter (${engine.device}): these numbers say nothing about a GPU`);

const { chosen, notes: pythonNotes } = choosePython();
let torchOn: 'cuda' | 'cpu' | undefined;
if (!chosen) {
  notes.push(`no python with PyTorch found (${pythonNotes.join('; ')}): measuring the harden side only`);
} else if (torchDevice === 'cuda' && !chosen.cuda) {
  notes.push(`--torch-device cuda, but ${chosen.python}'s PyTorch ${chosen.torch} sees no CUDA device: measuring the harden side only`);
} else {
  torchOn = torchDevice === 'cpu' || !chosen.cuda ? 'cpu' : 'cuda';
  if (torchOn === 'cpu') {
    const why = torchDevice === 'cpu' ? 'runs on the CPU (--torch-device cpu)' : 'sees no CUDA device and runs on the CPU';
    notes.push(`PyTorch (${chosen.python}, ${chosen.torch}) ${why}, not on the GPU webgpu uses: the ratios are not the issue's comparison`);
  }
}

const state: HardenState = {
  engine,
  refCnn: await modelBytes('ref-cnn'),
  resnet: await modelBytes('preact-resnet18'),
};
const hardenRates: Rates[] = [];
const torchRuns: TorchRun[] = [];
const work: Partial<Record<Workload, PerStep>> = {};
let torchFailure: string | undefined;

const runHarden = async (r: number) => {
  log(`round ${r + 1}/${opts.rounds}: harden webgpu (batch ${opts.batch})…`);
  const out = await hardenRound(state, r);
  hardenRates.push(out.rates);
  for (const w of SELECTED) work[w] ??= out.work[w];
};
const runTorch = async (r: number) => {
  if (!chosen || !torchOn || torchFailure) return;
  log(`round ${r + 1}/${opts.rounds}: PyTorch ${torchOn} (batch ${opts.batch})…`);
  try {
    const run = torchRound(chosen.python, torchOn);
    torchRuns.push(run);
    for (const w of SELECTED) log(`  ${w}: ${run.img_s[w] ?? '–'} img/s`);
  } catch (cause) {
    torchFailure = (cause as Error).message;
    notes.push(`${torchFailure}: the PyTorch side stops here`);
    log(torchFailure);
  }
};
for (let r = 0; r < opts.rounds; r++) {
  if (r % 2 === 0) {
    await runHarden(r);
    await runTorch(r);
  } else {
    await runTorch(r);
    await runHarden(r);
  }
}

for (const [w, why] of failed) notes.push(`${w} failed on webgpu and was not measured again: ${why}`);

const med = (runs: Rates[], w: Workload) => {
  const xs = runs.map((x) => x[w]).filter((v): v is number => typeof v === 'number');
  return xs.length ? sig(median(xs)) : undefined;
};
const comparable = torchOn === 'cuda' && !software;
const rows = SELECTED.map((w) => {
  const webgpu = med(hardenRates, w);
  const torch = med(
    torchRuns.map((t) => t.img_s),
    w,
  );
  const ratio = webgpu !== undefined && torch ? Math.round((webgpu / torch) * 1000) / 1000 : undefined;
  const goal = GOALS[w];
  return {
    workload: w,
    webgpu_img_s: webgpu ?? null,
    torch_img_s: torch ?? null,
    ratio: ratio ?? null,
    goal: goal ?? null,
    // Only a hardware adapter against PyTorch on CUDA is the issue's comparison.
    meets_goal: goal !== undefined && ratio !== undefined && comparable ? ratio >= goal : null,
    webgpu_rounds: hardenRates.map((x) => (x[w] === undefined ? null : sig(x[w]))),
    torch_rounds: torchRuns.map((t) => t.img_s[w] ?? null),
    per_step: work[w] ?? null,
    webgpu_error: failed.get(w) ?? null,
  };
});
const torchInfo = !torchOn ? undefined : torchRuns[0] ?? (chosen ? { torch: chosen.torch, device: torchOn, device_name: chosen.device_name } : undefined);
const torchName = torchOn === 'cuda' ? (torchRuns[0]?.device_name ?? chosen?.device_name ?? 'cuda') : torchOn === 'cpu' ? 'CPU' : undefined;

if (opts.json) {
  process.stdout.write(
    `${JSON.stringify({
      webgpu_device: engine.device,
      webgpu_software: software,
      torch: torchInfo ? { python: chosen?.python, version: torchInfo.torch, device: torchOn, device_name: torchName, tf32: torchRuns[0]?.tf32, cudnn_benchmark: torchRuns[0]?.cudnn_benchmark } : null,
      comparable,
      batch: opts.batch,
      rounds: opts.rounds,
      seconds: opts.seconds,
      quick: opts.quick,
      webgpu_kernels: webgpuKernelsWanted() ? 'own' : 'shipped',
      load_average: loadavg(),
      notes,
      results: rows,
    })}\n`,
  );
} else {
  const fmt = (v: number | null | undefined) => (v === undefined || v === null ? '–' : String(v));
  const header = [`workload (img/s, batch ${opts.batch})`, 'harden webgpu', `torch ${torchOn ?? '(none)'}`, 'webgpu ÷ torch', 'goal', 'dispatches/step', 'readbacks/step'];
  const lines = rows.map((r) => [
    r.workload,
    fmt(r.webgpu_img_s),
    fmt(r.torch_img_s),
    r.ratio === null ? '–' : `${r.ratio}×${r.meets_goal === null ? '' : r.meets_goal ? ' (met)' : ' (not met)'}`,
    r.goal === null ? '' : `≥ ${r.goal}×`,
    fmt(r.per_step?.dispatches),
    fmt(r.per_step?.readbacks),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  for (const l of [header, ...lines]) process.stdout.write(`${l.map((c, i) => c.padEnd(widths[i])).join('  ')}\n`);
  process.stdout.write(`webgpu: ${engine.device}, ${webgpuKernelsWanted() ? 'our WGSL kernels' : 'the shipped kernels (HARDEN_WEBGPU_KERNELS=shipped)'}\n`);
  if (torchInfo) process.stdout.write(`torch: ${torchInfo.torch} on ${torchName} (${chosen?.python})${torchRuns[0]?.tf32 ? `, TF32 cudnn ${torchRuns[0].tf32.cudnn} matmul ${torchRuns[0].tf32.matmul}` : ''}\n`);
  process.stdout.write(`median of ${opts.rounds} rounds, windows of about ${opts.seconds} s per workload; load average ${loadavg().map((v) => v.toFixed(1)).join(' ')}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);
}
