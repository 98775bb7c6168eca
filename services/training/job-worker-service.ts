/**
 * JobWorkerService (proto/robustness/v1/worker.proto): the training service's side of the
 * Kubernetes runner. Worker pods (`harden worker --job <id>`) ask what to compute (StartWork),
 * stream their progress into the job's event stream (ReportProgress) and report their outputs
 * (FinishWork). The job record stays here: a worker only appends events and merges progress and
 * outputs of a RUNNING job it was started for; anything else is FAILED_PRECONDITION.
 */
import type { ServiceImpl } from '@connectrpc/connect';
import type { JobProgress, JobStore } from '../../libs/jobs/index.js';
import { RequestError, resourceId } from '../../libs/rpc/index.js';
import { JobWorkerService } from '../../libs/rpc/gen/robustness/v1/worker_pb.js';
import type { Logger } from '../../libs/telemetry/index.js';

/** Event types a worker may append (what the in-process compute emits). */
export const WORKER_EVENT_TYPES: ReadonlySet<string> = new Set(['batch', 'epoch', 'checkpoint', 'resumed', 'warning', 'phase']);

/** Most events one ReportProgress may carry. */
const MAX_EVENTS = 1000;

export interface JobWorkerServiceOptions {
  jobs: JobStore;
  /** The job kind workers compute (`harden`). */
  kind: string;
  /** The artifact store root the jobs use; workers are told to use it. */
  storeUri: string;
  logger?: Logger;
}

function object(field: string, json: string): Record<string, unknown> {
  if (!json) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new RequestError('invalid-argument', `${field}: not valid JSON`, { field });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RequestError('invalid-argument', `${field}: must be a JSON object`, { field });
  return value as Record<string, unknown>;
}

export function createJobWorkerService(options: JobWorkerServiceOptions): ServiceImpl<typeof JobWorkerService> {
  const { jobs, kind } = options;
  const running = (id: string) => {
    const job = jobs.get(resourceId(id, 'job_id'), kind);
    if (job.state !== 'RUNNING') throw new RequestError('failed-precondition', `job ${job.id} is ${job.state}, not RUNNING`, { field: 'job_id' });
    return job;
  };
  return {
    startWork(req) {
      const job = running(req.jobId);
      if (job.cancelRequested) throw new RequestError('failed-precondition', `job ${job.id} is being cancelled`, { field: 'job_id' });
      jobs.append(job.id, 'phase', { phase: 'training', message: `worker ${req.worker || '(unnamed)'} started` });
      options.logger?.info('worker started', { job_id: job.id, worker: req.worker });
      return { jobId: job.id, kind: job.kind, specJson: JSON.stringify(job.spec), attempt: job.attempts, storeUri: options.storeUri };
    },
    reportProgress(req) {
      const job = jobs.get(resourceId(req.jobId, 'job_id'), kind);
      if (job.state !== 'RUNNING' || job.cancelRequested) return { cancelRequested: true };
      if (req.events.length > MAX_EVENTS) throw new RequestError('invalid-argument', `events: at most ${MAX_EVENTS} per report`, { field: 'events' });
      const events = req.events.map((e, i) => {
        if (!WORKER_EVENT_TYPES.has(e.type)) throw new RequestError('invalid-argument', `events[${i}].type: "${e.type.slice(0, 32)}" is not a worker event (${[...WORKER_EVENT_TYPES].join(', ')})`, { field: 'events' });
        return { type: e.type, data: object(`events[${i}].data_json`, e.dataJson) };
      });
      const progress = object('progress_json', req.progressJson) as JobProgress;
      for (const e of events) jobs.append(job.id, e.type, e.data);
      if (Object.keys(progress).length > 0) jobs.setProgress(job.id, { ...job.progress, ...progress });
      return { cancelRequested: false };
    },
    finishWork(req) {
      const job = running(req.jobId);
      jobs.setOutputs(job.id, object('outputs_json', req.outputsJson));
      return {};
    },
  };
}
