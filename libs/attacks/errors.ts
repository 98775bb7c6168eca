/**
 * Why an attack could not run.
 *
 * - `invalid-argument`: a bad option or input (eps, steps, shapes, labels, inputs outside the model's
 *   bounds); `field` names the offending option.
 * - `unsupported`: a valid request this attack does not handle (an L2 run of an L∞-only attack, a
 *   targeted criterion for an untargeted-only attack, too few classes for the DLR loss).
 * - `aborted`: the caller's `AbortSignal` fired; `cause` holds the signal's reason.
 */
export type AttackErrorCode = 'invalid-argument' | 'unsupported' | 'aborted';

/** A typed attack failure: `code` is stable, `field` names the bad option, `cause` keeps the original. */
export class AttackError extends Error {
  readonly code: AttackErrorCode;
  readonly field: string | undefined;
  constructor(code: AttackErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AttackError';
    this.code = code;
    this.field = options?.field;
  }

  /** True when `err` is an `AttackError`, optionally with one of `codes`. */
  static is(err: unknown, ...codes: AttackErrorCode[]): err is AttackError {
    return err instanceof AttackError && (codes.length === 0 || codes.includes(err.code));
  }
}

/** Throws `aborted` when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new AttackError('aborted', 'attack aborted', { cause: signal.reason });
  }
}
