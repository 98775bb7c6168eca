/**
 * Errors at the RPC boundary. `toConnectError` is the one function that turns anything a handler
 * throws into what a client sees: typed domain errors (libs/jobs, libs/training, libs/attacks,
 * libs/evaluation, libs/models, libs/data, libs/storage, libs/engine — also when they crossed a
 * worker thread as a `RemoteError`) map to a Connect `Code` by their class name and `code`;
 * everything else is INTERNAL with a fixed message. Storage and engine failures never show their
 * messages (paths, buckets, credentials) and no stack trace ever leaves the server: the original
 * error stays as `cause`, for the logs.
 *
 * `RequestError` is what the services throw when they validate a request before any work starts;
 * an INVALID_ARGUMENT message always starts with the request field it is about (`eps: …`).
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { codeName } from '../telemetry/index.js';

export type RequestErrorCode =
  | 'invalid-argument'
  | 'not-found'
  | 'permission-denied'
  | 'failed-precondition'
  | 'resource-exhausted'
  | 'unavailable'
  | 'deadline-exceeded';

/** A bad request, found before any work started. `field` is the request field (proto name). */
export class RequestError extends Error {
  readonly code: RequestErrorCode;
  readonly field: string | undefined;
  constructor(code: RequestErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RequestError';
    this.code = code;
    this.field = options?.field;
  }
}

/** INVALID_ARGUMENT for `field`, the message prefixed with the field's name. */
export function invalidField(field: string, message: string): RequestError {
  return new RequestError('invalid-argument', `${field}: ${message}`, { field });
}

/** How one (error class, code) pair reaches clients: its Code, and whether its message may be shown. */
interface Mapping {
  code: Code;
  /** Show the error's own message (domain errors about the request); otherwise `message` below. */
  showMessage: boolean;
  /** The fixed message when the error's own is not shown. */
  message?: string;
  /**
   * Derives a safe message from the error's own (which is never shown): a sentence chosen from a
   * fixed set, naming at most a checkpoint folder inside the store (`epoch-0003`). Wins over `message`.
   */
  describe?: (message: string) => string;
}

/** Why the store failed, from the error's text (which crossed a thread as text): one fixed sentence. */
export function storeFailureReason(message: string): string {
  if (/ENOSPC|no space left|EDQUOT|quota|EntityTooLarge/i.test(message)) return 'the artifact store is full';
  if (/EROFS|read-only/i.test(message)) return 'the artifact store is read-only';
  if (/InvalidAccessKeyId|SignatureDoesNotMatch|bad-credentials|credentials/i.test(message)) return 'the artifact store rejected its credentials';
  if (/NoSuchBucket|bucket-not-found|bucket does not exist/i.test(message)) return "the artifact store's bucket does not exist";
  if (/EACCES|EPERM|AccessDenied|access-denied|permission denied/i.test(message)) return 'the artifact store refused access (permissions)';
  return 'the artifact store failed; retry later';
}

/** The checkpoint folder a message names (`epoch-0003`), if any. */
function checkpointOf(message: string): string | undefined {
  return /\b(epoch-\d{4,})\b/.exec(message)?.[1];
}

function damagedCheckpoint(message: string): string {
  const name = checkpointOf(message);
  if (!name) return 'a checkpoint to resume from is damaged or does not fit the models';
  if (/does not match|digest|sha256/i.test(message)) return `checkpoint ${name} does not match its manifest`;
  if (/does not fit|buffers|values; expected/i.test(message)) return `checkpoint ${name} does not fit the models being trained`;
  return `checkpoint ${name} is damaged`;
}

function missingCheckpoint(message: string): string {
  const name = checkpointOf(message);
  return name ? `checkpoint ${name} is incomplete: one of its files is missing` : 'a checkpoint to resume from is missing';
}

const INTERNAL: Mapping = { code: Code.Internal, showMessage: false, message: 'internal error' };
const STORE_FAILED: Mapping = { code: Code.Unavailable, showMessage: false, message: 'the artifact store failed; retry later', describe: storeFailureReason };
const shown = (code: Code): Mapping => ({ code, showMessage: true });

