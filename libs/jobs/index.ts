/**
 * libs/jobs — long-running jobs that survive restarts: records and progress events in SQLite (WAL),
 * an in-process runner with a concurrency limit and a bounded queue, dedicated worker threads for a
 * job's compute, and the report index. See README.md.
 *
 * Entry points: `createJobStore({ path })`, `createJobRunner({ store, kind, execute })`,
 * `runWorkerTask({ module, fn, payload, signal, onEvent })`, `createReportIndex({ path })`.
 */
export { JobError, JobFailure, type JobErrorCode } from './errors.js';
export { FINAL_STATES, isFinal, JOB_STATES, TRANSITIONS, type JobEvent, type JobProgress, type JobRecord, type JobState, type WorkerKind } from './types.js';
export {
  checkId,
  createJobStore,
  type CreateJobInput,
  type EventListener,
  type JobStore,
  type JobStoreOptions,
  type ListJobsInput,
  type TransitionInput,
} from './job-store.js';
export {
  CancelReason,
  createJobRunner,
  ShutdownReason,
  type JobContext,
  type JobExecutor,
  type JobRunner,
  type JobRunnerOptions,
  type RunnerState,
  type ShutdownOptions,
  type SubmitInput,
} from './runner.js';
export { RemoteError } from '../engine/thread-error.js';
export { runWorkerTask, type TaskContext, type WorkerTaskFn, type WorkerTaskOptions } from './worker-task.js';
export { createReportIndex, type ReportEntry, type ReportIndex } from './report-index.js';
export { decodePageToken, encodePageToken, pageSize } from './page-token.js';
export { watchEvents, type WatchOptions } from './watch.js';
