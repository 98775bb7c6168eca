/**
 * libs/jobs records and events as robustness.v1 messages (JobState, JobProgress, JobError,
 * JobEvent). Event data written by the services' computes (`batch`, `epoch`, `checkpoint`, …) map to
 * the event oneof; numbers that were NaN before JSON (null now) become NaN again.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { JobEvent as JobEventRecord, JobProgress as JobProgressRecord, JobRecord, JobState as JobStateName } from '../jobs/index.js';
import { JobState, type JobEventSchema, type JobProgressSchema } from './gen/robustness/v1/job_pb.js';
import { RequestError } from './errors.js';

const TO_PROTO: Record<JobStateName, JobState> = {
  QUEUED: JobState.QUEUED,
  RUNNING: JobState.RUNNING,
  SUCCEEDED: JobState.SUCCEEDED,
  FAILED: JobState.FAILED,
  CANCELLED: JobState.CANCELLED,
};

export function jobStateToProto(state: JobStateName): JobState {
  return TO_PROTO[state];
}

/** A state filter of a list request: UNSPECIFIED is none; an unknown number is INVALID_ARGUMENT. */
export function jobStateFromProto(state: JobState, field = 'state'): JobStateName | undefined {
  if (state === JobState.UNSPECIFIED) return undefined;
  const found = (Object.entries(TO_PROTO) as [JobStateName, JobState][]).find(([, v]) => v === state);
  if (!found) throw new RequestError('invalid-argument', `${field}: unknown job state ${state}`, { field });
  return found[0];
}

const num = (v: unknown): number => (typeof v === 'number' ? v : v === null ? NaN : 0);
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.round(v)) : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function progressToProto(p: JobProgressRecord): MessageInitShape<typeof JobProgressSchema> {
  return {
    epoch: int(p.epoch),
    epochs: int(p.epochs),
    batch: int(p.batch),
    batches: int(p.batches),
    fraction: num(p.fraction ?? 0),
    imagesPerSecond: num(p.imagesPerSecond ?? 0),
    etaSeconds: num(p.etaSeconds ?? 0),
    phase: str(p.phase),
  };
}

/** The fields every job-like message shares. */
export function jobCommonToProto(job: JobRecord<unknown, object>) {
  return {
    state: jobStateToProto(job.state),
    createTime: timestampFromDate(job.createdAt),
    ...(job.startedAt ? { startTime: timestampFromDate(job.startedAt) } : {}),
    ...(job.endedAt ? { endTime: timestampFromDate(job.endedAt) } : {}),
    progress: progressToProto(job.progress),
    ...(job.error ? { error: { code: job.error.code, message: job.error.message } } : {}),
    lastSequence: BigInt(job.lastSequence),
    cancelRequested: job.cancelRequested,
  };
}

type EventKind = NonNullable<MessageInitShape<typeof JobEventSchema>['kind']>;

function kindOf(e: JobEventRecord): EventKind {
  const d = e.data;
  switch (e.type) {
    case 'state':
      return { case: 'stateChanged', value: { state: jobStateToProto(d.state as JobStateName), message: str(d.message) } };
    case 'restarted':
      return { case: 'stateChanged', value: { state: JobState.RUNNING, message: str(d.message) || 'resumed after a restart' } };
    case 'batch':
      return {
        case: 'batchProgress',
        value: {
          epoch: int(d.epoch),
          epochs: int(d.epochs),
          batch: int(d.batch),
          batches: int(d.batches),
          loss: num(d.loss),
          learningRate: num(d.lr),
          eps: num(d.eps),
          imagesPerSecond: num(d.imagesPerSecond),
          etaSeconds: num(d.etaSeconds),
        },
      };
    case 'epoch':
      return {
        case: 'epochCompleted',
        value: { epoch: int(d.epoch), loss: num(d.loss), cleanAccuracy: num(d.cleanAccuracy), robustAccuracy: num(d.robustAccuracy), imagesPerSecond: num(d.imagesPerSecond) },
      };
    case 'checkpoint':
      return { case: 'checkpointSaved', value: { epoch: int(d.epoch), uri: str(d.uri), best: d.best === true } };
    case 'resumed':
      return { case: 'resumed', value: { epoch: int(d.epoch), uri: str(d.uri) } };
    case 'phase': {
      // A shard worker's phase names its shard (events of sharded jobs carry `shard`).
      const shard = typeof d.shard === 'number' ? `shard ${d.shard}` : '';
      return { case: 'phaseStarted', value: { phase: str(d.phase), message: [shard, str(d.message)].filter(Boolean).join(': ') } };
    }
    case 'shard':
      return {
        case: 'phaseStarted',
        value: {
          phase: 'shard done',
          message: `shard ${int(d.index)} of ${int(d.count)}: ${int(d.n)} images, clean ${num(d.clean_accuracy).toFixed(4)}, robust ${num(d.robust_accuracy).toFixed(4)}${d.reused === true ? ' (found in the store)' : ''}`,
        },
      };
    case 'k8s': {
      // The Kubernetes runner's view of the job's Job: `k8s pending`, `k8s running`, `k8s retrying`.
      const shards = typeof d.completions === 'number' ? `, ${int(d.succeeded)}/${int(d.completions)} shards done` : '';
      const counts = `Job ${str(d.job_name)}: ${int(d.active)} active, ${int(d.ready)} ready, ${int(d.failed)} failed${shards}`;
      return { case: 'phaseStarted', value: { phase: `k8s ${str(d.phase)}`, message: [counts, str(d.message)].filter(Boolean).join('; ') } };
    }
    case 'report':
      return {
        case: 'reportLinked',
        value: { reportId: str(d.reportId), reportUri: str(d.reportUri), cleanAccuracy: num(d.cleanAccuracy), robustAccuracy: num(d.robustAccuracy) },
      };
    case 'warning':
      return { case: 'warning', value: { id: str(d.id), message: str(d.message) } };
    default:
      // `interrupted` and anything newer: shown as a warning with the event type as its id.
      return { case: 'warning', value: { id: e.type, message: str(d.message) } };
  }
}

export function jobEventToProto(e: JobEventRecord): MessageInitShape<typeof JobEventSchema> {
  return { jobId: e.jobId, sequence: BigInt(e.sequence), time: timestampFromDate(e.time), kind: kindOf(e) };
}

/** A sequence number from a request (uint64) as a safe integer; INVALID_ARGUMENT beyond. */
export function sequenceFromProto(value: bigint, field = 'after_sequence'): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RequestError('invalid-argument', `${field}: out of range`, { field });
  return Number(value);
}