/** Error class name → its `code` → mapping. `*` is the class's fallback. */
const TABLE: Readonly<Record<string, Readonly<Record<string, Mapping>>>> = {
  RequestError: {
    'invalid-argument': shown(Code.InvalidArgument),
    'not-found': shown(Code.NotFound),
    'permission-denied': shown(Code.PermissionDenied),
    'failed-precondition': shown(Code.FailedPrecondition),
    'resource-exhausted': shown(Code.ResourceExhausted),
    unavailable: shown(Code.Unavailable),
    'deadline-exceeded': shown(Code.DeadlineExceeded),
  },
  JobError: {
    'invalid-argument': shown(Code.InvalidArgument),
    'not-found': shown(Code.NotFound),
    'resource-exhausted': shown(Code.ResourceExhausted),
    conflict: shown(Code.AlreadyExists),
    'failed-precondition': shown(Code.FailedPrecondition),
    unavailable: shown(Code.Unavailable),
  },
  TrainingError: {
    'invalid-argument': shown(Code.InvalidArgument),
    'out-of-memory': shown(Code.ResourceExhausted),
    'not-found': { code: Code.NotFound, showMessage: false, describe: missingCheckpoint },
    corrupt: { code: Code.FailedPrecondition, showMessage: false, describe: damagedCheckpoint },
    aborted: { code: Code.Canceled, showMessage: false, message: 'training was stopped' },
    io: STORE_FAILED,
    '*': INTERNAL,
  },
  AttackError: {
    'invalid-argument': shown(Code.InvalidArgument),
    unsupported: shown(Code.InvalidArgument),
    aborted: { code: Code.Canceled, showMessage: false, message: 'the attack was stopped' },
  },
  EvaluationError: {
    'invalid-argument': shown(Code.InvalidArgument),
    'not-found': shown(Code.NotFound),
    'bad-shard': shown(Code.FailedPrecondition),
    '*': INTERNAL,
  },
  ModelError: {
    'unknown-arch': shown(Code.InvalidArgument),
    'invalid-options': shown(Code.InvalidArgument),
    'not-found': { code: Code.NotFound, showMessage: false, message: 'model not found: no model.json (or a weights file) at the given URI' },
    corrupt: { code: Code.FailedPrecondition, showMessage: false, message: 'the model at the given URI is not a valid model (a tfjs layers folder or an ONNX file)' },
    unsupported: shown(Code.InvalidArgument),
    '*': STORE_FAILED,
  },
  DataError: {
    'invalid-spec': shown(Code.InvalidArgument),
    'invalid-argument': shown(Code.InvalidArgument),
    'not-found': { code: Code.NotFound, showMessage: false, message: 'data set not found: its files are missing on the server' },
    'bad-format': { code: Code.FailedPrecondition, showMessage: false, message: 'the data set files are not in the expected format' },
    '*': INTERNAL,
  },
  StorageError: {
    'invalid-uri': shown(Code.InvalidArgument),
    'unsupported-scheme': shown(Code.InvalidArgument),
    'invalid-key': shown(Code.InvalidArgument),
    'not-found': { code: Code.NotFound, showMessage: false, message: 'not found in the artifact store' },
    'bad-credentials': { code: Code.Unavailable, showMessage: false, message: 'the artifact store rejected its credentials' },
    'access-denied': { code: Code.Unavailable, showMessage: false, message: 'the artifact store refused access (permissions)' },
    'bucket-not-found': { code: Code.Unavailable, showMessage: false, message: "the artifact store's bucket does not exist" },
    'digest-mismatch': { code: Code.FailedPrecondition, showMessage: false, message: 'an object in the artifact store does not match its manifest' },
    '*': STORE_FAILED,
  },
  EngineError: {
    'invalid-backend': shown(Code.InvalidArgument),
    'invalid-argument': shown(Code.InvalidArgument),
    'backend-unavailable': shown(Code.FailedPrecondition),
    '*': INTERNAL,
  },
  CancelReason: { '*': { code: Code.Canceled, showMessage: false, message: 'cancelled' } },
  ShutdownReason: { '*': { code: Code.Unavailable, showMessage: false, message: 'the server is shutting down; retry later' } },
};

function mappingOf(error: unknown): Mapping {
  if (!(error instanceof Error)) return INTERNAL;
  const byCode = TABLE[error.name];
  if (!byCode) return INTERNAL;
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' ? byCode[code] : undefined) ?? byCode['*'] ?? INTERNAL;
}

/** Whether a message is safe to show: one line, no stack frames, bounded. */
function safeMessage(message: string): string {
  const firstLine = message.split('\n')[0] ?? '';
  return firstLine.length > 500 ? `${firstLine.slice(0, 497)}...` : firstLine;
}

/**
 * The one mapping from whatever a handler threw to the `ConnectError` a client receives. A
 * `ConnectError` passes through (it already speaks the protocol: a deadline, a downstream call's
 * status), except that INTERNAL and UNKNOWN ones lose their message.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) {
    if (error.code === Code.Internal || error.code === Code.Unknown) return new ConnectError('internal error', Code.Internal, undefined, undefined, error);
    return error;
  }
  const mapping = mappingOf(error);
  const own = error instanceof Error ? error.message : '';
  const message = mapping.showMessage ? safeMessage(own) : mapping.describe ? mapping.describe(own) : (mapping.message ?? 'internal error');
  return new ConnectError(message, mapping.code, undefined, undefined, error);
}

/**
 * The `{ code, message }` a FAILED job shows its owner: the same table as `toConnectError`, as a
 * lower-case code (`invalid-argument`, `not-found`, …, `internal`), with the same rules about
 * messages. A `JobFailure` keeps its own code and message.
 */
export function describeFailure(error: unknown): { code: string; message: string } {
  if (error instanceof Error && error.name === 'JobFailure') {
    return { code: String((error as { code?: unknown }).code ?? 'failed'), message: safeMessage(error.message) };
  }
  const c = toConnectError(error);
  return { code: jobErrorCode(c.code), message: c.rawMessage };
}

/** `Code.InvalidArgument` → `invalid-argument`: a job error's code (libs/telemetry `codeName`, in lower case). */
export function jobErrorCode(code: Code): string {
  return codeName(code).toLowerCase().replace(/_/g, '-');
}
