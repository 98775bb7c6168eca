/**
 * The evaluation's compute, in its own worker thread (libs/jobs `runWorkerTask`): load the model and
 * the data, run the suite (libs/evaluation), write `reports/<id>/report.json` and `report.html` to
 * the artifact store. Progress goes back as libs/evaluation `EvaluationEvent`s.
 */
import { initEngine, type BackendChoice } from '../../libs/engine/index.js';
import { loadDataset } from '../../libs/data/index.js';
import { loadModelFromUri } from '../../libs/models/index.js';
import { openStore } from '../../libs/storage/index.js';
import { evaluateRobustness, writeReport, writeReportHtml, type RobustnessReport } from '../../libs/evaluation/index.js';
import type { TaskContext } from '../../libs/jobs/index.js';
import { ATTR, traceStore, withTaskSpan } from '../../libs/telemetry/index.js';
import type { EvaluateSpec } from './evaluate-spec.js';

export interface EvaluateTaskPayload {
  storeUri: string;
  reportId: string;
  spec: EvaluateSpec;
  backend: BackendChoice;
  /** The caller's trace context: the evaluation and its report writes join the job's trace. */
  traceContext?: Record<string, string>;
}

export interface EvaluateTaskResult {
  reportUri: string;
  /** The report without its example images. */
  summary: Omit<RobustnessReport, 'examples'>;
}

/** Where a report lives in the store. */
export function reportFolder(reportId: string): string {
  return `reports/${reportId}`;
}

export function runEvaluation(p: EvaluateTaskPayload, ctx: TaskContext): Promise<EvaluateTaskResult> {
  return withTaskSpan('harden.evaluate', { [ATTR.MODEL_URI]: p.spec.modelUri, [ATTR.SUITE]: p.spec.suite, [ATTR.BACKEND]: p.backend }, p.traceContext, () => evaluate_(p, ctx));
}

async function evaluate_(p: EvaluateTaskPayload, ctx: TaskContext): Promise<EvaluateTaskResult> {
  await initEngine(p.backend);
  const s = p.spec;
  const model = await loadModelFromUri(s.modelUri);
  try {
    const data = await loadDataset(s.dataset, { split: s.split, limit: s.limit });
    const report = await evaluateRobustness({
      model,
      modelUri: s.modelUri,
      data,
      datasetSpec: s.dataset,
      suite: s.suite,
      eps: s.eps,
      seed: s.seed,
      id: p.reportId,
      signal: ctx.signal,
      onProgress: (e) => ctx.emit(e),
    });
    if (s.training) {
      report.training = {
        job_id: s.training.jobId,
        method: s.training.method,
        history: s.training.history.map((h) => ({ epoch: h.epoch, loss: h.loss, clean_accuracy: h.cleanAccuracy, robust_accuracy: h.robustAccuracy })),
      };
    }
    const folder = traceStore(openStore(p.storeUri)).child(reportFolder(p.reportId));
    // report.html first: report.json is what readers look for, so it goes last.
    await writeReportHtml(folder, report);
    const reportUri = await writeReport(folder, report);
    const { examples: _examples, ...summary } = report;
    return { reportUri, summary };
  } finally {
    model.dispose();
  }
}
