/**
 * The in-process job runner: executes the jobs of one kind from a `JobStore`, at most
 * `concurrency` at a time, with at most `queueLimit` waiting (`resource-exhausted` beyond).
 *
 * Lifecycle (`RunnerState`):
 *
 * - `INITIALIZED`: created; submissions are stored and wait.
 * - `RUNNING` (after `start()`): first resumes the jobs a previous process left RUNNING (their
 *   `JobContext.resumed` is true, so the compute continues from its latest checkpoint), then starts
 *   QUEUED jobs oldest first as slots free up.
 * - `DRAINING` (during `shutdown()`): takes no new jobs (`unavailable`); every running job's signal
 *   aborts with a `ShutdownReason`, and the runner waits up to `graceMs` for them to stop. A job
 *   interrupted this way stays RUNNING in the store and resumes at the next start.
 * - `STOPPED`.
 *
 * A job's compute is the `execute` function: it gets a `JobContext` (the record, an `AbortSignal`,
 * `emit` for progress events) and returns outputs merged into the record on SUCCEEDED. A throw
 * fails the job with `describeFailure(error)` as its error (never a stack trace). A job whose
 * cancel was requested ends CANCELLED, whatever its compute returned.
 */
import { JobError, JobFailure } from './errors.js';
import type { JobStore } from './job-store.js';
import { isFinal, type JobProgress, type JobRecord } from './types.js';

export type RunnerState = 'INITIALIZED' | 'RUNNING' | 'DRAINING' | 'STOPPED';

/** The abort reason of a job stopped by a cancel request. */
export class CancelReason extends Error {
  constructor(jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = 'CancelReason';
  }
}

/** The abort reason of a job stopped because its runner shuts down (it resumes at the next start). */
export class ShutdownReason extends Error {
  constructor() {
    super('the server is shutting down; the job resumes from its latest checkpoint when it starts again');
    this.name = 'ShutdownReason';
  }
}

export interface JobContext<Spec> {
  /** The record when this attempt started. */
  readonly job: JobRecord<Spec>;
  /** Aborts on cancel (`CancelReason`) or shutdown (`ShutdownReason`). */
  readonly signal: AbortSignal;
  /** This attempt continues a job a previous process was running: resume from checkpoints. */
  readonly resumed: boolean;
  /** Appends a progress event to the job's stream. */
  emit(type: string, data: Record<string, unknown>): void;
  /** Merges into the job's progress. */
  progress(progress: JobProgress): void;
  /** Merges into the job's outputs now (visible before the job ends). */
  setOutputs(outputs: Record<string, unknown>): void;
}

export type JobExecutor<Spec> = (context: JobContext<Spec>) => Promise<Record<string, unknown> | void>;

export interface JobRunnerOptions<Spec> {
  store: JobStore;
  /** The kind of job this runner executes (and `submit` creates). */
  kind: string;
  execute: JobExecutor<Spec>;
  /** Jobs executed at once. @default 1 */
  concurrency?: number;
  /** Jobs that may wait for a slot; one more is refused with `resource-exhausted`. @default 16 */
  queueLimit?: number;
  /** The `{ code, message }` a failed job shows its owner. @default a `JobFailure` keeps its code and message; anything else is `internal` */
  describeFailure?: (error: unknown) => { code: string; message: string };
  /** Told about every failure with the original error (for the logs), and about store errors after shutdown. */
  onError?: (job: JobRecord, error: unknown) => void;
}

export interface SubmitInput<Spec> {
  spec: Spec;
  requestId?: string | undefined;
  id?: string;
  /** Who asks (a caller id), stored with the job. */
  owner?: string;
  /** Checks `owner`'s QUEUED jobs of this kind, in the creating transaction; throw to refuse. */
  admitOwner?: (queued: number) => void;
}

export interface ShutdownOptions {
  /** How long running jobs get to stop (checkpoint) after their signal aborts. @default 30000 */
  graceMs?: number;
}

export interface JobRunner<Spec> {
  readonly kind: string;
  readonly state: RunnerState;
  /** Jobs executing now. */
  readonly active: number;
  start(): void;
  /** Stores a QUEUED job (or returns the one `requestId` already made) and starts it when a slot is free. */
  submit(input: SubmitInput<Spec>): { job: JobRecord<Spec>; created: boolean };
  /**
   * QUEUED → CANCELLED at once; RUNNING → marked, its signal aborted, CANCELLED when its compute
   * stops. Cancelling a CANCELLED job returns it; a SUCCEEDED or FAILED one is `failed-precondition`.
   */
  cancel(id: string): JobRecord<Spec>;
  /** Stops taking jobs, aborts the running ones, waits for them up to `graceMs`. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** Resolves when no job executes (for tests and benchmarks). */
  idle(): Promise<void>;
}

function defaultDescribeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof JobFailure) return { code: error.code, message: error.message };
  return { code: 'internal', message: 'the job failed with an internal error' };
}

