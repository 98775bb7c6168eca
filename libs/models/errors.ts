/**
 * Why a model operation failed.
 *
 * - `unknown-arch`: the architecture name is not in the registry.
 * - `invalid-options`: an argument is invalid: a model config (shape, class count, seed, arch option),
 *   a model folder that is not a valid store key, or `shardBytes`.
 * - `not-found`: a model file (model.json or a weights file) is missing from the store.
 * - `corrupt`: a model file exists but cannot be used (bad JSON, wrong sizes, topology tfjs rejects).
 * - `io`: the store failed for another reason; `cause` has the `StorageError`.
 * - `unsupported`: a valid model this code cannot take: an ONNX operator (or an attribute of one)
 *   the importer does not convert, or a layer the ONNX exporter does not write. The message names
 *   the operator, the node and the opset (or the layer).
 */
export type ModelErrorCode = 'unknown-arch' | 'invalid-options' | 'not-found' | 'corrupt' | 'io' | 'unsupported';

/** A typed model failure: `code` is stable, `message` names the arch or the store key, `cause` keeps the original. */
export class ModelError extends Error {
  readonly code: ModelErrorCode;
  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelError';
    this.code = code;
  }

  /** True when `err` is a `ModelError`, optionally with one of `codes`. */
  static is(err: unknown, ...codes: ModelErrorCode[]): err is ModelError {
    return err instanceof ModelError && (codes.length === 0 || codes.includes(err.code));
  }
}
