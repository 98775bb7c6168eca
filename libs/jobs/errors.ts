/**
 * Why a job operation was refused.
 *
 * - `invalid-argument`: a malformed id, page token or option; `field` names it.
 * - `not-found`: no job with that id (of that kind).
 * - `resource-exhausted`: the queue is full (`queueLimit` jobs already wait for a slot).
 * - `conflict`: a `request_id` was reused for a different request.
 * - `failed-precondition`: the job's state does not allow it (cancelling a job that SUCCEEDED,
 *   an illegal state transition).
 * - `unavailable`: the runner is shutting down and takes no new jobs.
 */
export type JobErrorCode = 'invalid-argument' | 'not-found' | 'resource-exhausted' | 'conflict' | 'failed-precondition' | 'unavailable';

/** A typed job failure: `code` is stable, `field` names the offending input, `cause` keeps the original. */
export class JobError extends Error {
  readonly code: JobErrorCode;
  readonly field: string | undefined;
  constructor(code: JobErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JobError';
    this.code = code;
    this.field = options?.field;
  }

  /** True when `err` is a `JobError`, optionally with one of `codes`. */
  static is(err: unknown, ...codes: JobErrorCode[]): err is JobError {
    return err instanceof JobError && (codes.length === 0 || codes.includes(err.code));
  }
}

/**
 * What a job's compute throws to fail the job with a message meant for its owner (shown in
 * `Job.error`): `code` is a stable lower-case word (`invalid-argument`, `not-found`, `collapsed`, …).
 */
export class JobFailure extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'JobFailure';
    this.code = code;
  }
}
