/** Output helpers: human text and progress on stderr, the `--json` summary as the last stdout line. */

/** Writes one JSON object as the last line of stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Human-readable lines on stdout (when not in --json mode). */
export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Progress and diagnostics on stderr, so stdout stays machine-readable. */
export function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Formats rows as an aligned text table. */
export function table(headers: string[], rows: Array<Array<string | number>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
