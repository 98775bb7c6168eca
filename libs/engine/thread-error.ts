/**
 * The one way an error crosses a thread boundary (a `WorkerPool` task, a `runWorkerTask` job): the
 * thrown error becomes an `ErrorShape` (its class name, `code`, `field` and message — never its
 * stack or cause, which may hold paths), and the caller's side rethrows it as a `RemoteError` with
 * the same `name`, `code` and `field`. So a typed domain error (`AttackError` `invalid-argument`,
 * `ModelError` `not-found`, …) keeps its meaning: libs/rpc maps it to the same status it would get
 * had it been thrown on the calling thread, and the CLI to the same exit code.
 */

/** A thrown error as plain, structured-cloneable data. */
export interface ErrorShape {
  name: string;
  message: string;
  code?: string;
  field?: string;
}

/** What crosses the thread: `error`'s class name, string `code` and `field`, and message. */
export function toErrorShape(error: unknown): ErrorShape {
  const e = error as { name?: unknown; message?: unknown; code?: unknown; field?: unknown } | null | undefined;
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
    ...(typeof e?.field === 'string' ? { field: e.field } : {}),
  };
}

/** An error thrown on another thread, rebuilt on this one: `name` is the original class name. */
export class RemoteError extends Error {
  readonly code: string | undefined;
  readonly field: string | undefined;
  readonly remote = true;
  constructor(name: string, message: string, code?: string, field?: string) {
    super(message);
    this.name = name;
    this.code = code;
    this.field = field;
  }

  static from(shape: ErrorShape): RemoteError {
    return new RemoteError(shape.name, shape.message, shape.code, shape.field);
  }
}
