import { parseArgs } from 'node:util';
import { openStore } from '../../libs/storage/index.js';
import { EvaluationError, readReport, REPORT_JSON } from '../../libs/evaluation/index.js';
import { CliError } from '../cli-error.js';
import { parseNumber } from '../flags.js';
import { printJson, printLine } from '../output.js';

export const gateHelp = `harden gate --report URI --min-robust-accuracy X [--attack NAME] [--json]
  A CI gate on a robustness report (URI of report.json or of the folder holding it): exit 0 when
  the worst-case robust accuracy (or that of --attack NAME) is at least X, 1 when it is not (saying
  by how much), 2 when the report is missing or malformed.`;

/** Splits a report URI into its store and key: `…/report.json` or a folder holding one. */
function locate(uri: string): { storeUri: string; key: string } {
  const trimmed = uri.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  if (/\.json$/i.test(trimmed) && slash > 0) return { storeUri: trimmed.slice(0, slash), key: trimmed.slice(slash + 1) };
  return { storeUri: trimmed, key: REPORT_JSON };
}

export async function gateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      report: { type: 'string' },
      'min-robust-accuracy': { type: 'string' },
      attack: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.report) throw new CliError('--report is required (URI of a report.json or of its folder)');
  const min = parseNumber('--min-robust-accuracy', values['min-robust-accuracy'], (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  if (min === undefined) throw new CliError('--min-robust-accuracy is required (a number in [0, 1])');
  const { storeUri, key } = locate(values.report);
  let report;
  try {
    report = await readReport(openStore(storeUri), key);
  } catch (error) {
    if (error instanceof EvaluationError) throw new CliError(error.message, 2, { cause: error });
    throw error;
  }
  let measured = report.robust_accuracy;
  let subject = 'worst-case robust accuracy';
  if (values.attack) {
    const row = report.attacks.find((a) => a.name === values.attack || a.attack === values.attack);
    if (!row) throw new CliError(`the report has no attack "${values.attack}"; it has ${report.attacks.map((a) => a.name).join(', ')}`, 2);
    measured = row.robust_accuracy;
    subject = `${row.name} robust accuracy`;
  }
  const passed = measured >= min;
  const margin = Math.round((measured - min) * 1e6) / 1e6;
  if (values.json) {
    printJson({ passed, robust_accuracy: measured, min_robust_accuracy: min, margin, attack: values.attack ?? null, model_sha256: report.model.sha256 });
  } else if (passed) {
    printLine(`PASS: ${subject} ${measured.toFixed(4)} ≥ ${min} (margin ${margin >= 0 ? '+' : ''}${margin.toFixed(4)}) at ε=${report.eps}`);
  } else {
    printLine(`FAIL: ${subject} ${measured.toFixed(4)} < ${min}: short by ${(-margin).toFixed(4)} at ε=${report.eps}`);
  }
  return passed ? 0 : 1;
}
