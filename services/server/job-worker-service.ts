/**
 * JobWorkerService (proto/robustness/v1/worker.proto): the owning service's side of the Kubernetes
 * runner. Worker pods (`harden worker --job <id>`) ask what to compute (StartWork), stream their
 * progress into the job's event stream (ReportProgress) and report their outputs (FinishWork).
 *
 * One server serves the workers of every job kind it dispatches to Kubernetes (`WorkerKind`s:
 * training's `harden`, the evaluation service's sharded `evaluate`). The job record stays here: a
 * worker only appends events and merges progress and outputs of a RUNNING job of a served kind;
 * anything else is FAILED_PRECONDITION (not RUNNING) or NOT_FOUND (no such job here).
 *
 * Sharded kinds: every call names the worker's shard. StartWork answers the shard count; progress
 * fractions are per shard and the job shows their mean; FinishWork records a `shard` event (the
 * owning service merges the shards' results when the whole Indexed Job has completed).
 */
import type { ServiceImpl } from '@connectrpc/connect';
import type { JobProgress, JobRecord, JobStore, WorkerKind } from '../../libs/jobs/index.js';
import { jsonObjectField, RequestError, resourceId } from '../../libs/rpc/index.js';
import { JobWorkerService } from '../../libs/rpc/gen/robustness/v1/worker_pb.js';
import type { Logger } from '../../libs/telemetry/index.js';

/** Most events one ReportProgress may carry. */
const MAX_EVENTS = 1000;

export interface JobWorkerServiceOptions {
  jobs: JobStore;
  kinds: readonly WorkerKind[];
  /** The artifact store root the jobs use; workers are told to use it. */
  storeUri: string;
  logger?: Logger;
}

export function createJobWorkerService(options: JobWorkerServiceOptions): ServiceImpl<typeof JobWorkerService> {
  const { jobs } = options;
  const kinds = new Map(options.kinds.map((k) => [k.kind, k]));
  /** Sharded jobs: each shard's last reported fraction. */
  const fractions = new Map<string, Float64Array>();

  const find = (id: string) => {
    const job = jobs.get(resourceId(id, 'job_id'));
    const kind = kinds.get(job.kind);
    // A job of a kind this server does not dispatch to workers is not one a worker can find here.
    if (!kind) throw new RequestError('not-found', `no ${[...kinds.keys()].join(' or ')} job ${job.id}`, { field: 'job_id' });
    return { job, kind };
  };
  const running = (id: string) => {
    const found = find(id);
    if (found.job.state !== 'RUNNING') throw new RequestError('failed-precondition', `job ${found.job.id} is ${found.job.state}, not RUNNING`, { field: 'job_id' });
    return found;
  };
  /** The worker's shard: required and in range for sharded kinds, absent for the others. */
  const shardOf = (job: JobRecord, kind: WorkerKind, index: number | undefined) => {
    if (!kind.shards) {
      if (index !== undefined) throw new RequestError('invalid-argument', `shard_index: job ${job.id} (${job.kind}) is not sharded`, { field: 'shard_index' });
      return undefined;
    }
    const count = kind.shards(job);
    if (index === undefined) throw new RequestError('invalid-argument', `shard_index: job ${job.id} runs in ${count} shards; say which one (JOB_COMPLETION_INDEX)`, { field: 'shard_index' });
    if (index >= count) throw new RequestError('invalid-argument', `shard_index: ${index} is out of range; job ${job.id} has ${count} shards (0 to ${count - 1})`, { field: 'shard_index' });
    return { index, count };
  };

  return {
    startWork(req) {
      const { job, kind } = running(req.jobId);
      if (job.cancelRequested) throw new RequestError('failed-precondition', `job ${job.id} is being cancelled`, { field: 'job_id' });
      const shard = shardOf(job, kind, req.shardIndex);
      const who = `worker ${req.worker || '(unnamed)'}${shard ? ` (shard ${shard.index + 1} of ${shard.count})` : ''}`;
      jobs.append(job.id, 'phase', { phase: kind.phase, message: `${who} started` });
      options.logger?.info('worker started', { job_id: job.id, worker: req.worker, ...(shard ? { shard: shard.index } : {}) });
      return { jobId: job.id, kind: job.kind, specJson: JSON.stringify(job.spec), attempt: job.attempts, storeUri: options.storeUri, ...(shard ? { shard } : {}) };
    },
    reportProgress(req) {
      const { job, kind } = find(req.jobId);
      if (job.state !== 'RUNNING' || job.cancelRequested) {
        fractions.delete(job.id);
        return { cancelRequested: true };
      }
      const shard = shardOf(job, kind, req.shardIndex);
      if (req.events.length > MAX_EVENTS) throw new RequestError('invalid-argument', `events: at most ${MAX_EVENTS} per report`, { field: 'events' });
      const events = req.events.map((e, i) => {
        if (!kind.events.has(e.type)) throw new RequestError('invalid-argument', `events[${i}].type: "${e.type.slice(0, 32)}" is not a ${job.kind} worker event (${[...kind.events].join(', ')})`, { field: 'events' });
        return { type: e.type, data: { ...jsonObjectField(`events[${i}].data_json`, e.dataJson), ...(shard ? { shard: shard.index } : {}) } };
      });
      const progress = jsonObjectField('progress_json', req.progressJson) as JobProgress;
      if (shard && typeof progress.fraction === 'number') {
        let all = fractions.get(job.id);
        if (!all || all.length !== shard.count) {
          // A new job: forget those that have ended (their last reports came before they ended).
          for (const id of fractions.keys()) {
            let ended = true;
            try {
              ended = jobs.get(id).state !== 'RUNNING';
            } catch {
              // gone from the store: forget it too
            }
            if (ended) fractions.delete(id);
          }
          fractions.set(job.id, (all = new Float64Array(shard.count)));
        }
        all[shard.index] = Math.min(1, Math.max(0, progress.fraction));
        progress.fraction = all.reduce((a, b) => a + b, 0) / shard.count;
      }
      for (const e of events) jobs.append(job.id, e.type, e.data);
      if (Object.keys(progress).length > 0) jobs.setProgress(job.id, { ...job.progress, ...progress });
      return { cancelRequested: false };
    },
    finishWork(req) {
      const { job, kind } = running(req.jobId);
      const shard = shardOf(job, kind, req.shardIndex);
      const outputs = jsonObjectField('outputs_json', req.outputsJson);
      if (shard) jobs.append(job.id, 'shard', { ...outputs, index: shard.index, count: shard.count });
      else jobs.setOutputs(job.id, outputs);
      return {};
    },
  };
}
