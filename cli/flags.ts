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

/** What every command's `--dataset` takes, for its "required" message. */
export const DATASET_CHOICES = 'mnist, fashion-mnist[:DIR], idx:DIR, cifar10:DIR, cifar100:DIR, tiny-imagenet:DIR, folder:DIR; DIR may be a store URI';

/**
 * `--dataset` with `--size HxW` folded in: an image folder's images resized to H×W, written into the
 * spec as `?size=HxW` (how the services and the job records carry it). Only `folder:` data sets
 * resize; one size, given once.
 */
export function datasetWithSize(dataset: string | undefined, size: string | undefined): string | undefined {
  if (size === undefined || dataset === undefined) return dataset;
  const m = /^(\d+)x(\d+)$/.exec(size.trim());
  if (!m || [m[1], m[2]].some((d) => Number(d) < 1 || Number(d) > 4096)) throw new CliError(`--size must be HxW, height and width in 1-4096 pixels (e.g. 64x64); got "${size}"`);
  if (!dataset.startsWith('folder:')) throw new CliError(`--size resizes image folders only (--dataset folder:DIR); --dataset ${dataset} has a fixed image size`);
  if (/\?size=/.test(dataset)) throw new CliError(`--size ${size}: --dataset ${dataset} already gives ?size=; give the size once`);
  return `${dataset}?size=${Number(m[1])}x${Number(m[2])}`;
}