function positiveInt(field: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) throw new JobError('invalid-argument', `${field}: must be an integer ≥ ${min}; got ${v}`, { field });
  return v;
}

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export function createJobRunner<Spec>(options: JobRunnerOptions<Spec>): JobRunner<Spec> {
  const { store, kind, execute } = options;
  const concurrency = positiveInt('concurrency', options.concurrency, 1, 1);
  const queueLimit = positiveInt('queueLimit', options.queueLimit, 16, 0);
  const describeFailure = options.describeFailure ?? defaultDescribeFailure;
  const onError = options.onError ?? (() => {});
  let state: RunnerState = 'INITIALIZED';
  const running = new Map<string, Running>();
  let idleWaiters: Array<() => void> = [];

  function settleIdle(): void {
    if (running.size > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  }

  function finish(job: JobRecord<Spec>, controller: AbortController, outcome: { ok: true; outputs: Record<string, unknown> } | { ok: false; error: unknown }): void {
    const id = job.id;
    const current = store.find<Spec>(id);
    if (!current || isFinal(current.state)) return;
    if (current.cancelRequested) {
      store.transition(id, 'CANCELLED', { message: 'cancelled on request; the compute has stopped', ...(outcome.ok ? { outputs: outcome.outputs } : {}) });
      return;
    }
    if (outcome.ok) {
      store.transition(id, 'SUCCEEDED', { outputs: outcome.outputs });
      return;
    }
    if (controller.signal.reason instanceof ShutdownReason) {
      // Left RUNNING on purpose: the next start resumes it from its latest checkpoint.
      store.append(id, 'interrupted', { message: controller.signal.reason.message });
      return;
    }
    onError(current, outcome.error);
    store.transition(id, 'FAILED', { error: describeFailure(outcome.error) });
  }

  function launch(job: JobRecord<Spec>, resumed: boolean): void {
    const controller = new AbortController();
    const record = resumed ? job : (store.transition(job.id, 'RUNNING') as JobRecord<Spec>);
    const started = store.markStarted(job.id) as JobRecord<Spec>;
    if (resumed) store.append(job.id, 'restarted', { attempt: started.attempts, message: 'resumed after a restart' });
    let progress: JobProgress = { ...record.progress };
    const context: JobContext<Spec> = {
      job: started,
      signal: controller.signal,
      resumed,
      emit: (type, data) => {
        if (running.has(job.id)) store.append(job.id, type, data);
      },
      progress: (p) => {
        progress = { ...progress, ...p };
        if (running.has(job.id)) store.setProgress(job.id, progress);
      },
      setOutputs: (o) => {
        if (running.has(job.id)) store.setOutputs(job.id, o);
      },
    };
    const done = (async () => {
      let outcome: { ok: true; outputs: Record<string, unknown> } | { ok: false; error: unknown };
      try {
        // Deferred, so that submit() returns before the compute's synchronous part runs.
        await Promise.resolve();
        const outputs = await execute(context);
        outcome = { ok: true, outputs: outputs ?? {} };
      } catch (error) {
        outcome = { ok: false, error };
      }
      try {
        finish(started, controller, outcome);
      } catch (error) {
        onError(started, error);
      } finally {
        running.delete(job.id);
        settleIdle();
        pump();
      }
    })();
    running.set(job.id, { controller, done });
  }

  function pump(): void {
    while (state === 'RUNNING' && running.size < concurrency) {
      const next = store.inState<Spec>(kind, 'QUEUED', 1)[0];
      if (!next) return;
      launch(next, false);
    }
  }

  return {
    kind,
    get state() {
      return state;
    },
    get active() {
      return running.size;
    },

    start() {
      if (state !== 'INITIALIZED') return;
      state = 'RUNNING';
      for (const job of store.inState<Spec>(kind, 'RUNNING')) {
        if (job.cancelRequested) {
          store.transition(job.id, 'CANCELLED', { message: 'cancelled on request while the server was down' });
          continue;
        }
        // Resumed jobs take their slots first, even past `concurrency`: they were admitted before.
        launch(job, true);
      }
      pump();
    },

    submit(input) {
      if (state === 'DRAINING' || state === 'STOPPED') throw new JobError('unavailable', 'the server is shutting down and takes no new jobs');
      const result = store.create<Spec>({
        kind,
        spec: input.spec,
        requestId: input.requestId,
        ...(input.id ? { id: input.id } : {}),
        ...(input.owner !== undefined ? { owner: input.owner } : {}),
        admit: (counts, ownerQueued) => {
          input.admitOwner?.(ownerQueued);
          const free = state === 'RUNNING' && counts.RUNNING < concurrency;
          if (!free && counts.QUEUED >= queueLimit) {
            throw new JobError(
              'resource-exhausted',
              `the job queue is full (${counts.RUNNING} running, ${counts.QUEUED} waiting, limit ${queueLimit}); retry later`,
            );
          }
        },
      });
      if (result.created) pump();
      return { job: store.get<Spec>(result.job.id), created: result.created };
    },

    cancel(id) {
      const job = store.get<Spec>(id, kind);
      switch (job.state) {
        case 'QUEUED':
          return store.transition(id, 'CANCELLED', { message: 'cancelled before it started' }) as JobRecord<Spec>;
        case 'RUNNING': {
          const marked = store.markCancelRequested(id) as JobRecord<Spec>;
          running.get(id)?.controller.abort(new CancelReason(id));
          return marked;
        }
        case 'CANCELLED':
          return job;
        default:
          throw new JobError('failed-precondition', `job_id: job ${id} already ${job.state}; only QUEUED or RUNNING jobs can be cancelled`, { field: 'job_id' });
      }
    },

    async shutdown(shutdownOptions = {}) {
      if (state === 'STOPPED') return;
      state = 'DRAINING';
      const graceMs = shutdownOptions.graceMs ?? 30_000;
      for (const r of running.values()) r.controller.abort(new ShutdownReason());
      const all = Promise.allSettled([...running.values()].map((r) => r.done));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
      state = 'STOPPED';
    },

    idle() {
      if (running.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
  };
}
