/** `bad-shard`: evaluation shards that cannot be merged (missing, repeated, or of another model or setting). */
export type EvaluationErrorCode = 'invalid-argument' | 'not-found' | 'bad-report' | 'bad-shard';

/** A typed evaluation failure; `field` names the offending input where there is one. */
export class EvaluationError extends Error {
  readonly code: EvaluationErrorCode;
  readonly field?: string;
  constructor(code: EvaluationErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options);
    this.name = 'EvaluationError';
    this.code = code;
    if (options?.field) this.field = options.field;
  }
}
