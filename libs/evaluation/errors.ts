export type EvaluationErrorCode = 'invalid-argument' | 'not-found' | 'bad-report';

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
