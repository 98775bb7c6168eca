/**
 * What a model is, recorded in model.json's `userDefinedMetadata.harden` so a loaded model knows its
 * architecture, options, input shape, class count and init seed (enough to rebuild it from scratch).
 */
import type { tfl } from '../engine/index.js';
import type { ArchOptions, InputShape } from './arch.js';

/** Bumped when the metadata layout changes incompatibly. */
export const MODEL_INFO_VERSION = 1;

/** The key under `userDefinedMetadata` that holds the `ModelInfo`. */
export const MODEL_INFO_KEY = 'harden';

export interface ModelInfo {
  version: typeof MODEL_INFO_VERSION;
  /** Registry name (`small-cnn`, `preact-resnet18`, …). */
  arch: string;
  /** Every arch option, defaults filled in. */
  archOptions: ArchOptions;
  /** [height, width, channels], channels last. */
  inputShape: [number, number, number];
  numClasses: number;
  /** The seed the weights were initialised from. */
  seed: number;
}

/** Attaches `info` to the model (it travels in model.json on save). */
export function setModelInfo(model: tfl.LayersModel, info: ModelInfo): void {
  const others = (model.getUserDefinedMetadata() ?? {}) as Record<string, unknown>;
  model.setUserDefinedMetadata({ ...others, [MODEL_INFO_KEY]: info });
}

/**
 * The model's `ModelInfo`: from its metadata when it was built by `buildModel` (or loaded from a
 * model it saved); `undefined` for models from elsewhere.
 */
export function getModelInfo(model: tfl.LayersModel): ModelInfo | undefined {
  const meta = model.getUserDefinedMetadata() as Record<string, unknown> | undefined;
  const info = meta?.[MODEL_INFO_KEY];
  return isModelInfo(info) ? structuredClone(info) : undefined;
}

export function isModelInfo(value: unknown): value is ModelInfo {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<ModelInfo>;
  return (
    v.version === MODEL_INFO_VERSION &&
    typeof v.arch === 'string' &&
    typeof v.archOptions === 'object' &&
    v.archOptions !== null &&
    Array.isArray(v.inputShape) &&
    v.inputShape.length === 3 &&
    v.inputShape.every((d) => Number.isInteger(d) && d > 0) &&
    Number.isInteger(v.numClasses) &&
    Number.isInteger(v.seed)
  );
}

/** `[h, w, c]` as a mutable tuple copy. */
export function copyShape(shape: InputShape): [number, number, number] {
  return [shape[0], shape[1], shape[2]];
}
