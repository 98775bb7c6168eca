/**
 * HardeningService: `Harden` validates the request and submits a Harden job (libs/jobs, kind
 * `harden`, idempotent per request_id); `GetJob`, `WatchJob` (replay from a sequence number, then
 * follow), `CancelJob` and `ListJobs` read and steer the job store. The job's compute is
 * harden-job.ts.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Client, ServiceImpl } from '@connectrpc/connect';
import type { BackendChoice } from '../../libs/engine/index.js';
import { createJobRunner, watchEvents, type JobRecord, type JobRunner, type JobStore, type WorkerKind } from '../../libs/jobs/index.js';
import { createAdmission, describeFailure, jobCommonToProto, jobEventToProto, jobStateFromProto, REQUEST_AUTH, resourceId, sequenceFromProto, type Admission } from '../../libs/rpc/index.js';
import { HardeningService, type JobSchema } from '../../libs/rpc/gen/robustness/v1/hardening_pb.js';
import type { EvaluationService } from '../../libs/rpc/gen/robustness/v1/evaluation_pb.js';
import { ATTR, rememberTraceContext, traceJobExecutor, type Logger } from '../../libs/telemetry/index.js';
import type { KubernetesRunner } from '../../libs/jobs/kubernetes/index.js';
import { createHardenExecutor, type HardenOutputs } from './harden-job.js';
import { checkJobInputs } from './preflight.js';
import { DEFAULT_HARDEN_LIMITS, hardenSpec, type HardenLimits, type HardenSpec } from './harden-spec.js';

export const HARDEN_KIND = 'harden';

export interface HardeningServiceOptions {
  jobs: JobStore;
  /** Root of the artifact store: jobs write `jobs/<id>/checkpoints/` and `jobs/<id>/model/` there. */
  storeUri: string;
  /** The EvaluationService a finished job asks for its report (created on first use). */
  evaluation: () => Client<typeof EvaluationService>;
  /** Engine backend of the training threads. @default 'auto' */
  backend?: BackendChoice;
  /** Training jobs at once. @default 1 */
  concurrency?: number;
  /** Jobs waiting before RESOURCE_EXHAUSTED. @default 16 */
  queueLimit?: number;
  limits?: Partial<HardenLimits>;
  /** Per-caller queued-job limit. @default createAdmission() */
  admission?: Admission;
  logger?: Logger;
  /** Train each job in a Kubernetes Job (see JobWorkerService) instead of a worker thread here. */
  kubernetes?: KubernetesRunner;
}

export interface HardeningServiceHandle {
  readonly impl: ServiceImpl<typeof HardeningService>;
  readonly runner: JobRunner<HardenSpec>;
  /** What worker pods compute, when jobs train on Kubernetes (served by the server's JobWorkerService). */
  readonly workerKind: WorkerKind | undefined;
}

type HardenJob = JobRecord<HardenSpec, Partial<HardenOutputs>>;

/** Event types a training worker may append (what the in-process compute emits). */
const WORKER_EVENT_TYPES: ReadonlySet<string> = new Set(['batch', 'epoch', 'checkpoint', 'resumed', 'warning', 'phase']);

export function jobToProto(job: HardenJob): MessageInitShape<typeof JobSchema> {
  const s = job.spec;
  const o = job.outputs;
  return {
    jobId: job.id,
    ...jobCommonToProto(job),
    request: {
      requestId: job.requestId ?? '',
      model: s.modelUri ? { case: 'modelUri', value: s.modelUri } : { case: 'arch', value: s.arch ?? '' },
      method: s.method,
      dataset: s.dataset,
      limit: s.limit,
      epochs: s.epochs,
      batchSize: s.batchSize,
      learningRate: s.lr,
      eps: s.eps,
      steps: s.steps,
      seed: s.seed,
      guidanceArch: s.guidanceArch ?? '',
      evalSize: s.evalSize,
      evaluation: s.evaluation,
    },
    modelUri: o.modelUri ?? '',
    checkpointsUri: o.checkpointsUri ?? '',
    reportId: o.reportId ?? '',
    reportUri: o.reportUri ?? '',
    cleanAccuracy: o.cleanAccuracy ?? 0,
    robustAccuracy: o.robustAccuracy ?? 0,
    evaluationId: o.evaluationId ?? '',
  };
}

export function createHardeningService(options: HardeningServiceOptions): HardeningServiceHandle {
  const { jobs } = options;
  const limits = { ...DEFAULT_HARDEN_LIMITS, ...options.limits };
  const runner = createJobRunner<HardenSpec>({
    store: jobs,
    kind: HARDEN_KIND,
    execute: traceJobExecutor(createHardenExecutor({
      storeUri: options.storeUri,
      backend: options.backend ?? 'auto',
      evaluation: options.evaluation,
      ...(options.kubernetes ? { kubernetes: { runner: options.kubernetes, store: jobs } } : {}),
    }), (ctx) => ({
      [ATTR.METHOD]: ctx.job.spec.method,
      [ATTR.EPS]: ctx.job.spec.eps,
      [ATTR.DATASET]: ctx.job.spec.dataset,
      [ATTR.ARCH]: ctx.job.spec.arch,
      [ATTR.MODEL_URI]: ctx.job.spec.modelUri,
      [ATTR.BACKEND]: options.backend ?? 'auto',
      [ATTR.RUNNER]: options.kubernetes ? 'kubernetes' : 'in-process',
    })),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.queueLimit !== undefined ? { queueLimit: options.queueLimit } : {}),
    describeFailure,
    onError: (job, error) => options.logger?.error('harden job failed', { job_id: job.id, error }),
  });
  const admission = options.admission ?? createAdmission();
  const get = (id: string) => jobs.get<HardenSpec>(resourceId(id, 'job_id'), HARDEN_KIND) as HardenJob;

  return {
    runner,
    workerKind: options.kubernetes ? { kind: HARDEN_KIND, phase: 'training', events: WORKER_EVENT_TYPES } : undefined,
    impl: {
      async harden(req, context) {
        const { spec, requestId } = await hardenSpec(req, limits);
        await checkJobInputs({ dataset: spec.dataset, split: 'train', modelUri: spec.modelUri, classes: 'equal' });
        const caller = context.values.get(REQUEST_AUTH).caller?.id ?? 'anonymous';
        const { job, created } = runner.submit({ spec, requestId, owner: caller, admitOwner: (queued) => admission.admitJob(caller, queued) });
        if (created) rememberTraceContext(jobs, job.id);
        return { job: jobToProto(job as HardenJob) };
      },
      getJob(req) {
        return { job: jobToProto(get(req.jobId)) };
      },
      async *watchJob(req, context) {
        const id = get(req.jobId).id;
        const after = sequenceFromProto(req.afterSequence);
        for await (const event of watchEvents(jobs, id, { after, signal: context.signal })) yield { event: jobEventToProto(event) };
      },
      cancelJob(req) {
        return { job: jobToProto(runner.cancel(get(req.jobId).id) as HardenJob) };
      },
      listJobs(req) {
        const page = jobs.list<HardenSpec>({ kind: HARDEN_KIND, state: jobStateFromProto(req.state), pageSize: req.pageSize, pageToken: req.pageToken });
        return { jobs: page.jobs.map((j) => jobToProto(j as HardenJob)), nextPageToken: page.nextPageToken };
      },
    },
  };
}
