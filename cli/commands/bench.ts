import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { probeBackends, resolveBackendChoice, type BackendName } from '../../libs/engine/index.js';
import { runBench } from '../bench/run-bench.js';
import { CliError } from '../cli-error.js';
import { printJson, printLine, progress, table } from '../output.js';

export const benchHelp = `harden bench [--quick] [--backend B] [--workers N] [--json]
  Training-step and input-gradient throughput (img/s, GFLOP/s) of the reference CNN (batch 64)
  and PreActResNet-18 (batch 128; 8 with --quick) on each available backend, with 1 and N workers;
  PGD-20 img/s and D2R step img/s (CAG-10 + loss + update over both models). Each row also
  gives GPU dispatches (webgpu) and read-backs per step.
  --quick finishes in about a minute on 2 cores. --backend limits the run to one backend.`;

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      backend: { type: 'string' },
      workers: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const choice = resolveBackendChoice(values.backend);
  const statuses = await probeBackends();
  let backends: BackendName[];
  if (choice === 'auto') {
    // Every available backend except the pure-JS reference (0.7 img/s; ask for it by name).
    backends = statuses
      .filter((s) => s.available && s.name !== 'cpu' && !(s.name === 'webgpu' && /software/.test(s.device)))
      .map((s) => s.name);
  } else {
    const status = statuses.find((s) => s.name === choice);
    if (!status?.available) throw new CliError(`backend "${choice}" is not available here: ${status?.reason ?? 'unknown'}`, 1);
    backends = [choice];
  }
  const maxWorkers = values.workers !== undefined ? Number(values.workers) : Math.min(availableParallelism(), 2);
  if (!Number.isInteger(maxWorkers) || maxWorkers < 1) throw new CliError(`--workers must be a positive integer, got "${values.workers}"`);
  const workers = maxWorkers > 1 ? [1, maxWorkers] : [1];
  const started = performance.now();
  const { results, attacks, d2r } = await runBench({ backends, quick: values.quick ?? false, workers, onProgress: progress });
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  if (values.json) {
    printJson({ quick: values.quick ?? false, seconds, results, attacks, d2r });
    return 0;
  }
  // Dispatches and read-backs per step (countGpuWork): dispatches on webgpu only, "—" where not counted.
  const n = (v: number | null) => (v === null ? '—' : v);
  printLine(
    table(
      ['model', 'backend', 'workers', 'batch', 'train img/s', 'train GFLOP/s', 'input-grad img/s', 'input-grad GFLOP/s', 'train disp/step', 'train reads/step', 'grad disp/step', 'grad reads/step'],
      results.map((r) => [
        r.model,
        r.backend,
        r.workers,
        r.batch,
        r.train_img_s,
        r.train_gflop_s,
        r.input_grad_img_s,
        r.input_grad_gflop_s,
        n(r.train_dispatches_per_step),
        n(r.train_readbacks_per_step),
        n(r.input_grad_dispatches_per_step),
        n(r.input_grad_readbacks_per_step),
      ]),
    ),
  );
  printLine();
  printLine(
    table(
      ['attack', 'model', 'backend', 'batch', 'img/s', 'disp/step', 'reads/step'],
      attacks.map((r) => [r.attack, r.model, r.backend, r.batch, r.img_s, n(r.dispatches_per_step), r.readbacks_per_step]),
    ),
  );
  printLine();
  printLine(
    table(
      ['D2R step', 'backend', 'batch', 'img/s', 'RSS MiB', 'disp/step', 'reads/step'],
      d2r.map((r) => [`${r.target} + ${r.guidance}`, r.backend, r.batch, r.img_s, r.rss_mib, n(r.dispatches_per_step), r.readbacks_per_step]),
    ),
  );
  printLine(`(${seconds} s)`);
  return 0;
}
