/**
 * Why a training run could not start or go on.
 *
 * - `invalid-argument`: a bad option (ε ≤ 0, unknown method, batch larger than the data, a guidance
 *   model with another class count…), rejected before any work starts; `field` names the option.
 * - `aborted`: the caller's `AbortSignal` fired (checked between batches); `cause` is its reason.
 *   The last completed epoch's checkpoint is intact, so the run can be resumed.
 * - `not-found`: a checkpoint (or one of its files) to resume from is missing.
 * - `corrupt`: a checkpoint exists but cannot be used (bad JSON, sha256 mismatch, shapes that do not
 *   match the models).
 * - `io`: the artifact store failed; `cause` has the original error.
 */
export type TrainingErrorCode = 'invalid-argument' | 'aborted' | 'not-found' | 'corrupt' | 'io' | 'out-of-memory';

/** A typed training failure: `code` is stable, `field` names the bad option, `cause` keeps the original. */
export class TrainingError extends Error {
  readonly code: TrainingErrorCode;
  readonly field: string | undefined;
  constructor(code: TrainingErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrainingError';
    this.code = code;
    this.field = options?.field;
  }

  /** True when `err` is a `TrainingError`, optionally with one of `codes`. */
  static is(err: unknown, ...codes: TrainingErrorCode[]): err is TrainingError {
    return err instanceof TrainingError && (codes.length === 0 || codes.includes(err.code));
  }
}

/** An `invalid-argument` error whose message starts with the field's name. */
export function invalidArgument(field: string, message: string): TrainingError {
  return new TrainingError('invalid-argument', `${field}: ${message}`, { field });
}

/** True for the ways a wasm engine reports running out of its (32-bit, 4 GiB) memory. */
export function isWasmOutOfMemory(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /memory access out of bounds|Maximum memory size exceeded|Cannot enlarge memory|Aborted\(OOM\)|out of memory/i.test(message);
}
