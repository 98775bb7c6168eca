/**
 * The architecture registry: one table from name to definition, and `buildModel`, which validates a
 * config once (`resolveModelConfig`) and builds a tfjs-layers functional model that outputs logits.
 */
import { tfl } from '../engine/index.js';
import type { ArchDefinition, ArchOptions, InputShape } from './arch.js';
import { ModelError } from './errors.js';
import { createLayerBuilder } from './layer-builder.js';
import { copyShape, MODEL_INFO_VERSION, setModelInfo, type ModelInfo } from './model-info.js';
import { preactResnet18 } from './preact-resnet.js';
import { refCnn } from './ref-cnn.js';
import { resnet18 } from './resnet.js';
import { smallCnn, type SmallCnnOptions } from './small-cnn.js';
import { wideResnet, type WideResnetOptions } from './wide-resnet.js';

export const ARCH_NAMES = ['small-cnn', 'preact-resnet18', 'resnet18', 'wide-resnet', 'ref-cnn'] as const;
export type ArchName = (typeof ARCH_NAMES)[number];

const ARCHS: { readonly [K in ArchName]: ArchDefinition } = {
  'small-cnn': smallCnn as ArchDefinition,
  'preact-resnet18': preactResnet18,
  resnet18,
  'wide-resnet': wideResnet as ArchDefinition,
  'ref-cnn': refCnn,
};

/** Options every architecture takes. */
export interface BaseModelConfig {
  /** Input image [height, width, channels], channels last; values in [0, 1], no normalisation. */
  inputShape: InputShape;
  /** Number of classes (logits per image); at least 2. */
  numClasses: number;
  /**
   * Seed of the weight initialisers, an integer in [0, 2³¹). The same config and seed give
   * bit-identical weights on every backend (tfjs draws initial values in JS).
   * @default a random seed, recorded in the model's `ModelInfo`
   */
  seed?: number;
}

/** A model to build: the arch name, the common options and that arch's own options. */
export type ModelConfig =
  | ({ arch: 'small-cnn' } & BaseModelConfig & SmallCnnOptions)
  | ({ arch: 'preact-resnet18' } & BaseModelConfig)
  | ({ arch: 'resnet18' } & BaseModelConfig)
  | ({ arch: 'wide-resnet' } & BaseModelConfig & WideResnetOptions)
  | ({ arch: 'ref-cnn' } & BaseModelConfig);

/** A config from untyped input (CLI flags, JSON): checked at run time by `resolveModelConfig`. */
export type LooseModelConfig = BaseModelConfig & { arch: string; [option: string]: unknown };

/** True when `name` is a registered architecture. */
export function isArchName(name: string): name is ArchName {
  return (ARCH_NAMES as readonly string[]).includes(name);
}

/** One line per arch, with its options and defaults (for `--help` and docs). */
export function describeArchs(): { arch: ArchName; summary: string; options: ArchOptions }[] {
  return ARCH_NAMES.map((arch) => ({ arch, summary: ARCHS[arch].summary, options: { ...ARCHS[arch].defaults } }));
}

/**
 * Validates a config and fills in every default (seed included): the result is what `buildModel`
 * records in the model's metadata. Throws `ModelError` `unknown-arch` or `invalid-options`.
 */
export function resolveModelConfig(config: ModelConfig | LooseModelConfig): ModelInfo {
  const { arch, inputShape, numClasses, seed, ...rest } = config as LooseModelConfig;
  if (!isArchName(arch)) {
    throw new ModelError('unknown-arch', `unknown architecture "${arch}"; expected one of ${ARCH_NAMES.join(', ')}`);
  }
  const def = ARCHS[arch];
  const invalid = (why: string) => new ModelError('invalid-options', `invalid ${arch} config: ${why}`);
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw invalid(`inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 2) throw invalid(`numClasses must be an integer ≥ 2, got ${numClasses}`);
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 31)) {
    throw invalid(`seed must be an integer in [0, 2^31), got ${seed}`);
  }
  const options: ArchOptions = { ...def.defaults };
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    if (!(key in def.defaults)) {
      const known = Object.keys(def.defaults);
      throw invalid(`unknown option "${key}" (${known.length ? `options: ${known.join(', ')}` : 'it takes no options'})`);
    }
    if (typeof value !== typeof def.defaults[key]) throw invalid(`option ${key} must be a ${typeof def.defaults[key]}, got ${JSON.stringify(value)}`);
    options[key] = value as number | boolean;
  }
  const problem = def.validate(options, inputShape);
  if (problem) throw invalid(problem);
  return {
    version: MODEL_INFO_VERSION,
    arch,
    archOptions: options,
    inputShape: copyShape(inputShape),
    numClasses,
    seed: seed ?? Math.floor(Math.random() * 2 ** 31),
  };
}

/**
 * Builds a model by architecture name: a tfjs-layers functional model from an input of shape
 * `[batch, ...inputShape]` to logits `[batch, numClasses]` (no softmax), with stable, unique layer
 * names and seeded initial weights. Its `ModelInfo` (see `getModelInfo`) is attached as metadata.
 *
 * Run it with `model.apply(x, { training })`: `training: true` uses batch statistics in BatchNorm,
 * updates its moving mean/variance and enables dropout; `false` (and `predict`) is inference mode.
 *
 * Takes a typed `ModelConfig`, or a `ModelInfo` (from `resolveModelConfig` or `getModelInfo`, which
 * rebuilds the same initial weights). Throws `ModelError` `unknown-arch` or `invalid-options`.
 *
 * @example buildModel({ arch: 'wide-resnet', depth: 28, widenFactor: 10, inputShape: [32, 32, 3], numClasses: 10, seed: 1 })
 */
export function buildModel(config: ModelConfig): tfl.LayersModel;
export function buildModel(info: ModelInfo): tfl.LayersModel;
export function buildModel(config: ModelConfig | ModelInfo): tfl.LayersModel {
  const info = resolveModelConfig('archOptions' in config ? modelConfigFromInfo(config) : config);
  const builder = createLayerBuilder(info.seed);
  const input = tfl.input({ shape: info.inputShape, name: 'input' });
  const logits = ARCHS[info.arch as ArchName].build(builder, input, info.numClasses, info.archOptions);
  const model = tfl.model({ inputs: input, outputs: logits, name: info.arch.replace(/-/g, '_') });
  setModelInfo(model, info);
  return model;
}

/** The config that `info` was resolved from (defaults spelled out): `buildModel` of it rebuilds the initial weights. */
export function modelConfigFromInfo(info: ModelInfo): LooseModelConfig {
  return { ...info.archOptions, arch: info.arch, inputShape: copyShape(info.inputShape), numClasses: info.numClasses, seed: info.seed };
}
