/**
 * EvaluationService: `Evaluate` validates the request and starts an evaluation job (libs/jobs,
 * kind `evaluate`), whose compute runs the suite in a worker thread, writes report.json (+
 * report.html) to the store and indexes the report; `GetReport` / `ListReports` answer from the
 * index; `GetEvaluation` / `WatchEvaluation` / `CancelEvaluation` follow the job. A report's id is
 * its evaluation's id.
 */
import type { ServiceImpl } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BackendChoice } from '../../libs/engine/index.js';
import type { EvaluationEvent } from '../../libs/evaluation/index.js';
import {
  createJobRunner,
  runWorkerTask,
  watchEvents,
  type JobContext,
  type JobRecord,
  type JobRunner,
  type JobStore,
  type ReportIndex,
} from '../../libs/jobs/index.js';
import { describeFailure, jobCommonToProto, jobEventToProto, resourceId, sequenceFromProto } from '../../libs/rpc/index.js';
import { EvaluationService, type EvaluationSchema } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { ATTR, createEvaluationTelemetry, rememberTraceContext, traceContextCarrier, traceJobExecutor, type Logger } from '../../libs/telemetry/index.js';
import { DEFAULT_EVALUATE_LIMITS, evaluateSpec, type EvaluateLimits, type EvaluateSpec } from './evaluate-spec.js';
import type { EvaluateTaskPayload, EvaluateTaskResult } from './evaluate-task.js';
import { reportToProto, type ReportSummary } from './report-message.js';

export const EVALUATE_KIND = 'evaluate';
const TASK_MODULE = new URL('./evaluate-task.js', import.meta.url).href;

export interface EvaluationServiceOptions {
  jobs: JobStore;
  reports: ReportIndex;
  /** Root of the artifact store reports are written to. */
  storeUri: string;
  /** Engine backend of the evaluation threads. @default 'auto' */
  backend?: BackendChoice;
  /** Evaluations at once. @default 1 */
  concurrency?: number;
  /** Evaluations waiting before RESOURCE_EXHAUSTED. @default 16 */
  queueLimit?: number;
  limits?: Partial<EvaluateLimits>;
  logger?: Logger;
}

export interface EvaluationServiceHandle {
  readonly impl: ServiceImpl<typeof EvaluationService>;
  readonly runner: JobRunner<EvaluateSpec>;
}

interface EvaluateOutputs extends Record<string, unknown> {
  reportId: string;
  reportUri: string;
}

function evaluationToProto(job: JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>): MessageInitShape<typeof EvaluationSchema> {
  const s = job.spec;
  const o = job.outputs;
  return {
    evaluationId: job.id,
    ...jobCommonToProto(job),
    request: {
      requestId: job.requestId ?? '',
      modelUri: s.modelUri,
      dataset: s.dataset,
      split: s.split,
      limit: s.limit,
      suite: s.suite,
      eps: s.eps,
      seed: s.seed,
      ...(s.training ? { training: s.training } : {}),
    },
    reportId: o.reportId ?? '',
    reportUri: o.reportUri ?? '',
  };
}

export function createEvaluationService(options: EvaluationServiceOptions): EvaluationServiceHandle {
  const { jobs, reports } = options;
  const limits = { ...DEFAULT_EVALUATE_LIMITS, ...options.limits };
  const logger = options.logger;

  const execute = async (ctx: JobContext<EvaluateSpec>): Promise<EvaluateOutputs> => {
    const reportId = ctx.job.id;
    ctx.emit('phase', { phase: 'evaluating', message: `${ctx.job.spec.suite} suite on ${ctx.job.spec.limit} ${ctx.job.spec.split} images of ${ctx.job.spec.dataset}` });
    ctx.progress({ phase: 'evaluating', fraction: 0 });
    const spec = ctx.job.spec;
    const telemetry = createEvaluationTelemetry({ [ATTR.MODEL_URI]: spec.modelUri, [ATTR.EPS]: spec.eps, [ATTR.SUITE]: spec.suite, [ATTR.DATASET]: spec.dataset, [ATTR.BACKEND]: options.backend ?? 'auto' });
    const result = await runWorkerTask<EvaluateTaskPayload, EvaluateTaskResult>({
      module: TASK_MODULE,
      fn: 'runEvaluation',
      payload: { storeUri: options.storeUri, reportId, spec: ctx.job.spec, backend: options.backend ?? 'auto', traceContext: traceContextCarrier() },
      signal: ctx.signal,
      onEvent: (event) => {
        const e = event as EvaluationEvent;
        telemetry.onProgress(e);
        if (e.type === 'attack-start') {
          ctx.emit('phase', { phase: `attack ${e.name}`, message: `${e.index + 1}/${e.total}` });
          ctx.progress({ phase: `attack ${e.name}`, fraction: e.index / e.total });
        } else if (e.type === 'attack-done') {
          ctx.progress({ fraction: (e.index + 1) / e.total });
        }
      },
    }).finally(() => telemetry.end());
    const s = result.summary;
    reports.add<ReportSummary>({
      id: reportId,
      modelUri: s.model.uri,
      uri: result.reportUri,
      createdAt: new Date(s.created_at),
      evaluationId: ctx.job.id,
      jobId: ctx.job.spec.training?.jobId || null,
      cleanAccuracy: s.clean_accuracy,
      robustAccuracy: s.robust_accuracy,
      summary: s,
    });
    ctx.emit('report', { reportId, reportUri: result.reportUri, cleanAccuracy: s.clean_accuracy, robustAccuracy: s.robust_accuracy });
    return { reportId, reportUri: result.reportUri };
  };

  const runner = createJobRunner<EvaluateSpec>({
    store: jobs,
    kind: EVALUATE_KIND,
    execute: traceJobExecutor(execute, (ctx) => ({ [ATTR.MODEL_URI]: ctx.job.spec.modelUri, [ATTR.EPS]: ctx.job.spec.eps, [ATTR.SUITE]: ctx.job.spec.suite, [ATTR.DATASET]: ctx.job.spec.dataset })),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
    describeFailure,
    onError: (job, error) => logger?.error('evaluation failed', { job_id: job.id, error }),
  });

  const get = (id: string) => jobs.get<EvaluateSpec>(resourceId(id, 'evaluation_id'), EVALUATE_KIND) as JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>;

  return {
    runner,
    impl: {
      async evaluate(req) {
        const { spec, requestId } = await evaluateSpec(req, limits);
        const { job, created } = runner.submit({ spec, requestId });
        if (created) rememberTraceContext(jobs, job.id);
        return { evaluation: evaluationToProto(job as JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>) };
      },
      getEvaluation(req) {
        return { evaluation: evaluationToProto(get(req.evaluationId)) };
      },
      async *watchEvaluation(req, context) {
        const id = get(req.evaluationId).id;
        const after = sequenceFromProto(req.afterSequence);
        for await (const event of watchEvents(jobs, id, { after, signal: context.signal })) yield { event: jobEventToProto(event) };
      },
      cancelEvaluation(req) {
        const id = get(req.evaluationId).id;
        return { evaluation: evaluationToProto(runner.cancel(id) as JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>) };
      },
      getReport(req) {
        return { report: reportToProto(reports.get<ReportSummary>(resourceId(req.reportId, 'report_id'))) };
      },
      listReports(req) {
        const page = reports.list<ReportSummary>({ modelUri: req.modelUri || undefined, pageSize: req.pageSize, pageToken: req.pageToken });
        return { reports: page.reports.map(reportToProto), nextPageToken: page.nextPageToken };
      },
    },
  };
}
