import { parseArgs } from 'node:util';
import { EvaluationService, type Report } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { HardeningService } from '../../libs/rpc/gen/robustness/v1/hardening_pb.js';
import { JobState } from '../../libs/rpc/gen/robustness/v1/job_pb.js';
import { CliError } from '../cli-error.js';
import { positiveInt } from '../flags.js';
import { printJson, printLine, table } from '../output.js';
import { CLIENT_OPTIONS, clientFromFlags, rpcError } from './submit.js';

export const reportHelp = `harden report --server HOST:PORT (REPORT_ID | --job JOB_ID) [--json]
harden report --server HOST:PORT --list [--model URI] [--page-size N] [--page-token T] [--json]
  Shows a robustness report kept by the evaluation service (or the report of a Harden job), or
  lists reports newest first, optionally of one model. --json: {report_id, clean_accuracy,
  robust_accuracy, attacks: [{name, eps, robust_accuracy}], …}; with --list {reports, next_page_token}.`;

/** A report as snake_case JSON, as `harden eval --json` prints one. */
export function reportJson(r: Report): Record<string, unknown> {
  return {
    report_id: r.reportId,
    created_at: r.createTime ? new Date(Number(r.createTime.seconds) * 1000 + Math.round(r.createTime.nanos / 1e6)).toISOString() : null,
    model_uri: r.model?.uri ?? '',
    model_sha256: r.model?.sha256 ?? '',
    arch: r.model?.arch || null,
    dataset: r.dataset?.spec ?? '',
    split: r.dataset?.split ?? '',
    n: r.dataset?.size ?? 0,
    suite: r.suite,
    eps: r.eps,
    norm: r.norm,
    clean_accuracy: r.cleanAccuracy,
    robust_accuracy: r.robustAccuracy,
    attacks: r.attacks.map((a) => ({ name: a.name, attack: a.attack, eps: a.eps, robust_accuracy: a.robustAccuracy, max_perturbation: a.maxPerturbation, seconds: a.seconds })),
    per_class: r.perClass.map((c) => ({ class: c.classIndex, name: c.name, n: c.size, clean_accuracy: c.cleanAccuracy, robust_accuracy: c.robustAccuracy })),
    warnings: r.warnings.map((w) => ({ id: w.id, message: w.message })),
    report_uri: r.reportUri,
    evaluation_id: r.evaluationId,
    job_id: r.jobId || null,
  };
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      ...CLIENT_OPTIONS,
      job: { type: 'string' },
      list: { type: 'boolean', default: false },
      model: { type: 'string' },
      'page-size': { type: 'string' },
      'page-token': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
    strict: true,
  });
  const evaluation = clientFromFlags(EvaluationService, values);
  if (values.list) {
    if (positionals.length > 0 || values.job) throw new CliError('--list takes no REPORT_ID or --job');
    let page;
    try {
      page = await evaluation.listReports({ modelUri: values.model ?? '', pageSize: positiveInt('--page-size', values['page-size']) ?? 0, pageToken: values['page-token'] ?? '' });
    } catch (error) {
      rpcError(error, values.server);
    }
    if (values.json) printJson({ reports: page.reports.map(reportJson), next_page_token: page.nextPageToken });
    else {
      printLine(table(['report', 'model', 'clean', 'robust', 'suite'], page.reports.map((r) => [r.reportId, r.model?.uri ?? '', r.cleanAccuracy.toFixed(4), r.robustAccuracy.toFixed(4), r.suite])));
      if (page.nextPageToken) printLine(`more: --page-token ${page.nextPageToken}`);
    }
    return 0;
  }
  if ((positionals.length === 1) === (values.job !== undefined) || positionals.length > 1) throw new CliError('give one REPORT_ID, or --job JOB_ID, or --list');
  let reportId = positionals[0];
  try {
    if (values.job) {
      const job = (await clientFromFlags(HardeningService, values).getJob({ jobId: values.job })).job;
      if (!job?.reportId) throw new CliError(`job ${values.job} has no report (yet): it is ${job ? JobState[job.state] : 'unknown'}`, 1);
      reportId = job.reportId;
    }
    const report = (await evaluation.getReport({ reportId })).report;
    if (!report) throw new CliError('the server answered without a report', 1);
    if (values.json) {
      printJson(reportJson(report));
      return 0;
    }
    printLine(`report ${report.reportId}: ${report.model?.uri} on ${report.dataset?.spec} (${report.dataset?.size} ${report.dataset?.split} images), ${report.suite} suite at ε=${report.eps}`);
    printLine(`clean accuracy ${report.cleanAccuracy.toFixed(4)}, worst-case robust accuracy ${report.robustAccuracy.toFixed(4)}`);
    printLine(table(['attack', 'robust accuracy', 'seconds'], report.attacks.map((a) => [a.name, a.robustAccuracy.toFixed(4), a.seconds.toFixed(1)])));
    printLine(`report.json: ${report.reportUri}`);
    return 0;
  } catch (error) {
    rpcError(error, values.server);
  }
}
