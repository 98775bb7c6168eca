/**
 * EvaluationService: `Evaluate` validates the request and starts an evaluation job (libs/jobs,
 * kind `evaluate`), whose compute runs the suite in a worker thread, writes report.json (+
 * report.html) to the store and indexes the report; `GetReport` / `ListReports` answer from the
 * index; `GetEvaluation` / `WatchEvaluation` / `CancelEvaluation` follow the job. A report's id is
 * its evaluation's id.
 *
 * With `kubernetes` (HARDEN_RUNNER=kubernetes and HARDEN_EVAL_SHARDS > 0) each evaluation runs as
 * an Indexed Job instead: pod i evaluates slice i of the test set (`harden worker`, reporting here
 * through JobWorkerService) and writes its per-sample results to the store; once the Job has
 * completed, this service merges the slices into the report (libs/evaluation `assembleReport`),
 * exactly the report one process would have written. The shard count is fixed per evaluation when
 * it starts (output `shards`), so a restarted service follows the same Job.
 */
import type { ServiceImpl } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { BackendChoice } from '../../libs/engine/index.js';
import {
  createEvaluationTelemetry,
  EVALUATE_TASK,
  publishShardedReport,
  relayEvaluation,
  type EvaluateTaskPayload,
  type EvaluateTaskResult,
  type EvaluationEvent,
  type PublishedReport,
} from '../../libs/evaluation/index.js';
import {
  createJobRunner,
  runWorkerTask,
  watchEvents,
  type JobContext,
  type JobRecord,
  type JobRunner,
  type JobStore,
  type ReportIndex,
  type WorkerKind,
} from '../../libs/jobs/index.js';
import { runOnKubernetes, type KubernetesRunner } from '../../libs/jobs/kubernetes/index.js';
import { createAdmission, describeFailure, jobCommonToProto, jobEventToProto, REQUEST_AUTH, RequestError, resourceId, sequenceFromProto, type Admission } from '../../libs/rpc/index.js';
import { EvaluationService, type EvaluationSchema } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { ATTR, rememberTraceContext, traceContextCarrier, traceJobExecutor, type Logger } from '../../libs/telemetry/index.js';
import { DEFAULT_EVALUATE_LIMITS, evaluateSpec, type EvaluateLimits, type EvaluateSpec } from './evaluate-spec.js';
import { reportToProto, type ReportSummary } from './report-message.js';
import { checkJobInputs } from '../training/preflight.js';

export const EVALUATE_KIND = 'evaluate';
/** Event types a shard worker may append. */
const WORKER_EVENT_TYPES: ReadonlySet<string> = new Set(['phase', 'warning']);

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
  /** Per-caller queued-job limit. @default createAdmission() */
  admission?: Admission;
  logger?: Logger;
  /** Run each evaluation as an Indexed Kubernetes Job of `shards` pods (at most one per sample). */
  kubernetes?: { runner: KubernetesRunner; shards: number };
}

export interface EvaluationServiceHandle {
  readonly impl: ServiceImpl<typeof EvaluationService>;
  readonly runner: JobRunner<EvaluateSpec>;
  /** What shard worker pods compute, when evaluations run on Kubernetes (served by the server's JobWorkerService). */
  readonly workerKind: WorkerKind | undefined;
}

interface EvaluateOutputs extends Record<string, unknown> {
  reportId: string;
  reportUri: string;
  /** Sharded evaluations: the number of shards. */
  shards?: number;
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

  const k8s = options.kubernetes;
  if (k8s && !(Number.isSafeInteger(k8s.shards) && k8s.shards >= 1)) throw new RangeError(`kubernetes.shards must be a positive integer; got ${k8s.shards}`);
  /** A job's shard count: fixed when it first starts (a restart keeps it), at most one shard per sample. */
  const shardCount = (job: JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>) => job.outputs.shards ?? Math.min(k8s!.shards, job.spec.limit);

  const evaluateInProcess = async (ctx: JobContext<EvaluateSpec>): Promise<PublishedReport> => {
    const spec = ctx.job.spec;
    const telemetry = createEvaluationTelemetry({ [ATTR.MODEL_URI]: spec.modelUri, [ATTR.EPS]: spec.eps, [ATTR.SUITE]: spec.suite, [ATTR.DATASET]: spec.dataset, [ATTR.BACKEND]: options.backend ?? 'auto' });
    return runWorkerTask<EvaluateTaskPayload, EvaluateTaskResult>({
      ...EVALUATE_TASK,
      payload: { storeUri: options.storeUri, reportId: ctx.job.id, spec, backend: options.backend ?? 'auto', traceContext: traceContextCarrier() },
      signal: ctx.signal,
      onEvent: (event) => {
        const e = event as EvaluationEvent;
        telemetry.onProgress(e);
        relayEvaluation(ctx, e);
      },
    }).finally(() => telemetry.end());
  };

  const evaluateOnKubernetes = async (ctx: JobContext<EvaluateSpec>, runner: KubernetesRunner): Promise<PublishedReport> => {
    const job = ctx.job as JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>;
    const count = shardCount(job);
    if (job.outputs.shards === undefined) ctx.setOutputs({ shards: count });
    ctx.emit('phase', { phase: 'evaluating', message: `${count} shard(s) in Kubernetes Job ${runner.jobName(job.id)}` });
    await runOnKubernetes(ctx, { runner, store: jobs, shards: count });
    ctx.emit('phase', { phase: 'merging', message: `merging ${count} shard(s) into the report` });
    const seconds = (Date.now() - (job.startedAt ?? job.createdAt).getTime()) / 1000;
    return publishShardedReport(options.storeUri, job.id, count, job.spec, seconds);
  };

  const execute = async (ctx: JobContext<EvaluateSpec>): Promise<EvaluateOutputs> => {
    const reportId = ctx.job.id;
    ctx.emit('phase', { phase: 'evaluating', message: `${ctx.job.spec.suite} suite on ${ctx.job.spec.limit} ${ctx.job.spec.split} images of ${ctx.job.spec.dataset}` });
    ctx.progress({ phase: 'evaluating', fraction: 0 });
    const result = k8s ? await evaluateOnKubernetes(ctx, k8s.runner) : await evaluateInProcess(ctx);
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

  const admission = options.admission ?? createAdmission();
  const get = (id: string) => {
    const evaluationId = resourceId(id, 'evaluation_id');
    try {
      return jobs.get<EvaluateSpec>(evaluationId, EVALUATE_KIND) as JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>;
    } catch (error) {
      // The job store speaks of jobs; callers of these RPCs named an evaluation.
      if ((error as { name?: string; code?: string }).name === 'JobError' && (error as { code?: string }).code === 'not-found') {
        throw new RequestError('not-found', `evaluation_id: no evaluation "${evaluationId}"`, { field: 'evaluation_id', cause: error });
      }
      throw error;
    }
  };

  return {
    runner,
    workerKind: k8s ? { kind: EVALUATE_KIND, phase: 'evaluating', events: WORKER_EVENT_TYPES, shards: (job) => shardCount(job as JobRecord<EvaluateSpec, Partial<EvaluateOutputs>>) } : undefined,
    impl: {
      async evaluate(req, context) {
        const { spec, requestId } = await evaluateSpec(req, limits);
        await checkJobInputs({ dataset: spec.dataset, split: 'test', modelUri: spec.modelUri, classes: 'at-least' });
        const caller = context.values.get(REQUEST_AUTH).caller?.id ?? 'anonymous';
        const { job, created } = runner.submit({ spec, requestId, owner: caller, admitOwner: (queued) => admission.admitJob(caller, queued) });
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
