import { parseArgs } from 'node:util';
import { createWorkerPool, defaultWorkerCount, initEngine, resolveBackendChoice, type WorkerPool } from '../../libs/engine/index.js';
import { loadDataset } from '../../libs/data/index.js';
import { loadModelFromUri } from '../../libs/models/index.js';
import { openStore } from '../../libs/storage/index.js';
import { evaluateRobustness, isSuiteName, protocolEps, SUITE_NAMES, writeReport, writeReportHtml, type RobustnessReport, type SuiteName } from '../../libs/evaluation/index.js';
import { CliError } from '../cli-error.js';
import { nonNegativeInt, positive, positiveInt } from '../flags.js';
import { printJson, printLine, progress, table } from '../output.js';

export const evalHelp = `harden eval --model URI --dataset D [--split test] [--limit N] [--suite quick|standard]
            [--eps X] [--seed S] [--workers N] [--backend B] [--out URI] [--json]
  Measures robustness: clean accuracy, then each attack of the suite on every sample (quick: FGSM,
  PGD-20, CW∞-20; standard: also AutoAttack and FGSM/PGD-20 at smaller ε), and the per-sample worst
  case. --out writes URI/report.json and URI/report.html (a page to open in a browser). Defaults:
  split test, limit 1000, suite quick, ε by data set (mnist 0.3, fashion-mnist 0.1, else 8/255).`;

/** The report without its example images: what `--json` prints. */
export function reportSummary(report: RobustnessReport): Record<string, unknown> {
  const { examples: _examples, ...rest } = report;
  return rest;
}

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      dataset: { type: 'string' },
      split: { type: 'string', default: 'test' },
      limit: { type: 'string' },
      suite: { type: 'string', default: 'quick' },
      eps: { type: 'string' },
      seed: { type: 'string' },
      workers: { type: 'string' },
      backend: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.model) throw new CliError('--model is required (a folder holding model.json, e.g. file:///tmp/run/model)');
  if (!values.dataset) throw new CliError('--dataset is required (mnist, fashion-mnist[:DIR], idx:DIR, cifar10:DIR, cifar100:DIR, tiny-imagenet:DIR)');
  if (!isSuiteName(values.suite ?? '')) throw new CliError(`--suite must be one of ${SUITE_NAMES.join(', ')}; got "${values.suite}"`);
  if (values.split !== 'train' && values.split !== 'test') throw new CliError(`--split must be train or test; got "${values.split}"`);
  const limit = positiveInt('--limit', values.limit) ?? 1000;
  const eps = positive('--eps', values.eps) ?? protocolEps(values.dataset);
  if (eps > 1) throw new CliError(`--eps must be at most 1 (inputs are in [0, 1]); got "${values.eps}"`);
  const seed = nonNegativeInt('--seed', values.seed) ?? 0;
  const workers = positiveInt('--workers', values.workers) ?? defaultWorkerCount();
  const out = values.out ? openStore(values.out) : undefined;

  const engine = await initEngine(resolveBackendChoice(values.backend));
  const model = await loadModelFromUri(values.model);
  const data = await loadDataset(values.dataset, { split: values.split, limit });
  const parallel = workers > 1 && engine.backend !== 'webgpu' && data.size > 1;
  progress(`eval: ${values.suite} suite at ε=${eps} on ${data.size} ${values.split} images of ${data.name}, ${engine.backend} (${engine.device})${parallel ? `, ${workers} workers` : ''}`);
  let pool: WorkerPool | undefined;
  let report: RobustnessReport;
  try {
    pool = parallel ? createWorkerPool({ size: workers, backend: engine.backend }) : undefined;
    report = await evaluateRobustness({
      model,
      modelUri: values.model,
      data,
      datasetSpec: values.dataset,
      suite: values.suite as SuiteName,
      eps,
      seed,
      ...(pool ? { pool } : {}),
      onProgress: (e) => {
        if (e.type === 'clean') progress(`eval: clean accuracy ${e.cleanAccuracy.toFixed(4)} (n=${e.n})`);
        else if (e.type === 'attack-start') progress(`eval: [${e.index + 1}/${e.total}] ${e.name}…`);
        else progress(`eval: [${e.index + 1}/${e.total}] ${e.name}: robust accuracy ${e.robustAccuracy.toFixed(4)} (${e.seconds.toFixed(1)} s)`);
      },
    });
  } finally {
    await pool?.close();
  }
  const reportUri = out ? await writeReport(out, report) : undefined;
  const htmlUri = out ? await writeReportHtml(out, report) : undefined;
  for (const w of report.warnings) progress(`warning [${w.id}]: ${w.message}`);
  if (values.json) {
    printJson({ ...reportSummary(report), ...(reportUri ? { report_uri: reportUri, report_html_uri: htmlUri } : {}) });
    return 0;
  }
  printLine(`clean accuracy ${report.clean_accuracy.toFixed(4)}, worst-case robust accuracy ${report.robust_accuracy.toFixed(4)} (ε=${eps}, n=${report.dataset.n})`);
  printLine(table(['attack', 'robust accuracy', 'seconds'], report.attacks.map((a) => [a.name, a.robust_accuracy.toFixed(4), a.seconds.toFixed(1)])));
  if (reportUri) printLine(`report: ${reportUri} (for people: ${htmlUri})`);
  return 0;
}
