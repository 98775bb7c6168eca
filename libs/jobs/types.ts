/**
 * Job records and their events, as libs/jobs stores them (the RPC layer maps them to its messages).
 *
 * States (ARCHITECTURE.md, "Jobs"):
 *
 * ```
 * QUEUED ──▶ RUNNING ──▶ SUCCEEDED | FAILED | CANCELLED
 *    └──────────────────────────────────▲  (cancelled before it started)
 * ```
 *
 * - `QUEUED`: accepted, waiting for a runner slot.
 * - `RUNNING`: a runner computes it. A job still RUNNING when its process stops (crash, kill,
 *   shutdown) stays RUNNING in the store; the next runner of its kind resumes it from its latest
 *   checkpoint.
 * - `SUCCEEDED` / `FAILED` / `CANCELLED`: final; nothing changes a final job.
 */
export const JOB_STATES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const FINAL_STATES: readonly JobState[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** Whether nothing can happen to a job in `state` any more. */
export function isFinal(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}

/** The transitions the store allows. */
export const TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  QUEUED: ['RUNNING', 'CANCELLED'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'CANCELLED'],
  SUCCEEDED: [],
  FAILED: [],
  CANCELLED: [],
};

/** The latest progress a job reported (all optional; the runner's compute fills what it knows). */
export interface JobProgress {
  epoch?: number;
  epochs?: number;
  batch?: number;
  batches?: number;
  /** Overall fraction done, in [0, 1]. */
  fraction?: number;
  imagesPerSecond?: number;
  etaSeconds?: number;
  phase?: string;
}

export interface JobRecord<Spec = unknown, Outputs extends object = Record<string, unknown>> {
  id: string;
  /** The kind of job (`harden`, `evaluate`): each runner serves one kind. */
  kind: string;
  /** The client's idempotency key, unique per kind, or null. */
  requestId: string | null;
  state: JobState;
  /** What to compute, as submitted (JSON). */
  spec: Spec;
  /** What the job produced so far (model URI, report id, …), merged as the job goes (JSON). */
  outputs: Partial<Outputs>;
  progress: JobProgress;
  /** Why it FAILED. */
  error: { code: string; message: string } | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
  /** Last change of any kind (state, progress, outputs, an event). */
  updatedAt: Date;
  /** Sequence number of the latest event (0 before the first). */
  lastSequence: number;
  /** A cancel was requested while it was RUNNING; it becomes CANCELLED when its compute stops. */
  cancelRequested: boolean;
  /** How many times a runner started it (> 1 after restarts). */
  attempts: number;
}

/** One progress event. Sequence numbers are contiguous per job, from 1. */
export interface JobEvent {
  jobId: string;
  sequence: number;
  time: Date;
  /** `state` (data: `{ state, message? }`) is written by the store; the rest by the job's compute. */
  type: string;
  data: Record<string, unknown>;
}

/** A job kind whose compute runs in worker pods (`harden worker`), served by the owning service's JobWorkerService. */
export interface WorkerKind {
  kind: string;
  /** Event types its workers may append (what the in-process compute emits). */
  events: ReadonlySet<string>;
  /** The phase a starting worker puts in the job's events (`training`, `evaluating`). */
  phase: string;
  /** Sharded kinds: the job's shard count (each pod computes one shard). */
  shards?: (job: JobRecord) => number;
}
