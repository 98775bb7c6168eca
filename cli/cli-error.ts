/**
 * A failure the CLI reports as one readable line and an exit code.
 * Exit codes: 1 = the command ran and failed (or a gate was not met), 2 = bad usage or input.
 */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
