import type { tfl } from '../engine/index.js';
import type { LayerBuilder } from './layer-builder.js';

/** Arch-specific options: flat, JSON-safe values (they are recorded in model.json's metadata). */
export type ArchOptions = Record<string, number | boolean>;

/** Input image shape [height, width, channels], channels last. */
export type InputShape = readonly [number, number, number];

/** One architecture in the registry: its options with defaults, their checks, and the graph. */
export interface ArchDefinition<O extends ArchOptions = ArchOptions> {
  /** One line, for `--help` and docs. */
  readonly summary: string;
  /** Every option the arch accepts, with its default; other keys are rejected. */
  readonly defaults: O;
  /** A problem with the (defaults-merged) options or the input shape, or `undefined` when fine. */
  validate(options: O, inputShape: InputShape): string | undefined;
  /** Builds the graph from `input` to the logits (no softmax). */
  build(b: LayerBuilder, input: tfl.SymbolicTensor, numClasses: number, options: O): tfl.SymbolicTensor;
}

/** Checks that `value` is an integer in [min, max]; returns a problem message or `undefined`. */
export function checkInt(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): string | undefined {
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `${name} must be an integer in [${min}, ${max}], got ${value}`;
}

/** Checks that `value` is a dropout rate in [0, 1). */
export function checkRate(name: string, value: number): string | undefined {
  return Number.isFinite(value) && value >= 0 && value < 1 ? undefined : `${name} must be in [0, 1), got ${value}`;
}
