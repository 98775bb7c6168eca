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

/** What a model takes and gives, as far as its model.json says without building it. */
export interface ModelSignature {
  /** [height, width, channels]; undefined when the topology does not say. */
  inputShape?: [number, number, number];
  /** Logits per example; undefined when the output layer does not say (not a Dense). */
  numClasses?: number;
}

type LayerJson = { class_name?: string; name?: string; config?: Record<string, unknown>; inbound_nodes?: unknown[] };

/**
 * Reads a model's input shape and class count from model.json text: our metadata when it has it,
 * else the topology (the input layer's `batch_input_shape`; the output layer's `units`, looking
 * through activation-like layers after the last Dense). For checks before a job is queued.
 */
export function modelSignature(modelJson: string): ModelSignature {
  let json: { modelTopology?: { class_name?: string; config?: unknown; model_config?: { class_name?: string; config?: unknown } }; userDefinedMetadata?: Record<string, unknown> };
  try {
    json = JSON.parse(modelJson) as typeof json;
  } catch {
    return {};
  }
  const info = json.userDefinedMetadata?.[MODEL_INFO_KEY];
  if (isModelInfo(info)) return { inputShape: copyShape(info.inputShape), numClasses: info.numClasses };
  const topology = json.modelTopology?.model_config ?? json.modelTopology;
  const config = topology?.config as { layers?: LayerJson[]; output_layers?: unknown[][] } | LayerJson[] | undefined;
  const layers = (Array.isArray(config) ? config : config?.layers) ?? [];
  if (layers.length === 0) return {};
  const byName = new Map(layers.map((l) => [l.name ?? l.config?.name, l] as const));
  const shapeOf = (l: LayerJson | undefined) => {
    const s = (l?.config?.batch_input_shape ?? l?.config?.batchInputShape) as (number | null)[] | undefined;
    return Array.isArray(s) && s.length === 4 && s.slice(1).every((d) => Number.isInteger(d) && (d as number) > 0) ? (s.slice(1) as [number, number, number]) : undefined;
  };
  const inputShape = shapeOf(layers.find((l) => l.class_name === 'InputLayer')) ?? shapeOf(layers[0]);
  const outputs = Array.isArray(config) ? undefined : config?.output_layers;
  let out: LayerJson | undefined = outputs?.length === 1 ? byName.get(String(outputs[0]![0])) : layers.at(-1);
  let numClasses: number | undefined;
  for (let hop = 0; out && hop < 4; hop++) {
    const units = out.config?.units;
    if (Number.isInteger(units)) {
      numClasses = units as number;
      break;
    }
    if (!['Activation', 'Softmax', 'Dropout', 'HardenDropout', 'Identity'].includes(out.class_name ?? '')) break;
    const inbound = out.inbound_nodes?.[0] as unknown[][] | undefined;
    // Functional: the layer feeding it; Sequential (no output_layers): the one before it.
    out = outputs === undefined ? layers[layers.indexOf(out) - 1] : inbound?.length === 1 ? byName.get(String(inbound[0]![0])) : undefined;
  }
  return { ...(inputShape ? { inputShape } : {}), ...(numClasses !== undefined ? { numClasses } : {}) };
}
