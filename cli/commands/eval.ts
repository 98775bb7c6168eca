import { parseArgs } from 'node:util';
import { createWorkerPool, type WorkerPool } from '../../libs/engine/index.js';
import { openStore } from '../../libs/storage/index.js';
import { describeStep, evaluationEps } from '../../libs/attacks/index.js';
import { evaluateRobustness, isSuiteName, SUITE_NAMES, writeReport, writeReportHtml, type RobustnessReport, type SuiteName } from '../../libs/evaluation/index.js';
import { CliError } from '../cli-error.js';
import { loadModelAndData, MODEL_DATA_OPTIONS, parseModelDataArgs } from '../model-data.js';
import { positive } from '../flags.js';
import { printJson, printLine, progress, table } from '../output.js';

export const evalHelp = `harden eval --model URI --dataset D [--size HxW] [--split test] [--limit N] [--suite quick|standard]
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
      ...MODEL_DATA_OPTIONS,
      suite: { type: 'string', default: 'quick' },
      eps: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const args = parseModelDataArgs(values);
  if (!isSuiteName(values.suite ?? '')) throw new CliError(`--suite must be one of ${SUITE_NAMES.join(', ')}; got "${values.suite}"`);
  const eps = positive('--eps', values.eps) ?? evaluationEps(args.dataset);
  if (eps > 1) throw new CliError(`--eps must be at most 1 (inputs are in [0, 1]); got "${values.eps}"`);
  const { seed, workers } = args;
  const out = values.out ? openStore(values.out) : undefined;

  const { engine, model, data } = await loadModelAndData(args);
  const parallel = workers > 1 && engine.backend !== 'webgpu' && data.size > 1;
  progress(`eval: ${values.suite} suite at ε=${eps} on ${data.size} ${args.split} images of ${data.name}, ${engine.backend} (${engine.device})${parallel ? `, ${workers} workers` : ''}`);
  let pool: WorkerPool | undefined;
  let report: RobustnessReport;
  try {
    pool = parallel ? createWorkerPool({ size: workers, backend: engine.backend }) : undefined;
    report = await evaluateRobustness({
      model,
      modelUri: args.modelUri,
      data,
      datasetSpec: args.dataset,
      suite: values.suite as SuiteName,
      eps,
      seed,
      ...(pool ? { pool } : {}),
      onProgress: (e) => {
        if (e.type === 'clean') progress(`eval: clean accuracy ${e.cleanAccuracy.toFixed(4)} (n=${e.n})`);
        else if (e.type === 'attack-start') progress(`eval: [${e.index + 1}/${e.total}] ${e.name}…`);
        else if (e.type === 'attack-step') progress(`eval: [${e.index + 1}/${e.total}] ${e.name}: ${describeStep(e)}`);
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
