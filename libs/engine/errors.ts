/** Why an engine operation failed. */
export type EngineErrorCode = 'invalid-backend' | 'backend-unavailable' | 'worker-failed' | 'invalid-argument';

/** A typed engine failure: `code` is stable, `message` says what to do, `cause` keeps the original. */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EngineError';
    this.code = code;
  }
}
