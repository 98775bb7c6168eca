/**
 * What the benchmark scripts share: `--name value` flags over numeric defaults (plus boolean
 * switches such as `--json`), and the median of repeated runs.
 */

/**
 * Parses `argv` into a copy of `defaults`: a boolean key is a switch (`--json`), a number key takes
 * the next argument, which must be > 0 and, unless the key is in `fractional`, an integer.
 * Anything else throws `usage` naming the bad flag.
 */
export function parseFlags<T extends Record<string, number | boolean>>(argv: readonly string[], defaults: T, usage: string, fractional: readonly (keyof T)[] = []): T {
  const opts: Record<string, number | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const key = flag.replace(/^--/, '');
    if (!flag.startsWith('--') || !(key in opts)) throw new Error(`usage: ${usage}; unknown ${flag}`);
    if (typeof opts[key] === 'boolean') {
      opts[key] = true;
      continue;
    }
    const value = Number(argv[++i]);
    if (!(value > 0) || (!fractional.includes(key) && !Number.isInteger(value))) throw new Error(`usage: ${usage}; bad ${flag} ${argv[i] ?? ''}`);
    opts[key] = value;
  }
  return opts as T;
}

/** The median (the upper one for an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}
