/**
 * Why reading or preparing data failed.
 *
 * - `invalid-spec`: a dataset spec string (`cifar10:DIR`, …) that does not parse.
 * - `invalid-argument`: a bad option (limit, batch size, seed, shapes that do not agree).
 * - `not-found`: a file or folder the format needs is missing.
 * - `bad-format`: a file exists but is not in the expected format (wrong magic, size, label range).
 * - `io`: the file system failed for another reason (permissions, I/O error); see `cause`.
 */
export type DataErrorCode = 'invalid-spec' | 'invalid-argument' | 'not-found' | 'bad-format' | 'io';

/**
 * A typed data failure: `code` is stable, `message` names the file and the expected format,
 * `file` is the offending path when there is one, `cause` keeps the original error.
 */
export class DataError extends Error {
  readonly code: DataErrorCode;
  readonly file: string | undefined;
  constructor(code: DataErrorCode, message: string, options?: { cause?: unknown; file?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DataError';
    this.code = code;
    this.file = options?.file;
  }
}
