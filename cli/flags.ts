/** Parsing of numeric command-line flags with one readable error naming the flag. */
import { CliError } from './cli-error.js';

export function parseNumber(flag: string, text: string | undefined, check: (v: number) => boolean, what: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !check(v)) throw new CliError(`${flag} must be ${what}; got "${text}"`);
  return v;
}
export const positive = (flag: string, text: string | undefined) => parseNumber(flag, text, (v) => v > 0, 'a number > 0');
export const nonNegative = (flag: string, text: string | undefined) => parseNumber(flag, text, (v) => v >= 0, 'a number ≥ 0');
export const positiveInt = (flag: string, text: string | undefined) =>
  parseNumber(flag, text, (v) => Number.isInteger(v) && v >= 1, 'an integer ≥ 1');
export const nonNegativeInt = (flag: string, text: string | undefined) =>
  parseNumber(flag, text, (v) => Number.isInteger(v) && v >= 0, 'an integer ≥ 0');
