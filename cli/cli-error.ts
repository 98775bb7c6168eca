/**
 * A failure the CLI reports as one readable line and an exit code.
 * Exit codes: 1 = the command ran and failed (or a gate was not met), 2 = bad usage or input,
 * 130 = stopped (Ctrl-C, a cancelled call).
 */
import { Code } from '@connectrpc/connect';
import { toConnectError } from '../libs/rpc/index.js';

export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/**
 * The one table from an error's status to the CLI's exit code. The status is the one the services
 * would answer with (libs/rpc `toConnectError`: by error class and code, also for errors that
 * crossed a worker thread), so `harden train` and `Harden` agree on what is the caller's fault.
 * Bad usage or input (a bad flag value, a missing model or data set, a model that is not one) is 2;
 * failures of the run itself — a store that is unreachable or full, an engine fault — are 1.
 */
const EXIT_CODES: ReadonlyMap<Code, number> = new Map([
  [Code.InvalidArgument, 2],
  [Code.NotFound, 2],
  [Code.FailedPrecondition, 2],
  [Code.AlreadyExists, 2],
  [Code.OutOfRange, 2],
  [Code.PermissionDenied, 2],
  [Code.Unauthenticated, 2],
  [Code.Canceled, 130],
]);

/** The exit code for an error that is not a `CliError` (those carry their own). */
export function exitCodeOf(error: unknown): number {
  return EXIT_CODES.get(toConnectError(error).code) ?? 1;
}
